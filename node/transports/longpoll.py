"""The ``longpoll`` web path: WAMP over HTTP long-poll, as Crossbar.io serves it and autobahn-js speaks it.

The URLs under the path (all POST; Crossbar.io's layout and answers):

- ``<path>/open`` with ``{"protocols": ["wamp.2.json", ...]}`` -> 200
  ``{"transport": "<id>", "protocol": "wamp.2.json"}``: a new transport and a
  router session on it (authenticated with the path's ``auth``, as a WebSocket path;
  with ``cookie``, the answer carries ``Set-Cookie`` as a WebSocket's 101 does, and the
  session knows the transport by that cookie: ``auth.cookie``);
- ``<path>/<id>/send`` with one message (a batch for ``*.batched``) -> 204;
- ``<path>/<id>/receive`` -> 200 with the next message (all waiting ones when
  batched) as soon as there is one, 204 after ``request_timeout`` without;
- ``<path>/<id>/close`` -> 204: the session ends.

A request the path cannot take gets a 4xx with a one-line ``text/plain`` reason
and a warning naming the client: 400 for a body that is no open request or no
WAMP (the session then ends, as a WebSocket peer's protocol violation does:
ABORT ``wamp.error.protocol_violation`` waits for its last ``receive``), 403 for
an ``Origin`` outside ``allowed_origins``, 404 for an unknown transport, 405 for
another method, 503 beyond ``max_transports``. Request bodies are bounded by the
web transport's ``max_request_body`` before they are read (:mod:`node.web.body`).

One transport's queue and timers are :mod:`node.transports.longpoll_transport`.
Transports live in the process that opened them: a node with ``processes`` over 1
cannot serve long-poll (refused by the config check).
"""
from __future__ import annotations

import json
import secrets
from typing import Any, Callable, Dict, List, Optional

from autobahn.util import wildcards2patterns
from autobahn.wamp.types import TransportDetails
from twisted.logger import Logger
from twisted.web import resource

from node.config.model import LongPollPath
from node.router.cookie_tracking import CookieTracker
from node.router.counters import MESSAGE_CODES
from node.transports import violation
from node.transports.counts import MAX_CONNECTIONS, TransportCounts, refused
from node.transports.longpoll_transport import LongPollTransport
from node.web.channel import peer_text
from node.web.origins import origin_key, with_default_ports
from node.wire.serializers import SERIALIZERS, websocket_serializers

log = Logger()

CACHE_CONTROL = b"no-store, no-cache, must-revalidate, max-age=0"
OPERATIONS = (b"send", b"receive", b"close")
NOTICE = (b"This is a WAMP-over-Longpoll endpoint of a wampnode router: WAMP clients (autobahn-js "
          b"with transports: [{type: 'longpoll', url}]) POST to <this URL>/open.\n")


