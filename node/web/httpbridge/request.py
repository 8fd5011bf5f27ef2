"""What every HTTP bridge path checks before it publishes or calls, and how it answers.

In order, each refusal a 4xx with a one-line JSON body
``{"error": reason, "args": [], "kwargs": {}}`` (Crossbar.io's shape) and a log
line naming the client:

1. method: ``POST`` only (405); ``OPTIONS`` is a CORS preflight, answered (204)
   for an allowed origin only;
2. ``require_tls`` and ``require_ip`` (403);
3. ``Origin``: a browser request from another origin than the node's own is
   refused (403) unless ``allowed_origins`` names it; only then do CORS headers
   go out (Crossbar.io reflected any origin, with credentials);
4. ``Content-Type``: ``application/json`` where the path reads JSON (a missing
   one is accepted, as by Crossbar.io), any type for a webhook; a charset other
   than UTF-8 is refused (415);
5. the body must be UTF-8 (400). Its size was limited before it was read
   (``post_body_limit``: :mod:`node.web.body`, 413 with the same JSON shape).

The path type then checks signatures and the body's JSON and does its work.
"""
from __future__ import annotations

import json
import re
from ipaddress import ip_address
from typing import Any, List, Optional, Tuple

from autobahn.util import wildcards2patterns
from twisted.logger import Logger
from twisted.web import resource, server

from node.config.checks_web import ip_network
from node.config.model import BridgeOptions
from node.web.channel import peer_text
from node.web.httpbridge.signing import Refusal
from node.web.origins import origin_key, with_default_ports
from node.web.refusal import answer_json

log = Logger()

