"""WAMP over WebSocket: autobahn's WebSocket protocol with wampnode's error handling.

autobahn's ``WampWebSocketServerProtocol`` logs a critical traceback and closes with
1011 ("internal error") when a message fails to decode; here a peer's bad bytes are
that peer's protocol error (ABORT, then close 1002) and a warning in the log. The
opening handshake's size and received close frames are checked by
:mod:`node.transports.websocket_guards`.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Set

from autobahn.twisted.websocket import WampWebSocketServerFactory, WampWebSocketServerProtocol
from autobahn.wamp.exception import SerializationError, TransportLost
from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from twisted.logger import Logger

from node import __version__
from node.config.model import DeflateOptions, WampWebSocket, WebSocketOptions
from node.fastpath.timeouts import round_up_timeouts
from node.router.cookie_tracking import CookieTracker
from node.router.counters import MESSAGE_CODES
from node.transports import violation
from node.transports.backpressure import watch_outgoing
from node.transports.counts import MAX_CONNECTIONS, OPEN_HANDSHAKE_TIMEOUT, TransportCounts, refused
from node.transports.fairness import LARGE_READ, READ_SLICE, read_in_slices, read_rest, read_rest_now
from node.transports.websocket_guards import RequestHeadLimit, StrictCloseFrames
from node.fastpath.websocket_frames import FRAMES, FramedDelivery, SharedOptions
from node.web.origins import with_default_ports
from node.wire.serializers import websocket_serializers
from node.wire.size import MessageTooLarge

log = Logger()

CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002


class WampServerProtocol(RequestHeadLimit, StrictCloseFrames, FramedDelivery, WampWebSocketServerProtocol):
    """One WebSocket connection carrying one WAMP session."""

    _violated = False
    _reading_rest = False  # reading the rest of a large frame in large steps (fairness.read_rest)

    def connectionMade(self) -> None:
        super().connectionMade()
        self.factory.connections.add(self)
        self.outgoing = watch_outgoing(self.transport, self.factory.max_outgoing_buffer, self.peer,
                                       self.factory.counts)
        self._sent = self.factory.sent
        self._reader = read_in_slices(self.transport)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted's name)
        super().dataReceived(data)
        if self._large is None and not self._reading_rest and self.__dict__.get("current_frame") is None:
            return  # the usual read: whole frames, none begun (frame_missing would say 0)
        if self.pulls_into_frame():  # PyPy: the rest read straight into the frame's C memory
            self.pull_into_frame(LARGE_READ)
            if self._large is not None:
                self.read_target = self._next_read_space
            if self._reading_rest:
                read_rest(self._reader, 0)
                self._reading_rest = False
            return
        missing = self.frame_missing()
        if missing > READ_SLICE:
            if self._reading_rest:
                read_rest(self._reader, missing)
            else:  # a large message has begun: its rest is likely there already
                self._reading_rest = True
                read_rest_now(self._reader, missing, self)
        elif self._reading_rest:
            read_rest(self._reader, 0)
            self._reading_rest = False

    def _next_read_space(self) -> Any:
        """The transport's next read, while a large frame comes into C memory: up to
        :data:`LARGE_READ` of it per turn, as :func:`read_rest` allows Twisted's reads."""
        return self.frame_space(LARGE_READ)

    def connectionLost(self, reason: Any) -> None:
        self.factory.connections.discard(self)
        super().connectionLost(reason)

    def onConnect(self, request: Any) -> Any:  # noqa: N802 (autobahn's name)
        """autobahn's subprotocol choice, plus the tracking cookie (``Set-Cookie`` on the 101)."""
        protocol, headers = super().onConnect(request)
        cookies = self.factory.cookies
        if cookies is not None:
            cbtid, set_cookie = cookies.track(request.headers, self.factory.is_secure)
            if set_cookie is not None:
                headers["Set-Cookie"] = set_cookie
            self._transport_details.http_cbtid = cbtid
        return protocol, headers

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        violation.dispatch(self, lambda: self._serializer.unserialize(payload, isBinary))

    def failHandshake(self, reason: str, code: int = 400, responseHeaders: Any = None) -> None:  # noqa: N802,N803
        """autobahn's, counting the refusals of ``max_connections`` (its 503)."""
        if code == 503:
            refused(self.factory.counts, MAX_CONNECTIONS)
        super().failHandshake(reason, code, responseHeaders)

    def onOpenHandshakeTimeout(self) -> None:  # noqa: N802 (autobahn's name)
        if self.state == self.STATE_CONNECTING:  # autobahn calls it for the open handshake only then
            refused(self.factory.counts, OPEN_HANDSHAKE_TIMEOUT)
        super().onOpenHandshakeTimeout()

    def protocol_violation(self, reason: str) -> None:
        self._violated = True
        if self.factory.counts is not None:
            self.factory.counts.violations += 1
        violation.report(self.peer, reason)
        try:
            self.send(violation.abort_message(reason))
        except Exception:  # the connection may already be gone; closing is what matters
            pass
        self.close_with(CLOSE_PROTOCOL_ERROR, "WAMP protocol violation")

    def close_with(self, code: int, reason: str) -> None:
        """Start a closing handshake with any RFC 6455 code.

        autobahn's ``sendClose`` only lets applications send 1000 and 3000-4999;
        a router legitimately sends 1001 (going away) and 1002 (protocol error).
        """
        if self.state == self.STATE_OPEN:
            self.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8"), isReply=False)

    def send(self, msg: Any) -> None:
        """Serialize and send; unlike autobahn's, no per-message trace formatting.

        The subscribers of one EVENT after the first (on the same serializer) get the
        frame made for the first (``send_again``): a fan-out costs each of them a write.
        The usual message's checks are written out here, not called: this runs for
        every message the router sends."""
        if self._session is None:
            raise TransportLost()
        serializer = self._serializer
        frames = FRAMES
        size = self.send_again(msg, serializer) if msg is frames.message and serializer is frames.serializer else -1
        if size < 0:
            try:
                payload, is_binary = serializer.serialize_parts(msg)
            except Exception as e:  # a value the serializer cannot carry (as autobahn's own send reports it)
                raise SerializationError(f"{type(e).__name__}: {e}")
            size = len(payload)
            limit = self.maxMessagePayloadSize
            if limit and 0 < limit < size:
                raise MessageTooLarge(size, limit)  # the router decides what goes instead
            self.send_payload(payload, is_binary)
            if payload is frames._payload:  # kept for the next subscriber of the same EVENT
                frames.message, frames.serializer = msg, serializer
        self._sent[msg.MESSAGE_TYPE] += 1  # wampnode_messages_sent_total
        outgoing = self.outgoing
        if outgoing.paused:  # only a paused limit counts what is sent
            outgoing.sent(size)


