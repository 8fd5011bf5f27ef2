"""``archive`` path: the files of a ZIP archive (Crossbar.io's web archive service).

- The archive is opened once with the standard library's :mod:`zipfile`; a request
  reads (and decompresses) the one member it names, and with ``cache`` keeps it in
  memory for the next request.
- A URL path maps to ``object_prefix`` + the path below this one; the path itself and
  paths ending in ``/`` get ``default_object``; a member the archive lacks gets
  ``options.default_file`` if set, else 404. Segments ``.`` and ``..``, backslashes
  and names that reach outside the archive's tree are refused (404): a member name
  is looked up, never joined onto a file system path.
- ``Content-Type`` from the extension (``mime_types`` first, longest suffix wins, so
  ``.min.js`` may differ from ``.js``), ``ETag`` from the member's CRC-32 and size,
  ``Last-Modified`` from its time in the archive; ``If-None-Match`` and
  ``If-Modified-Since`` get 304.
- ``download: true`` fetches a missing archive from ``origin`` once, at start-up,
  before the node listens (:mod:`node.web.archive_fetch`).
"""
from __future__ import annotations

import calendar
import mimetypes
import os
import zipfile
from typing import Any, Dict, List, Optional, Tuple

from twisted.web import http, resource

from node.config.model import ArchivePath
from node.errors import ConfigError, ConfigErrors

DEFAULT_TYPE = "application/octet-stream"


def _member_time(info: zipfile.ZipInfo) -> float:
    """The member's time as seconds since the epoch (ZIP times carry no zone: read as UTC)."""
    try:
        return float(calendar.timegm(info.date_time + (0, 0, -1)))
    except (OverflowError, ValueError):
        return 0.0


class ArchiveFile(resource.Resource):
    """One member of the archive, answered to GET and HEAD."""

    isLeaf = True

    def __init__(self, archive: "ArchiveResource", info: zipfile.ZipInfo) -> None:
        super().__init__()
        self.archive = archive
        self.info = info

    def render_GET(self, request: Any) -> bytes:  # noqa: N802 (Twisted API)
        info = self.info
        request.setHeader(b"Content-Type", self.archive.content_type(info.filename).encode("latin-1"))
        if request.setETag(b'"%08x-%x"' % (info.CRC, info.file_size)) == http.CACHED:
            return b""
        if request.getHeader(b"if-none-match") is None and \
                request.setLastModified(_member_time(info)) == http.CACHED:
            return b""
        data = self.archive.read(info)
        request.setHeader(b"Content-Length", b"%d" % len(data))
        return data


class ArchiveResource(resource.Resource):
    """The archive's tree below this path; configured children are served first."""

    def __init__(self, config: ArchivePath) -> None:
        super().__init__()
        self.config = config
        self.zip: Optional[zipfile.ZipFile] = None  # None until open(): the archive is being fetched
        self.members: Dict[str, zipfile.ZipInfo] = {}
        self.cache: Dict[str, bytes] = {}
        # longest extension first: ".min.js" before ".js"
        self.types: List[Tuple[str, str]] = sorted(config.mime_types.items(), key=lambda kv: -len(kv[0]))

    def open(self) -> None:
        """Read the archive's directory; ConfigErrors if it is no ZIP file."""
        config = self.config
        try:
            self.zip = zipfile.ZipFile(config.archive)
        except (OSError, zipfile.BadZipFile) as e:
            raise ConfigErrors([ConfigError(f"{config.path}.archive", f"{config.archive} cannot be read as a ZIP "
                                            f"archive ({e})", "Name a ZIP file")]) from None
        self.members = {info.filename: info for info in self.zip.infolist() if not info.is_dir()}

    def content_type(self, name: str) -> str:
        lower = name.lower()
        for suffix, kind in self.types:
            if lower.endswith(suffix.lower()):
                return kind
        return mimetypes.guess_type(name, strict=False)[0] or DEFAULT_TYPE

    def read(self, info: zipfile.ZipInfo) -> bytes:
        data = self.cache.get(info.filename)
        if data is None:
            data = self.zip.read(info)
            if self.config.cache:
                self.cache[info.filename] = data
        return data

    def member(self, segments: List[bytes]) -> Optional[zipfile.ZipInfo]:
        """The member a URL path below this one names (segments unquoted), or None."""
        try:
            parts = [s.decode("utf-8") for s in segments]
        except UnicodeDecodeError:
            return None
        if any(p in (".", "..") or "\\" in p or "/" in p for p in parts):
            return None
        relative = "/".join(parts)
        if (relative == "" or relative.endswith("/")) and self.config.default_object:
            relative += self.config.default_object
        info = self.members.get(self.config.object_prefix + relative)
        if info is None and self.config.default_file:
            info = self.members.get(self.config.object_prefix + self.config.default_file)
        return info

    def _file(self, segments: List[bytes]) -> Any:
        if self.zip is None:
            return resource.ErrorPage(503, "Service Unavailable", "The archive is being fetched.")
        info = self.member(segments)
        return resource.NoResource() if info is None else ArchiveFile(self, info)

    def getChild(self, path: bytes, request: Any) -> Any:  # noqa: N802 (Twisted API)
        segments = [path] + list(request.postpath)
        del request.postpath[:]
        return self._file(segments)

    def render(self, request: Any) -> Any:
        """The path itself: ``default_object``, or a redirect to ``path/`` so that the
        pages' relative links resolve below it."""
        if not request.path.endswith(b"/") and request.prepath:
            query = request.uri.partition(b"?")[1:]
            request.redirect(request.path + b"/" + b"".join(query))
            return b""
        return self._file([b""]).render(request)


def archive_resource(config: ArchivePath, reactor: Any, pending: List[Any]) -> ArchiveResource:
    """The path's resource; a fetch of its archive (``download``) is appended to ``pending``,
    which the node waits for before it listens."""
    built = ArchiveResource(config)
    if config.download and not os.path.exists(config.archive):
        # imported here: the fetch brings twisted.web.client and the outgoing TLS stack
        # (node.trust, pyOpenSSL: ~30 ms of start-up) that only a download needs
        from node.web.archive_fetch import fetch_archive

        pending.append(fetch_archive(config, reactor).addCallback(lambda _: built.open()))
    else:
        built.open()
    return built
