"""Web paths that serve what the configuration or the application brings, as frozen
objects: a JSON value (``json``), files of a ZIP archive (``archive``), a WSGI
application (``wsgi``) and a Twisted Web resource class (``resource``).

Part of :mod:`node.config.model` (which re-exports every name); built by
:mod:`node.config.build_webapps`. Defaults come from the schema, as everywhere in
the model; ``path`` fields are JSON paths for messages.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

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


@dataclass(frozen=True)
class WapRoute:
    """One route of a ``wap`` path: URL pattern -> procedure -> template."""

    pattern: str  # "/product/<int:id>": Werkzeug's placeholders
    method: str  # "GET" | "POST"
    call: Optional[str]  # procedure; None: render with no values
    render: str  # template file name
    path: str


@dataclass(frozen=True)
class WapPath:
    """``wap``: pages rendered with Jinja2 from what a procedure returns (Crossbar.io's
    WAMP Application Page service)."""

    templates: Optional[str]  # absolute directory; None: ``package`` / ``resource``
    package: Optional[str]
    resource: Optional[str]
    sandbox: bool
    routes: Tuple[WapRoute, ...]
    realm: str
    role: str
    path: str


# Werkzeug's converters that ``wap`` routes may use: the pattern each matches, the value it gives
WAP_CONVERTERS: Dict[str, Tuple[str, Callable[[str], Any]]] = {
    "string": (r"[^/]+", str), "int": (r"\d+", int), "float": (r"\d+\.\d+", float), "path": (r"[^/].*?", str),
}
_PLACEHOLDER = re.compile(r"<(?:([a-z]+):)?([A-Za-z_][A-Za-z0-9_]*)>")


def wap_route_pattern(pattern: str) -> Tuple["re.Pattern[str]", Dict[str, Callable[[str], Any]]]:
    """A ``wap`` route's regular expression and the converter of each placeholder.

    @raise ValueError: an unknown converter, or a name used twice.
    """
    parts, converters, at = [], {}, 0
    for m in _PLACEHOLDER.finditer(pattern):
        kind, name = m.group(1) or "string", m.group(2)
        if kind not in WAP_CONVERTERS:
            raise ValueError(f"unknown converter {kind!r} in <{m.group(0)[1:-1]}> "
                             f"(known: {', '.join(WAP_CONVERTERS)})")
        if name in converters:
            raise ValueError(f"placeholder {name!r} is used twice")
        parts.append(re.escape(pattern[at:m.start()]) + f"(?P<{name}>{WAP_CONVERTERS[kind][0]})")
        converters[name] = WAP_CONVERTERS[kind][1]
        at = m.end()
    parts.append(re.escape(pattern[at:]))
    return re.compile("".join(parts) + r"\Z"), converters


PYTHON_PATHS = (WsgiPath, ResourcePath)  # paths that import the application's code
