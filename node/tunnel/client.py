"""``wampnode tunnel``: carry local TCP connections (or stdin/stdout) over WebSockets.

Each local connection gets its own WebSocket to a bridge path (ours or
websockify's): TCP to the host or to an HTTP proxy (CONNECT), then TLS with SNI
and host name verification for ``wss`` (:mod:`node.trust`), then the RFC 6455
handshake (autobahn's client protocol). The server must answer 101: any other
status, a redirect included, is an error that says so; redirects are never
followed (Tor's WebSocket transport: a client MUST NOT follow them).

The tunnel sends messages of at most ``send_message_size`` octets (default
1500, which every conforming server accepts), independently of the largest
message it accepts (``max_message_size``): a bridge with a smaller receive
limit than ours would otherwise close with 1009 on the first large read.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional
from urllib.parse import urlsplit

from autobahn.twisted.websocket import WebSocketClientFactory, WebSocketClientProtocol
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure

from node import __version__
from node.bridge.framing import DEFAULT_SEND_MESSAGE_SIZE
from node.bridge.relay import StreamEnd, StreamOverWebSocket
from node.errors import ConfigError, ConnectError, NodeError
from node.fastpath.timeouts import round_up_timeouts
from node.trust.connect import NoDelayEndpoint, TrustedTLSEndpoint, connect_stream
from node.tunnel.proxy import HTTPConnectEndpoint, Proxy

log = Logger()


@dataclass(frozen=True)
class TunnelSettings:
    url: str
    secure: bool
    host: str
    port: int
    use_base64: bool
    proxy: Optional[Proxy]
    trust: Any  # ClientTrust for wss, else None
    connect_timeout: float
    max_message_size: int
    origin: Optional[str]
    send_message_size: int = DEFAULT_SEND_MESSAGE_SIZE

    def describe(self) -> str:
        via = f" via proxy {self.proxy.label()}" if self.proxy else ""
        return f"{self.url}{via}"


def parse_websocket_url(url: str) -> tuple:
    """``ws[s]://host[:port]/path`` -> (secure, host, port).

    @raise ConfigError: another scheme or no host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ConfigError("URL", f"{url!r} is not a ws:// or wss:// URL", "Give the bridge's URL, e.g. wss://host/ssh")
    if not parts.hostname:
        raise ConfigError("URL", f"no host in {url!r}", "Give the bridge's URL, e.g. wss://host/ssh")
    try:
        port = parts.port or (443 if parts.scheme == "wss" else 80)
    except ValueError:
        raise ConfigError("URL", f"bad port in {url!r}", "Give the bridge's URL, e.g. wss://host:8443/ssh") from None
    return parts.scheme == "wss", parts.hostname, port


class TunnelClientProtocol(StreamOverWebSocket, WebSocketClientProtocol):
    """The WebSocket side of one tunnelled connection."""
    handshake_error: Optional[str] = None

    def onConnect(self, response: Any) -> None:  # noqa: N802 (autobahn API)
        settings: TunnelSettings = self.factory.settings
        self.max_message_size = settings.max_message_size
        self.send_message_size = settings.send_message_size
        if settings.use_base64:
            self.use_base64 = response.protocol == "base64"
            if not self.use_base64:
                log.warn("{url}: the server did not accept the base64 subprotocol; using binary frames",
                         url=settings.url)

    local = "?"  # the local client, for log lines (set when the stream is connected)

    def describe(self) -> str:
        return f"Tunnel {self.local} -> {self.factory.settings.url}"

    def onOpen(self) -> None:  # noqa: N802
        if not self.factory.opened.called:
            self.factory.opened.callback(self)

    def failHandshake(self, reason: str) -> None:  # noqa: N802
        """autobahn's, without its two log lines: the caller reports the one-line error."""
        self.handshake_error = reason
        self.wasNotCleanReason = reason
        self.droppedByMe = True
        self.transport.abortConnection()

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:  # noqa: N802,N803
        if not self.factory.opened.called:
            self.factory.opened.errback(self.handshake_failure(reason))
        super().onClose(wasClean, code, reason)

    def handshake_failure(self, reason: Any) -> ConnectError:
        url = self.factory.settings.url
        status = getattr(self, "http_status_line", None)
        headers = getattr(self, "http_headers", None) or {}
        if status and status.split()[1:2] != ["101"]:
            location = headers.get("location")
            redirect = f" (a redirect to {location})" if location else ""
            return ConnectError(url, f"the server answered {status.strip()}{redirect} instead of 101 Switching Protocols",
                                "wampnode tunnel never follows redirects: give the URL of the bridge path itself")
        return ConnectError(url, f"WebSocket handshake failed: {self.handshake_error or reason or 'connection lost'}",
                            "Check that the URL names a WebSocket bridge path")


