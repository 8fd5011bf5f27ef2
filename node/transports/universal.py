"""``universal`` transports: RawSocket, WebSocket and web on one port.

The first octet tells them apart: RawSocket opens with the magic octet 0x7F, which
no HTTP request line can start with.
"""
from __future__ import annotations

from typing import Any, Optional

from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

log = Logger()

RAWSOCKET_MAGIC = 0x7F
FIRST_BYTE_TIMEOUT = 30.0


class SniffingProtocol(Protocol):
    """Waits for the first octet, then hands the connection to the right protocol."""

    def __init__(self, factory: "UniversalFactory") -> None:
        self.factory = factory
        self.inner: Optional[Protocol] = None
        self._timeout: Any = None

    def connectionMade(self) -> None:
        self._timeout = self.factory.reactor.callLater(FIRST_BYTE_TIMEOUT, self.transport.abortConnection)

    def dataReceived(self, data: bytes) -> None:
        if self.inner is None:
            if self._timeout is not None and self._timeout.active():
                self._timeout.cancel()
            chosen = self.factory.rawsocket if data[0] == RAWSOCKET_MAGIC else self.factory.web
            if chosen is None:
                log.warn("Closing {peer}: this transport does not serve that protocol",
                         peer=self.transport.getPeer())
                self.transport.loseConnection()
                return
            self.inner = chosen.buildProtocol(self.transport.getPeer())
            self.inner.makeConnection(self.transport)
        self.inner.dataReceived(data)

    def connectionLost(self, reason: Any) -> None:
        if self._timeout is not None and self._timeout.active():
            self._timeout.cancel()
        if self.inner is not None:
            self.inner.connectionLost(reason)


class UniversalFactory(Factory):
    noisy = False

    def __init__(self, rawsocket: Optional[Factory], web: Optional[Factory], reactor: Any) -> None:
        self.rawsocket = rawsocket
        self.web = web
        self.reactor = reactor

    def buildProtocol(self, addr: Any) -> SniffingProtocol:
        return SniffingProtocol(self)

    def doStart(self) -> None:
        for factory in (self.rawsocket, self.web):
            if factory is not None:
                factory.doStart()

    def doStop(self) -> None:
        for factory in (self.rawsocket, self.web):
            if factory is not None:
                factory.doStop()
