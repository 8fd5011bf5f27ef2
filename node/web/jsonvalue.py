"""``json`` path: one JSON value from the configuration (Crossbar.io's JSON value service).

The value is encoded once, when the config is built (:mod:`node.config.build_webapps`);
each GET or HEAD answers it as ``application/json; charset=utf-8``, with CORS headers
when ``allow_cross_origin`` is set (the request's ``Origin``, as Crossbar.io's
``set_cross_origin_headers``) and ``no-store`` caching headers when ``discourage_caching``
is set.
"""
from __future__ import annotations

from typing import Any

from twisted.web import resource

from node.config.model import JsonPath


def set_cross_origin_headers(request: Any) -> None:
    """Let the requesting page read the answer (with cookies): its ``Origin``, or ``*``."""
    origin = request.getHeader(b"origin")
    request.setHeader(b"Access-Control-Allow-Origin", b"*" if origin in (None, b"null") else origin)
    request.setHeader(b"Access-Control-Allow-Credentials", b"true")
    asked = request.getHeader(b"access-control-request-headers")
    if asked is not None:
        request.setHeader(b"Access-Control-Allow-Headers", asked)


class JsonResource(resource.Resource):
    """The value at this path; paths below it are 404 unless configured."""

    def __init__(self, config: JsonPath) -> None:
        super().__init__()
        self.config = config

    def getChild(self, path: bytes, request: Any) -> Any:  # noqa: N802 (Twisted API)
        return self if path == b"" and not request.postpath else resource.NoResource()  # "x/" is "x"

    def render_GET(self, request: Any) -> bytes:  # noqa: N802 (Twisted API)
        request.setHeader(b"Content-Type", b"application/json; charset=utf-8")
        if self.config.allow_cross_origin:
            set_cross_origin_headers(request)
        if self.config.discourage_caching:
            request.setHeader(b"Cache-Control", b"no-store, no-cache, must-revalidate, max-age=0")
        return self.config.body

    def render_OPTIONS(self, request: Any) -> bytes:  # noqa: N802 (Twisted API)
        """A CORS preflight: allowed when ``allow_cross_origin`` is set."""
        if self.config.allow_cross_origin:
            set_cross_origin_headers(request)
            request.setHeader(b"Access-Control-Allow-Methods", b"GET, HEAD, OPTIONS")
        request.setHeader(b"Allow", b"GET, HEAD, OPTIONS")
        request.setResponseCode(204)
        return b""


def json_resource(config: JsonPath) -> JsonResource:
    return JsonResource(config)