def _compression_accept(deflate: DeflateOptions, max_message_size: int) -> Callable[[Any], Any]:
    """permessage-deflate (RFC 7692): accept a client's offer with our limits.

    ``max_message_size`` also bounds inflation, so a small compressed frame cannot
    expand into an unbounded message (a "zip bomb").
    """
    def accept(offers: Any) -> Any:
        for offer in offers:
            if isinstance(offer, PerMessageDeflateOffer):
                return PerMessageDeflateOfferAccept(
                    offer,
                    request_no_context_takeover=deflate.request_no_context_takeover,
                    request_max_window_bits=deflate.request_max_window_bits,
                    no_context_takeover=deflate.no_context_takeover,
                    window_bits=deflate.max_window_bits,
                    mem_level=deflate.memory_level,
                    max_message_size=max_message_size or None,
                )
        return None

    return accept


# Crossbar.io option name -> (autobahn setProtocolOptions name, unit factory)
_OPTION_NAMES = {
    "allowed_origins": ("allowedOrigins", None),
    "allow_null_origin": ("allowNullOrigin", None),
    "enable_webstatus": ("webStatus", None),
    "max_frame_size": ("maxFramePayloadSize", None),
    "max_message_size": ("maxMessagePayloadSize", None),
    "auto_fragment_size": ("autoFragmentSize", None),
    "fail_by_drop": ("failByDrop", None),
    "echo_close_codereason": ("echoCloseCodeReason", None),
    "open_handshake_timeout": ("openHandshakeTimeout", 0.001),
    "close_handshake_timeout": ("closeHandshakeTimeout", 0.001),
    "tcp_nodelay": ("tcpNoDelay", None),
    "auto_ping_interval": ("autoPingInterval", 0.001),
    "auto_ping_timeout": ("autoPingTimeout", 0.001),
    "auto_ping_size": ("autoPingSize", None),
    "require_masked_client_frames": ("requireMaskedClientFrames", None),
    "validate_utf8": ("utf8validateIncoming", None),
    "mask_server_frames": ("maskServerFrames", None),
    "apply_mask": ("applyMask", None),
    "max_connections": ("maxConnections", None),  # autobahn answers 503 beyond it
}


