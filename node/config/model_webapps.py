"""Web paths that serve what the configuration or the application brings, as frozen
objects: a JSON value (``json``), files of a ZIP archive (``archive``), a WSGI
application (``wsgi``) and a Twisted Web resource class (``resource``).

Part of :mod:`node.config.model` (which re-exports every name); built by
:mod:`node.config.build_webapps`. Defaults come from the schema, as everywhere in
the model; ``path`` fields are JSON paths for messages.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

if TYPE_CHECKING:  # annotations only: node.config.model imports this module
    from node.config.model import TrustOptions


@dataclass(frozen=True)
class JsonPath:
    """``json``: one JSON value from the configuration, served as ``application/json``."""

    body: bytes  # the value, encoded once as the options say
    allow_cross_origin: bool
    discourage_caching: bool
    path: str


@dataclass(frozen=True)
class ArchivePath:
    """``archive``: files of a ZIP archive, fetched once from ``origin`` if asked."""

    archive: str  # absolute
    origin: Optional[str]
    download: bool
    cache: bool
    default_object: Optional[str]
    object_prefix: str  # "" or "dist/": where URL paths start inside the archive
    mime_types: Dict[str, str]
    hashes: Tuple[str, ...]  # lower-case hex SHA-256; (): not checked
    default_file: Optional[str]
    trust: "TrustOptions"
    max_download_size: int
    download_timeout: float
    path: str


@dataclass(frozen=True)
class WsgiPath:
    """``wsgi``: a WSGI application run on its own bounded thread pool."""

    module: str
    object: str
    minthreads: int
    maxthreads: int
    path: str


@dataclass(frozen=True)
class ResourcePath:
    """``resource``: a Twisted Web resource, ``classname(extra)``."""

    classname: str
    extra: Any
    path: str


PYTHON_PATHS = (WsgiPath, ResourcePath)  # paths that import the application's code