CACHE_CONTROL = b"no-store,no-cache,must-revalidate,max-age=0"
JSON_TYPE = b"application/json; charset=UTF-8"
_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def dump(value: Any) -> bytes:
    """One line of JSON (Crossbar.io's minified ``dump_json``)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def error_body(reason: str, args: Optional[list] = None, kwargs: Optional[dict] = None) -> bytes:
    return dump({"error": reason, "args": args or [], "kwargs": kwargs or {}})


class BridgeResource(resource.Resource):
    """The checks above; subclasses implement :meth:`handle` (body checked, text decoded)."""

    isLeaf = True
    takes_body = True  # node.web.body: the body is read (up to max_request_body) before render
    reads_json = True  # Content-Type must be JSON (webhooks take any type)
    kind = "bridge"

    def __init__(self, config: Any, checks: BridgeOptions) -> None:
        super().__init__()
        self.config = config
        self.checks = checks
        self.max_request_body = checks.post_body_limit or None  # None: the web transport's max_request_body
        self._networks = None
        if checks.require_ip is not None:  # each entry was checked with the config
            self._networks = [ip_network(entry) for entry in checks.require_ip]
        self._origins = wildcards2patterns(with_default_ports(checks.allowed_origins))

    # --- answers -------------------------------------------------------------------

    def body_refusal(self, limit: int) -> bytes:
        """The 413 :class:`~node.web.channel.NodeChannel` sends for a body over the limit."""
        return answer_json(413, "Content Too Large", error_body(
            f"the request body is larger than this path takes ({limit} octets)"))

    def refuse(self, request: Any, refusal: Refusal) -> bytes:
        log.warn("HTTP {kind} {path}: refused a request from {peer}: {reason} ({code})", kind=self.kind,
                 path=self.config.path, peer=peer_text(request.getClientAddress()), reason=refusal.reason,
                 code=refusal.code)
        request.setResponseCode(refusal.code)
        request.setHeader(b"content-type", JSON_TYPE)
        return error_body(refusal.reason)

    def reply(self, request: Any, code: int, body: bytes, content_type: bytes = JSON_TYPE) -> None:
        """Finish an asynchronous answer (unless the client has gone)."""
        if request.finished or getattr(request, "_disconnected", False):
            return
        if self.checks.debug:
            log.info("HTTP {kind} {path}: answered {peer} with {code}", kind=self.kind, path=self.config.path,
                     peer=peer_text(request.getClientAddress()), code=code)
        request.setResponseCode(code)
        request.setHeader(b"content-type", content_type)
        request.setHeader(b"content-length", b"%d" % len(body))
        request.write(body)
        request.finish()

    # --- the checks ------------------------------------------------------------------

    def render(self, request: Any) -> Any:
        request.setHeader(b"cache-control", CACHE_CONTROL)
        try:
            cross_origin = self._origin(request)
            if request.method == b"OPTIONS" and cross_origin:
                return self._preflight(request)
            if request.method != b"POST":
                allow = b"POST, OPTIONS" if self._origins else b"POST"
                request.setHeader(b"allow", allow)
                raise Refusal(405, f"method {request.method.decode('latin-1')[:20]} not allowed "
                                   f"(only {allow.decode()})")
            self._client(request)
            body = request.content.read()
            text = self._text(request, body)
            if self.checks.debug:
                log.info("HTTP {kind} {path}: {size} octets from {peer}", kind=self.kind, path=self.config.path,
                         size=len(body), peer=peer_text(request.getClientAddress()))
            return self.handle(request, body, text)
        except Refusal as refusal:
            return self.refuse(request, refusal)

    def handle(self, request: Any, body: bytes, text: str) -> Any:
        raise NotImplementedError

    def _origin(self, request: Any) -> bool:
        """True for an allowed cross-origin request (CORS headers set); refuses other origins."""
        origin = request.getHeader(b"origin")
        if origin is None:
            return False
        text = origin.decode("latin-1")
        key = origin_key(text)
        host = request.getHeader(b"host")
        scheme = "https" if request.isSecure() else "http"
        own = origin_key(f"{scheme}://{host.decode('latin-1')}") if host else None
        if key is not None and key == own:
            return False
        if key is None or not any(p.match(key) for p in self._origins):
            raise Refusal(403, f"origin '{text[:100]}' is not allowed (allowed_origins)")
        request.setHeader(b"access-control-allow-origin", origin)
        request.setHeader(b"vary", b"Origin")
        return True

    def _preflight(self, request: Any) -> bytes:
        request.setResponseCode(204)
        request.setHeader(b"access-control-allow-methods", b"POST")
        wanted = request.getHeader(b"access-control-request-headers") or b""
        names = [n.strip() for n in wanted.split(b",") if n.strip()]
        allowed = b", ".join(n for n in names if _TOKEN.match(n))[:1000]
        if allowed:
            request.setHeader(b"access-control-allow-headers", allowed)
        request.setHeader(b"access-control-max-age", b"600")
        return b""

    def _client(self, request: Any) -> None:
        if self.checks.require_tls and not request.isSecure():
            raise Refusal(403, "this path takes requests over TLS only (require_tls)")
        if self._networks is not None:
            host = getattr(request.getClientAddress(), "host", None)
            try:
                address = ip_address(host) if host else None
            except ValueError:
                address = None
            if address is None or not any(address in net for net in self._networks):
                raise Refusal(403, f"client address {host} is not allowed (require_ip)")

    def _text(self, request: Any, body: bytes) -> str:
        media, charset = content_type(request.requestHeaders.getRawHeaders(b"content-type"))
        if self.reads_json and media is not None and media != "application/json":
            raise Refusal(415, f"Content-Type '{media[:60]}' not accepted (must be application/json)")
        if charset is not None and charset not in ("utf-8", "utf8"):
            raise Refusal(415, f"charset '{charset[:40]}' not accepted (must be UTF-8)")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Refusal(400, f"the request body is not UTF-8 text (octet {e.start})") from None


def content_type(values: Optional[List[bytes]]) -> Tuple[Optional[str], Optional[str]]:
    """(media type, charset) of a Content-Type header, lower case; None where absent.

    @raise Refusal: several Content-Type headers, or a parameter that is not ``name=value``.
    """
    if not values:
        return None, None
    if len(values) > 1:
        raise Refusal(400, "more than one Content-Type header")
    parts = [p.strip() for p in values[0].decode("latin-1").split(";")]
    charset = None
    for parameter in parts[1:]:
        if not parameter:
            continue
        name, equals, value = parameter.partition("=")
        if not equals:
            raise Refusal(400, f"malformed Content-Type parameter '{parameter[:40]}'")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return parts[0].lower() or None, charset


NOT_DONE_YET = server.NOT_DONE_YET
