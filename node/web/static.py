"""``static`` paths: files from a directory, served by Twisted's ``File``.

``File.getChild`` sends each URL segment through ``FilePath.child``, whose
``InsecurePath`` (``..``, absolute segments) becomes a 404: a request never reaches a
file outside the directory.
"""
from __future__ import annotations

from typing import Any, Optional

from twisted.web import resource, static

from node.config.model import StaticPath


class StaticFiles(static.File):
    """``File`` with Crossbar's options: directory listing switch, MIME types, caching."""

    listing = False
    cache_timeout: Optional[int] = None

    def directoryListing(self) -> Any:
        if self.listing:
            return super().directoryListing()
        return resource.NoResource("Directory listing is disabled.")

    def createSimilarFile(self, path: str) -> "StaticFiles":
        similar = super().createSimilarFile(path)
        similar.listing = self.listing
        similar.cache_timeout = self.cache_timeout
        similar.contentTypes = self.contentTypes
        return similar

    def render_GET(self, request: Any) -> Any:
        if self.cache_timeout is not None:
            request.setHeader(b"Cache-Control", b"max-age=%d" % self.cache_timeout)
        return super().render_GET(request)

    render_HEAD = render_GET


def static_resource(config: StaticPath) -> StaticFiles:
    files = StaticFiles(config.directory)
    files.listing = config.enable_directory_listing
    files.cache_timeout = config.cache_timeout
    files.contentTypes = dict(files.contentTypes, **config.mime_types)
    return files