class Refusal(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class LongPollResource(resource.Resource):
    """A ``longpoll`` path: the transports opened on it and the requests that drive them.

    @param session_factory: makes the router session of each new transport.
    @param counts: the web transport's counts (connections opened, bytes, violations).
    @param cookies: the path's cookie tracking (its ``cookie``), or None.
    """

    isLeaf = True
    takes_body = True  # node.web.body: bodies up to the web transport's max_request_body
    max_request_body = None

    def __init__(self, session_factory: Callable[[], Any], config: LongPollPath, clock: Any,
                 counts: Optional[TransportCounts] = None, cookies: Optional[CookieTracker] = None) -> None:
        super().__init__()
        self.cookies = cookies
        self.session_factory = session_factory
        self.config = config
        self.options = config.options
        self.clock = clock
        self.counts = counts
        self.sent = counts.sent if counts is not None else [0] * MESSAGE_CODES
        self.connections: Dict[str, LongPollTransport] = {}  # open transports by ID
        self._serializers = {f"wamp.2.{s.SERIALIZER_ID}": s for s in websocket_serializers(sorted(SERIALIZERS))}
        origins = list(self.options.allowed_origins)
        self._any_origin = "*" in origins
        self._origins = wildcards2patterns(with_default_ports(origins))

    # --- what BuiltTransport needs ---------------------------------------------------------

    def close_all(self, code: int = 1001, reason: str = "node shutting down") -> None:
        """End every session (node stopping): their clients' next request gets 404."""
        for transport in list(self.connections.values()):
            transport.drop(clean=False)

    def forget(self, transport: LongPollTransport) -> None:
        if self.connections.get(transport.id) is transport:
            del self.connections[transport.id]

    # --- requests ---------------------------------------------------------------------------

    def render(self, request: Any) -> Any:
        try:
            self._check_origin(request)
            segments = [s for s in request.postpath]
            if segments and segments[-1] == b"":
                segments.pop()  # "<path>/open/" as "<path>/open"
            if request.method == b"OPTIONS":
                return self._preflight(request)
            if request.method in (b"GET", b"HEAD") and not segments:
                self.standard_headers(request)
                request.setHeader(b"content-type", b"text/plain; charset=utf-8")
                return NOTICE
            if request.method != b"POST":
                request.setHeader(b"allow", b"POST, OPTIONS")
                raise Refusal(405, f"method {request.method.decode('latin-1')[:20]} not allowed here (only POST)")
            body = request.content.read()
            if self.counts is not None:
                self.counts.bytes_in += len(body)
            if segments == [b"open"]:
                return self._open(request, body)
            if len(segments) == 2 and segments[1] in OPERATIONS:
                transport = self.connections.get(segments[0].decode("latin-1"))
                if transport is None or transport.gone:
                    raise Refusal(404, f"no long-poll transport '{segments[0][:40].decode('latin-1')}' "
                                       "(closed, timed out, or never opened)")
                return self._operate(request, transport, segments[1], body)
            raise Refusal(404, "not a long-poll URL (<path>/open, <path>/<transport>/send|receive|close)")
        except Refusal as refusal:
            return self._refuse(request, refusal)

    def _operate(self, request: Any, transport: LongPollTransport, operation: bytes, body: bytes) -> Any:
        if operation == b"receive":
            return transport.receive(request)
        if operation == b"close":
            transport.drop(clean=True)
            return self._no_content(request)
        try:
            transport.deliver(body)
        except Exception as e:  # any decoding fault is the client's protocol error
            reason = violation.describe(e)
            if self.counts is not None:
                self.counts.violations += 1
            violation.report(f"{transport.transport_details.peer} (long-poll transport {transport.id})", reason)
            if transport.isOpen():
                try:
                    transport.send(violation.abort_message(reason))
                except Exception:  # the queue may be full: closing is what matters
                    pass
            transport.close()
            raise Refusal(400, f"could not decode the WAMP message: {reason}") from None
        return self._no_content(request)

    def _open(self, request: Any, body: bytes) -> bytes:
        try:
            options = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise Refusal(400, f"the open request body is no JSON ({e})"[:200]) from None
        protocols = options.get("protocols") if isinstance(options, dict) else None
        if not isinstance(protocols, list) or not all(isinstance(p, str) for p in protocols):
            raise Refusal(400, 'the open request body must be {"protocols": ["wamp.2.json", ...]}')
        chosen = next((p for p in protocols if p in self._serializers), None)
        if chosen is None:
            offered = ", ".join(self._serializers)
            raise Refusal(400, f"no common WAMP protocol: {', '.join(p[:40] for p in protocols[:10])[:200]} "
                               f"asked, {offered} offered")
        transport_id = self.options.debug_transport_id
        if transport_id is not None:
            old = self.connections.get(transport_id)
            if old is not None:
                old.drop(clean=False)  # debug_transport_id: the newest open takes the fixed ID
        else:
            transport_id = secrets.token_urlsafe(12)
        if len(self.connections) >= self.options.max_transports:
            refused(self.counts, MAX_CONNECTIONS)
            raise Refusal(503, f"this path has {len(self.connections)} long-poll transports open "
                               f"(max_transports); try again later")
        serializer = self._serializers[chosen]
        details = self._details(request, serializer)
        if self.cookies is not None:  # later requests of this transport need not carry the cookie
            cookie = request.getHeader(b"cookie")
            cbtid, set_cookie = self.cookies.track({"cookie": cookie.decode("latin-1") if cookie else ""},
                                                   details.is_secure)
            if set_cookie is not None:
                request.setHeader(b"set-cookie", set_cookie.encode("ascii"))
            details.http_cbtid = cbtid  # what the router session reads at HELLO
        session = self.session_factory()
        transport = LongPollTransport(self, transport_id, serializer, details, session, self.standard_headers)
        self.connections[transport_id] = transport
        if self.counts is not None:
            self.counts.connections += 1
        if self.options.debug:
            log.info("long-poll {tid}: opened for {peer} ({protocol})", tid=transport_id,
                     peer=transport.transport_details.peer, protocol=chosen)
        session.onOpen(transport)
        self.standard_headers(request)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return json.dumps({"transport": transport_id, "protocol": chosen}).encode("utf-8")

    def _details(self, request: Any, serializer: Any) -> TransportDetails:
        address = request.getClientAddress()
        host, port = getattr(address, "host", None), getattr(address, "port", None)
        peer = f"tcp{6 if host and ':' in host else 4}:{host}:{port}" if host is not None else str(address)
        headers: Dict[str, List[str]] = {}
        for name, values in request.requestHeaders.getAllRawHeaders():
            headers.setdefault(name.decode("latin-1").lower(), []).extend(v.decode("latin-1") for v in values)
        secure = bool(request.isSecure())
        base = serializer.SERIALIZER_ID.split(".")[0]
        return TransportDetails(
            channel_type=TransportDetails.CHANNEL_TYPE_TLS if secure else TransportDetails.CHANNEL_TYPE_TCP,
            channel_framing=TransportDetails.CHANNEL_FRAMING_NONE,
            channel_serializer=TransportDetails.CHANNEL_SERIALIZER_FROM_STR.get(base),
            peer=peer, is_server=True, is_secure=secure,
            http_headers_received={k: v[0] if len(v) == 1 else v for k, v in headers.items()})

    # --- answers ------------------------------------------------------------------------------

    def standard_headers(self, request: Any) -> None:
        """No caching, and CORS for an allowed origin (with credentials: cookies go along)."""
        request.setHeader(b"cache-control", CACHE_CONTROL)
        origin = request.getHeader(b"origin")
        if origin is not None and self._origin_allowed(request, origin):
            request.setHeader(b"access-control-allow-origin", origin)
            request.setHeader(b"access-control-allow-credentials", b"true")
            request.setHeader(b"vary", b"Origin")

    def _check_origin(self, request: Any) -> None:
        origin = request.getHeader(b"origin")
        if origin is not None and not self._origin_allowed(request, origin):
            raise Refusal(403, f"origin '{origin[:100].decode('latin-1')}' is not allowed (allowed_origins)")

    def _origin_allowed(self, request: Any, origin: bytes) -> bool:
        if self._any_origin:
            return True
        host = request.getHeader(b"host")
        own = origin_key(f"{'https' if request.isSecure() else 'http'}://{host.decode('latin-1')}") if host else None
        key = origin_key(origin.decode("latin-1"))
        return key is not None and (key == own or any(p.match(key) for p in self._origins))

    def _preflight(self, request: Any) -> bytes:
        request.setResponseCode(204)
        self.standard_headers(request)
        request.setHeader(b"access-control-allow-methods", b"POST")
        wanted = request.getHeader(b"access-control-request-headers")
        if wanted:
            names = [n.strip() for n in wanted.split(b",") if n.strip()]
            request.setHeader(b"access-control-allow-headers",
                              b", ".join(n for n in names if n.replace(b"-", b"").isalnum())[:1000])
        request.setHeader(b"access-control-max-age", b"600")
        return b""

    def _no_content(self, request: Any) -> bytes:
        request.setResponseCode(204)
        self.standard_headers(request)
        return b""

    def _refuse(self, request: Any, refusal: Refusal) -> bytes:
        log.warn("long-poll {path}: refused {method} {uri} from {peer}: {reason} ({code})", path=self.config.path,
                 method=request.method.decode("latin-1")[:20], uri=request.uri[:200].decode("latin-1"),
                 peer=peer_text(request.getClientAddress()), reason=refusal.reason, code=refusal.code)
        request.setResponseCode(refusal.code)
        self.standard_headers(request)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return refusal.reason.encode("utf-8") + b"\n"


def longpoll_resource(session_factory: Callable[[], Any], config: LongPollPath, clock: Any,
                      counts: Optional[TransportCounts] = None,
                      cookies: Optional[CookieTracker] = None) -> LongPollResource:
    return LongPollResource(session_factory, config, clock, counts, cookies)