class TunnelClientFactory(WebSocketClientFactory):
    protocol = TunnelClientProtocol

    def __init__(self, settings: TunnelSettings) -> None:
        # "binary" too, as noVNC did: a binary-only server (websockify 0.10+) picks it
        # instead of refusing the upgrade, and the tunnel falls back to binary frames.
        super().__init__(url=settings.url, protocols=["base64", "binary"] if settings.use_base64 else None,
                         useragent=f"wampnode/{__version__}", origin=settings.origin)
        round_up_timeouts(self)
        self.settings = settings
        self.opened: defer.Deferred = defer.Deferred(self._abandon)
        self.connection: Optional[TunnelClientProtocol] = None
        self.noisy = False
        self.setProtocolOptions(
            version=13,  # RFC 6455
            maxMessagePayloadSize=settings.max_message_size,
            maxFramePayloadSize=settings.max_message_size,
            autoFragmentSize=0,  # every message one frame
            openHandshakeTimeout=settings.connect_timeout,
            utf8validateIncoming=False,  # text is base64, checked more strictly
            failByDrop=False,
            perMessageCompressionOffers=[],
        )


    def buildProtocol(self, addr: Any) -> Any:  # noqa: N802 (Twisted API)
        self.connection = super().buildProtocol(addr)
        return self.connection

    def _abandon(self, opened: defer.Deferred) -> None:
        """``opened`` was cancelled (the local client left) during the handshake: drop it."""
        connection = self.connection
        if connection is not None and connection.transport is not None:
            connection.transport.abortConnection()


def stream_endpoint(reactor: Any, settings: TunnelSettings) -> Any:
    """TCP to the server or the proxy, the proxy's CONNECT tunnel, then TLS for wss."""
    def tcp() -> Any:
        if settings.proxy is None:
            return NoDelayEndpoint(HostnameEndpoint(reactor, settings.host, settings.port,
                                                    timeout=settings.connect_timeout))
        to_proxy = NoDelayEndpoint(HostnameEndpoint(reactor, settings.proxy.host, settings.proxy.port,
                                                    timeout=settings.connect_timeout))
        return HTTPConnectEndpoint(to_proxy, settings.proxy, settings.host, settings.port, f"wampnode/{__version__}")

    if not settings.secure:
        return tcp()

    return TrustedTLSEndpoint(tcp, settings.trust, f"{settings.host}:{settings.port}", settings.host)


@defer.inlineCallbacks
def open_websocket(reactor: Any, settings: TunnelSettings) -> Any:
    """A :class:`TunnelClientProtocol` whose handshake completed; else a ConnectError."""
    factory = TunnelClientFactory(settings)
    where = f"proxy {settings.proxy.label()}" if settings.proxy else f"{settings.host}:{settings.port}"
    yield connect_stream(reactor, stream_endpoint(reactor, settings), factory, settings.connect_timeout, where)
    websocket = yield factory.opened
    return websocket


HOLD_LIMIT = 64 * 1024  # bytes read from a local client while its WebSocket opens