def protocol_options(values: WebSocketOptions) -> Dict[str, Any]:
    """Map Crossbar.io's option names (times in ms) to autobahn's (times in s)."""
    options: Dict[str, Any] = {}
    for name, (target, scale) in _OPTION_NAMES.items():
        value = getattr(values, name)
        if isinstance(value, tuple):
            value = list(value)  # allowed_origins: autobahn's own default is a list
        options[target] = value * scale if scale else value
    if options.get("allowedOrigins") is not None:
        options["allowedOrigins"] = with_default_ports(options["allowedOrigins"])
    deflate = values.compression.deflate if values.compression is not None else None
    if deflate is not None:
        options["perMessageCompressionAccept"] = _compression_accept(deflate, values.max_message_size)
    return options


class WampServerFactory(SharedOptions, WampWebSocketServerFactory):
    """Builds :class:`WampServerProtocol` and remembers open connections for shutdown."""

    protocol = WampServerProtocol

    def __init__(self, session_factory: Callable[[], Any], service: WampWebSocket, is_secure: bool,
                 counts: Optional[TransportCounts] = None, cookies: Optional[CookieTracker] = None) -> None:
        options = service.options
        self.counts = counts
        self.cookies = cookies  # cookie tracking (the service's ``cookie``), or None
        self.is_secure = is_secure
        self.sent = counts.sent if counts is not None else [0] * MESSAGE_CODES  # messages written, by WAMP code
        server = f"wampnode/{__version__}" if options.show_server_version else "wampnode"
        # external_port is a session parameter in autobahn, not a protocol option
        super().__init__(session_factory, serializers=websocket_serializers(service.serializers),
                         server=server, url="wss://localhost" if is_secure else "ws://localhost",
                         externalPort=options.external_port)
        round_up_timeouts(self)
        self.setProtocolOptions(**protocol_options(options))
        self.connections: Set[WampServerProtocol] = set()
        self.max_outgoing_buffer = options.max_outgoing_buffer
        self.max_request_head = options.max_request_head
        self.noisy = False
        if not options.require_websocket_subprotocol:
            self.protocol = type("LenientWampServerProtocol", (WampServerProtocol,),
                                 {"STRICT_PROTOCOL_NEGOTIATION": False})

    def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "node shutting down") -> None:
        for connection in list(self.connections):
            connection.close_with(code, reason)


def websocket_factory(session_factory: Callable[[], Any], service: WampWebSocket,
                      is_secure: bool, counts: Optional[TransportCounts] = None,
                      cookies: Optional[CookieTracker] = None) -> WampServerFactory:
    return WampServerFactory(session_factory, service, is_secure, counts, cookies)
