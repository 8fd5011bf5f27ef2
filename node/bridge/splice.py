"""Two byte streams joined both ways, with backpressure and half-close.

The ``reverseproxy`` path hands a WebSocket upgrade (or any ``Upgrade``) to
its server this way once the request head is passed on: from then on the node
relays octets without reading them. As in :mod:`node.bridge.relay`, each side's
transport is the streaming producer of the other, so a full socket buffer on
one side stops reading on the other; an end of stream (FIN) on one side is
passed on as a half-close where the other transport can do one, and a
connection lost on one side closes the other.
"""
from __future__ import annotations

from typing import Any, List, Optional

from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Protocol
from zope.interface import implementer


@implementer(IHalfCloseableProtocol)
class SpliceEnd(Protocol):
    """One side of a splice; what it receives goes to ``other``'s transport."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.other: Optional["SpliceEnd"] = None
        self.octets = 0  # received on this side
        self.held: List[bytes] = []  # received before the other side was up
        self.lost = False

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted API)
        self.octets += len(data)
        other = self.other
        if other is None or other.transport is None:
            self.held.append(data)
            self.transport.pauseProducing()  # until the other side is up
        else:
            other.transport.write(data)

    def readConnectionLost(self) -> None:  # noqa: N802
        other = self.other
        if other is None or other.transport is None:
            return
        half_close = getattr(other.transport, "loseWriteConnection", None)
        if half_close is not None:
            half_close()
        else:
            other.transport.loseConnection()

    def writeConnectionLost(self) -> None:  # noqa: N802
        pass

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        self.lost = True
        other = self.other
        if other is not None and other.transport is not None and not other.lost:
            if getattr(other.transport, "producer", None) is not None:
                other.transport.unregisterProducer()
            other.transport.loseConnection()


def splice(a: SpliceEnd, b: SpliceEnd) -> None:
    """Join two connected ends: what each held is passed on, backpressure both ways."""
    a.other, b.other = b, a
    for one, two in ((a, b), (b, a)):
        if getattr(two.transport, "producer", None) is not None:
            two.transport.unregisterProducer()
        two.transport.registerProducer(one.transport, True)
    for one, two in ((a, b), (b, a)):
        held, one.held = one.held, []
        for data in held:
            two.transport.write(data)
        one.transport.resumeProducing()
