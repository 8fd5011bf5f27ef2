"""``max_connections`` for RawSocket and web (HTTP) listeners.

autobahn enforces ``maxConnections`` for WebSocket itself (HTTP 503 in the opening
handshake). RawSocket and Twisted Web have no such knob, so a listener with a limit
is wrapped in :class:`ConnectionLimit`: it counts open connections (the count stays
right after a WebSocket takes over an HTTP connection, because autobahn's
``WebSocketResource`` re-points the wrapper instead of dropping it) and hands
connections beyond the limit to a refusal protocol that answers the way the
protocol's spec asks:

- HTTP: ``503 Service Unavailable`` with ``Retry-After``, then close;
- RawSocket: the handshake error reply "maximum connection count reached"
  (error code 4 of the WAMP RawSocket handshake), then close.

The refusal reads the peer's request (or handshake) before answering: closing a
socket with unread input makes the kernel send RST, and the peer would never see
the answer. A peer that sends nothing is dropped after ``REFUSAL_TIMEOUT``.

Without a limit (``max_connections`` 0, the default) nothing is wrapped, so the
common case pays nothing per byte.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.policies import WrappingFactory

from node.transports.counts import MAX_CONNECTIONS, TransportCounts, refused

log = Logger()

REFUSAL_TIMEOUT = 5.0
MAX_REQUEST_HEAD = 16384

RAWSOCKET_MAGIC = 0x7F
RAWSOCKET_ERROR_MAX_CONNECTIONS = 4


class Refusal(Protocol):
    """Reads what the peer sends first, then answers with a refusal and closes."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self._received = b""
        self._answered = False
        self._timeout: Any = None

    def complete(self, received: bytes) -> bool:
        """Whether ``received`` holds all of the peer's opening (request or handshake)."""
        raise NotImplementedError

    def answer(self) -> bytes:
        raise NotImplementedError

    def connectionMade(self) -> None:
        self._timeout = self.reactor.callLater(REFUSAL_TIMEOUT, self.transport.abortConnection)

    def dataReceived(self, data: bytes) -> None:
        if self._answered:
            return
        self._received += data
        if self.complete(self._received) or len(self._received) >= MAX_REQUEST_HEAD:
            self._answered = True
            self.transport.write(self.answer())
            self.transport.loseConnection()

    def connectionLost(self, reason: Any) -> None:
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()


class HttpRefusal(Refusal):
    def complete(self, received: bytes) -> bool:
        return b"\r\n\r\n" in received

    def answer(self) -> bytes:
        body = b"Service Unavailable: too many connections\n"
        return (b"HTTP/1.1 503 Service Unavailable\r\nServer: wampnode\r\nRetry-After: 5\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


class RawSocketRefusal(Refusal):
    def complete(self, received: bytes) -> bool:
        return len(received) >= 4

    def answer(self) -> bytes:
        return bytes([RAWSOCKET_MAGIC, RAWSOCKET_ERROR_MAX_CONNECTIONS << 4, 0, 0])


class ConnectionLimit(WrappingFactory):
    """Wraps a listening factory; connections beyond ``limit`` get a refusal."""

    noisy = False

    def __init__(self, wrapped: Factory, limit: int, refusal: Callable[[Any], Protocol], what: str,
                 reactor: Any, counts: Optional[TransportCounts] = None) -> None:
        super().__init__(wrapped)
        self.counts = counts
        self.reactor = reactor
        self.limit = limit
        self.refusal = refusal
        self.what = what
        self.refused = 0

    def buildProtocol(self, addr: Any) -> Optional[Protocol]:
        if len(self.protocols) >= self.limit:
            self.refused += 1
            refused(self.counts, MAX_CONNECTIONS)
            if self.refused == 1 or self.refused % 1000 == 0:  # one line, not a flood
                log.warn("Refusing {what} connection from {peer}: max_connections {limit} reached "
                         "({refused} refused so far)", what=self.what, peer=addr, limit=self.limit,
                         refused=self.refused)
            return self.refusal(self.reactor)
        return super().buildProtocol(addr)

    @property
    def connections(self) -> Any:
        return self.protocols


def limit_connections(factory: Optional[Factory], limit: int, refusal: Callable[[Any], Protocol],
                      what: str, reactor: Any, counts: Optional[TransportCounts] = None) -> Optional[Factory]:
    """``factory`` itself when there is no limit (0), else wrapped in :class:`ConnectionLimit`."""
    if factory is None or limit <= 0:
        return factory
    return ConnectionLimit(factory, limit, refusal, what, reactor, counts)