class LocalConnection(StreamEnd):
    """One local client (accepted TCP, or stdin/stdout); opens its WebSocket on connect.

    While the WebSocket opens, the client is still read (up to :data:`HOLD_LIMIT`,
    held and sent once it is open): only reading shows a client that leaves
    meanwhile, and then the opening is cancelled instead of finishing for nobody.
    An end of input (FIN, stdin closed) is passed on after the held bytes.
    """
    def __init__(self, tunnel: "Tunnel") -> None:
        super().__init__(None)
        self.tunnel = tunnel
        self.opening: Optional[defer.Deferred] = None
        self._cancelled = False  # connectionLost cancelled the opening (it may fail with another error than
        # CancelledError: Twisted's HostnameEndpoint gives ConnectingCancelledError or DNSLookupError)
        self._held: List[bytes] = []
        self._held_size = 0
        self._input_ended = False

    def connectionMade(self) -> None:  # noqa: N802 (Twisted API)
        self.opening = open_websocket(self.tunnel.reactor, self.tunnel.settings)
        self.opening.addCallbacks(self._opened, self._failed)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted API)
        if self.relay is None:
            self._held.append(data)
            self._held_size += len(data)
            if self._held_size >= HOLD_LIMIT:
                self.transport.pauseProducing()  # stream_connected resumes it
            return
        super().dataReceived(data)

    def readConnectionLost(self) -> None:  # noqa: N802 (Twisted API)
        if self._input_ended:
            return
        self._input_ended = True
        if self.relay is not None:
            super().readConnectionLost()

    def _opened(self, websocket: TunnelClientProtocol) -> None:
        self.opening = None
        if self.transport is None or getattr(self.transport, "disconnected", False):
            websocket.sendClose(1000)
            return
        self.relay = websocket
        websocket.local = _peer(self)
        websocket.stream_connected(self)
        held, self._held, self._held_size = self._held, [], 0
        for data in held:
            websocket.stream_data(data)
        if self._input_ended:
            websocket.stream_ended()
        self.tunnel.opened(self)

    def _failed(self, failure: Failure) -> None:
        self.opening = None
        if self._cancelled or failure.check(defer.CancelledError):
            return
        error = failure.value if failure.check(NodeError) else ConnectError(
            self.tunnel.settings.url, f"{failure.value.__class__.__name__}: {failure.getErrorMessage()}")
        self.tunnel.failed(self, error)
        self.transport.loseConnection()

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        if self.opening is not None:
            opening, self.opening = self.opening, None
            self._cancelled = True
            log.info("Tunnel {local}: the local client went away while the WebSocket to {url} was opening; "
                     "cancelled", local=_peer(self), url=self.tunnel.settings.url)
            opening.cancel()
        super().connectionLost(reason)
        self.tunnel.closed(self)


class Tunnel:
    """What every local connection shares: settings, reactor, and how to report."""
    def __init__(self, reactor: Any, settings: TunnelSettings) -> None:
        self.reactor = reactor
        self.settings = settings
        self.errors = 0
        self.opened_count = 0

    def opened(self, connection: LocalConnection) -> None:
        self.opened_count += 1
        log.info("Tunnel {local} -> {url} open", local=_peer(connection), url=self.settings.url)

    def failed(self, connection: LocalConnection, error: NodeError) -> None:
        self.errors += 1
        log.error("{error}", error=error.line())

    def closed(self, connection: LocalConnection) -> None:
        relay = connection.relay
        if relay is not None:
            log.info("Tunnel {local} closed: {sent} octets sent, {received} received", local=_peer(connection),
                     sent=relay.octets_out, received=relay.octets_in)


def _peer(connection: LocalConnection) -> str:
    try:
        peer = connection.transport.getPeer()
        return f"{peer.host}:{peer.port}"
    except Exception:  # stdio has no address
        return "stdio"
