"""``static`` paths: files from a directory, served by Twisted's ``File``.

``File.getChild`` sends each URL segment through ``FilePath.child``, whose
``InsecurePath`` (``..``, absolute segments) becomes a 404. What Twisted allows
beyond that, and wampnode does not by default:

- symbolic links are followed anywhere (a link to ``/etc/passwd`` served it):
  here a file or directory whose real path lies outside the directory (and the
  ``follow_symlinks_into`` directories) is a 404, as with nginx's
  ``disable_symlinks`` or Apache without ``FollowSymLinks``;
- dotfiles are served (``.git/config``, ``.env``): here a segment starting
  with a dot is a 404 and left out of listings, unless ``allow_dotfiles``;
  ``.well-known`` (RFC 8615: ACME challenges, security.txt) is always served;
- ``Range`` requests may ask for the same bytes any number of times: here
  ranges are merged and counted (:mod:`node.web.ranges`).
"""
from __future__ import annotations

import os
from typing import Any, List, Optional, Tuple

from twisted.web import http, resource, static

from node.config.model import StaticPath
from node.web.ranges import merge_ranges

WELL_KNOWN = ".well-known"


def _hidden(name: str) -> bool:
    return name.startswith(".") and name != WELL_KNOWN


class StaticFiles(static.File):
    """``File`` with Crossbar's options (listing, MIME types, caching) and the checks above."""

    listing = False
    cache_timeout: Optional[int] = None
    allow_dotfiles = False
    link_roots: Tuple[str, ...] = ()  # real paths symbolic links may lead into (the root's first)
    max_ranges = 32

    def directoryListing(self) -> Any:
        if self.listing:
            return super().directoryListing()
        return resource.NoResource("Directory listing is disabled.")

    def listNames(self) -> List[str]:
        names = super().listNames()
        return names if self.allow_dotfiles else [n for n in names if not _hidden(n)]

    def getChild(self, path: Any, request: Any) -> Any:
        name = path.decode("utf-8", "replace") if isinstance(path, bytes) else path
        if not self.allow_dotfiles and _hidden(name):
            return self.childNotFound
        child = super().getChild(path, request)
        if isinstance(child, static.File) and not self._within_roots(child.path):
            return self.childNotFound
        return child

    def _within_roots(self, path: str) -> bool:
        real = os.path.realpath(path)
        return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in self.link_roots)

    def createSimilarFile(self, path: str) -> "StaticFiles":
        similar = super().createSimilarFile(path)
        for name in ("listing", "cache_timeout", "contentTypes", "allow_dotfiles", "link_roots", "max_ranges"):
            setattr(similar, name, getattr(self, name))
        return similar

    def render_GET(self, request: Any) -> Any:
        if self.cache_timeout is not None:
            request.setHeader(b"Cache-Control", b"max-age=%d" % self.cache_timeout)
        return super().render_GET(request)

    render_HEAD = render_GET

    def makeProducer(self, request: Any, fileForReading: Any) -> Any:
        header = request.getHeader(b"range")
        if header is None or self.max_ranges == 0:
            request.requestHeaders.removeHeader(b"range")
            return super().makeProducer(request, fileForReading)
        try:
            parsed = self._parseRangeHeader(header)
        except ValueError:
            return super().makeProducer(request, fileForReading)  # Twisted ignores it: 200
        spans = merge_ranges(self._rangeToOffsetAndSize(start, end) for start, end in parsed)
        if len(spans) > self.max_ranges:
            self._setContentHeaders(request)
            request.setResponseCode(http.OK)
            return static.NoRangeStaticProducer(request, fileForReading)
        if not spans:
            request.setResponseCode(http.REQUESTED_RANGE_NOT_SATISFIABLE)
            request.setHeader(b"content-range", b"bytes */%d" % self.getFileSize())
            request.setHeader(b"content-length", b"0")
            return static.SingleRangeStaticProducer(request, fileForReading, 0, 0)
        if len(spans) == 1:
            offset, size = spans[0]
            request.setResponseCode(http.PARTIAL_CONTENT)
            request.setHeader(b"content-range", self._contentRange(offset, size))
            self._setContentHeaders(request, size)
            return static.SingleRangeStaticProducer(request, fileForReading, offset, size)
        parts = self._doMultipleRangeRequest(request, [(offset, offset + size - 1) for offset, size in spans])
        return static.MultipleRangeStaticProducer(request, fileForReading, parts)


def static_resource(config: StaticPath) -> StaticFiles:
    files = StaticFiles(config.directory)
    files.listing = config.enable_directory_listing
    files.cache_timeout = config.cache_timeout
    files.contentTypes = dict(files.contentTypes, **config.mime_types)
    files.allow_dotfiles = config.allow_dotfiles
    files.link_roots = tuple(os.path.realpath(d) for d in (config.directory,) + config.follow_symlinks_into)
    files.max_ranges = config.max_ranges
    return files
