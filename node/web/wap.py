"""``wap`` paths: HTML pages rendered with Jinja2 from what a procedure returns (Crossbar.io's
WAMP Application Page service).

A request's path below the ``wap`` path is matched against the routes in order (Werkzeug's
placeholders, :func:`node.config.model.wap_route_pattern`); the route's procedure is
called, as the path's session (realm and role of ``wamp``; in a proxy worker through its
route), with keyword arguments: the placeholders, then the query parameters (first value
of each), and for a POST ``data`` (the body) and ``data_type`` (its Content-Type). The
result, a dict, renders the route's template; with ``Accept: application/json`` it is
sent as JSON instead. No route: 404; the route is another method's: 405; the call fails:
500 with the error URI (as Crossbar.io, whose own answer to a wrong method is 511).
"""
from __future__ import annotations

import html
import importlib.util
import json
import os
from typing import Any, Dict, List, Optional, Tuple

from twisted.logger import Logger
from twisted.web import resource, server

from node.config import model

log = Logger()


class WapResource(resource.Resource):
    """The pages of one ``wap`` path."""

    isLeaf = True

    def __init__(self, config: model.WapPath, session: Any, templates_dir: str) -> None:
        super().__init__()
        # start-up: Jinja2 loads only for a node with a wap path (an optional dependency)
        from jinja2 import Environment, FileSystemLoader
        from jinja2.sandbox import SandboxedEnvironment

        kind = SandboxedEnvironment if config.sandbox else Environment
        self.env = kind(loader=FileSystemLoader(templates_dir), autoescape=True)
        self.config = config
        self.session = session
        self.routes: List[Tuple[model.WapRoute, Any, Dict[str, Any], Any]] = []
        for route in config.routes:
            pattern, converters = model.wap_route_pattern(route.pattern)
            self.routes.append((route, pattern, converters, self.env.get_template(route.render)))

    def render(self, request: Any) -> Any:
        path = "/" + "/".join(p.decode("utf-8", "replace") for p in request.postpath)
        method = request.method.decode("ascii", "replace")
        wants_json = (request.getHeader(b"accept") or b"").decode("latin-1").strip() == "application/json"
        found = self._match(path, method)
        if found is None:
            return self._error(request, 404, f'path "{path}" not found', wants_json)
        if isinstance(found, str):
            return self._error(request, 405, f'method {method} not allowed on path "{path}" (use {found})',
                               wants_json)
        route, kwargs, template = found
        for key, values in (request.args or {}).items():
            if values:
                kwargs.setdefault(key.decode("utf-8", "replace"), values[0].decode("utf-8", "replace"))
        if method == "POST" and request.content is not None:
            body = request.content.read()
            if body:
                kwargs["data"] = body
                kwargs["data_type"] = (request.getHeader(b"content-type") or b"application/octet-stream").decode(
                    "latin-1")
        if route.call is None:
            self._rendered({}, request, template, wants_json)
            return server.NOT_DONE_YET
        try:
            d = self.session.call(route.call, None, kwargs, {})
        except Exception as e:  # values no CALL can carry
            return self._error(request, 400, f"cannot call {route.call}: {e}", wants_json)
        d.addCallbacks(lambda result: self._rendered(_value(result), request, template, wants_json),
                       lambda failure: self._failed(failure, request, wants_json))
        return server.NOT_DONE_YET

    def _match(self, path: str, method: str) -> Any:
        """(route, kwargs, template); the allowed method if only another method's route matches; or None."""
        other: Optional[str] = None
        for route, pattern, converters, template in self.routes:
            m = pattern.match(path)
            if m is None:
                continue
            if route.method != method:
                other = other or route.method
                continue
            try:
                return route, {k: converters[k](v) for k, v in m.groupdict().items()}, template
            except ValueError:
                continue
        return other

    def _rendered(self, value: Any, request: Any, template: Any, wants_json: bool) -> None:
        if _gone(request):
            return
        try:
            if wants_json:
                body, kind = json.dumps(value).encode("utf-8"), b"application/json"
            else:
                body, kind = template.render(value if isinstance(value, dict) else {"result": value}).encode(
                    "utf-8"), b"text/html; charset=utf-8"
        except Exception as e:  # a template or value fault: the page fails, not the node
            log.warn("wap {path}: cannot render the result: {error}", path=self.config.path, error=str(e))
            request.write(self._error(request, 500, f"render error: {e}", wants_json))
            request.finish()
            return
        request.setHeader(b"content-type", kind)
        request.write(body)
        request.finish()

    def _failed(self, failure: Any, request: Any, wants_json: bool) -> None:
        if _gone(request):
            return
        error = getattr(failure.value, "error", None) or failure.getErrorMessage()
        request.write(self._error(request, 500, str(error), wants_json))
        request.finish()

    def _error(self, request: Any, code: int, message: str, wants_json: bool) -> bytes:
        request.setResponseCode(code)
        if wants_json:
            request.setHeader(b"content-type", b"application/json")
            return json.dumps({"error": message}).encode("utf-8")
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        text = html.escape(message)
        return (f"<!DOCTYPE html>\n<html><head><title>Error {code}</title></head>"
                f"<body><h1>Error {code}</h1><p>{text}</p></body></html>\n").encode("utf-8")


def _value(result: Any) -> Any:
    """The call's value as autobahn's ``call`` gives it: the one argument, else the keyword arguments."""
    args = list(getattr(result, "args", None) or [])
    kwargs = dict(getattr(result, "kwargs", None) or {})
    if len(args) == 1 and not kwargs:
        return args[0]
    if kwargs and not args:
        return kwargs
    return {"args": args, "kwargs": kwargs}


def _gone(request: Any) -> bool:
    return bool(request.finished or getattr(request, "_disconnected", False))


def templates_directory(config: model.WapPath) -> str:
    """The directory of the path's templates (a package's resource found on the node's Python path)."""
    if config.templates is not None:
        return config.templates
    spec = importlib.util.find_spec(config.package or "")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return os.path.join(locations[0] if locations else "", config.resource or "")


def wap_resource(config: model.WapPath, router: Any) -> WapResource:
    session = router.bridge_session(config.realm, config.role, f"wap-{config.path.rsplit('.', 1)[-1]}"[:64],
                                    {"type": "http-wap", "path": config.path})
    return WapResource(config, session, templates_directory(config))
