"""``websocket-reverseproxy`` paths: each client WebSocket gets one WebSocket to a backend.

As Crossbar.io's ``WebSocketReverseProxyServerProtocol``: the client's opening
handshake makes the node connect to ``backend`` (its ``endpoint``, asking for
its ``url``), offering the subprotocols the client offered; the client is
accepted with the subprotocol the backend chose, or refused with 503 when the
backend cannot be reached or refuses. Then each message (text or binary, as
sent) goes to the other side. Each side is a full WebSocket of its own: the
client side has the path's ``options`` (limits, pings, compression, the guards
of every wampnode WebSocket), the backend side the backend's ``options``.

Better than Crossbar.io: a close is passed on with its code and reason (Crossbar
sent 1000 whatever the code); each side's transport is the streaming producer of
the other (a client that does not read stops the node reading the backend, and
the other way round), and messages the backend sends before the client's
handshake completes are held, not dropped.
"""
from __future__ import annotations

from typing import Any, List, Optional, Set, Tuple

from autobahn.twisted.websocket import (WebSocketClientFactory, WebSocketClientProtocol, WebSocketServerFactory,
                                        WebSocketServerProtocol)
from autobahn.websocket.types import ConnectionDeny
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint
from twisted.logger import Logger

from node.config.model import WebSocketReverseProxyPath
from node.fastpath.timeouts import round_up_timeouts
from node.transports.websocket import CLOSE_GOING_AWAY, protocol_options
from node.transports.websocket_guards import RequestHeadLimit, StrictCloseFrames

log = Logger()

# close codes a close frame may not carry (RFC 6455 section 7.4.1): "no code", "abnormal", "TLS failure"
_RESERVED_CODES = (1005, 1006, 1015)


def _pass_close(side: Any, code: Optional[int], reason: Optional[str]) -> None:
    """Close ``side`` with the code and reason the other side closed with (1000 if none)."""
    if side is None or side.state not in (side.STATE_OPEN, side.STATE_CONNECTING):
        return
    if side.state == side.STATE_CONNECTING:
        side.transport.abortConnection()
        return
    if code is None or code in _RESERVED_CODES:
        code = 1000
    data = (reason or "").encode("utf-8")[:123]
    side.sendCloseFrame(code=code, reasonUtf8=data.decode("utf-8", "ignore").encode("utf-8"), isReply=False)


class _Relay:
    """What both sides share: pass messages on, or hold them until the other side opens."""

    other: Any = None
    held: Optional[List[Tuple[bytes, bool]]] = None

    def relay(self: Any, payload: bytes, binary: bool) -> None:
        other = self.other
        if other is not None and other.state == other.STATE_OPEN:
            other.sendMessage(payload, binary)
        elif self.held is not None:
            self.held.append((payload, binary))
            self.transport.pauseProducing()


class BackendProtocol(_Relay, WebSocketClientProtocol):
    """The node's WebSocket to the backend, for one client."""

    def onConnect(self, response: Any) -> None:  # noqa: N802 (autobahn API)
        self.held = []
        self.factory.answer.callback((self, response.protocol))

    def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802,N803
        self.relay(payload, isBinary)

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:  # noqa: N802,N803
        if not self.factory.answer.called:
            self.factory.answer.errback(ConnectionError(f"the backend closed the handshake ({code}: {reason})"))
        _pass_close(self.other, code, reason)


class ProxyServerProtocol(RequestHeadLimit, StrictCloseFrames, _Relay, WebSocketServerProtocol):
    """A client's WebSocket; its backend connection is made during its opening handshake."""

    backend: Optional[BackendProtocol] = None

    def onConnect(self, request: Any) -> Any:  # noqa: N802 (autobahn API)
        config: WebSocketReverseProxyPath = self.factory.config
        backend = config.backend
        answer: defer.Deferred = defer.Deferred()
        factory = round_up_timeouts(WebSocketClientFactory(url=backend.url, protocols=list(request.protocols) or None))
        factory.setProtocolOptions(**_client_options(backend.options))
        factory.protocol = BackendProtocol
        factory.answer = answer
        factory.noisy = False
        endpoint = backend_endpoint(self.factory.reactor, config)
        connecting = endpoint.connect(factory)
        connecting.addTimeout(backend.endpoint.timeout, self.factory.reactor)
        connecting.addErrback(lambda f: None if answer.called else answer.errback(ConnectionError(
            f"cannot connect to {backend.endpoint.describe()}: {f.getErrorMessage()}")))

        def accepted(result: Tuple[BackendProtocol, Optional[str]]) -> Any:
            protocol, subprotocol = result
            self.backend = protocol
            protocol.other, self.other = self, protocol
            return subprotocol

        def refused(failure: Any) -> None:
            text = failure.getErrorMessage()
            log.warn("WebSocket reverse proxy {path} -> {backend}: {peer}: {cause}", path=config.path,
                     backend=backend.url, peer=self.peer, cause=text)
            raise ConnectionDeny(ConnectionDeny.SERVICE_UNAVAILABLE, "WebSocket reverse proxy backend not reachable")

        return answer.addCallbacks(accepted, refused)

    def onOpen(self) -> None:  # noqa: N802
        self.factory.connections.add(self)
        backend = self.backend
        if backend is None:
            return
        for one, two in ((self, backend), (backend, self)):
            if getattr(two.transport, "producer", None) is not None:
                two.transport.unregisterProducer()  # Twisted Web's channel, idle since the takeover
            two.transport.registerProducer(one.transport, True)
        held, backend.held = backend.held or [], None
        for payload, binary in held:
            self.sendMessage(payload, binary)
        backend.transport.resumeProducing()

    def onMessage(self, payload: bytes, isBinary: bool) -> None:  # noqa: N802,N803
        self.relay(payload, isBinary)

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:  # noqa: N802,N803
        self.factory.connections.discard(self)
        _pass_close(self.backend, code, reason)

    def close_with(self, code: int, reason: str) -> None:
        if self.state == self.STATE_OPEN:
            self.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8"), isReply=False)


def _client_options(options: Any) -> dict:
    """The backend side's autobahn options: the server-only ones left out."""
    mapped = protocol_options(options)
    for name in ("allowedOrigins", "allowNullOrigin", "webStatus", "requireMaskedClientFrames", "maskServerFrames",
                 "maxConnections", "perMessageCompressionAccept"):
        mapped.pop(name, None)
    return mapped


def backend_endpoint(reactor: Any, config: WebSocketReverseProxyPath) -> Any:
    endpoint = config.backend.endpoint
    if endpoint.type == "unix":
        return UNIXClientEndpoint(reactor, endpoint.socket_path, timeout=endpoint.timeout)
    return HostnameEndpoint(reactor, endpoint.host, endpoint.port, timeout=endpoint.timeout)


class ProxyServerFactory(WebSocketServerFactory):
    protocol = ProxyServerProtocol

    def __init__(self, config: WebSocketReverseProxyPath, reactor: Any, is_secure: bool) -> None:
        super().__init__(url="wss://localhost" if is_secure else "ws://localhost", server="wampnode", reactor=reactor)
        round_up_timeouts(self)
        self.setProtocolOptions(**protocol_options(config.options))
        self.config = config
        self.max_request_head = config.options.max_request_head
        self.connections: Set[ProxyServerProtocol] = set()
        self.noisy = False

    def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "node shutting down") -> None:
        for connection in list(self.connections):
            connection.close_with(code, reason)


def websocket_proxy_factory(config: WebSocketReverseProxyPath, reactor: Any, is_secure: bool) -> ProxyServerFactory:
    return ProxyServerFactory(config, reactor, is_secure)
