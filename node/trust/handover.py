"""A protocol that stands in front of a connection, then hands it to the real one.

Outgoing connections pass through stages before the application protocol may
speak: an HTTP proxy's CONNECT answer (:mod:`node.tunnel.proxy`), a TLS handshake
that our trust policy must accept (:mod:`node.trust.connect`). Each stage is a
:class:`HandoverProtocol`; once it is satisfied it builds the inner protocol and
forwards every byte and every half-close to it from then on.
"""
from __future__ import annotations

from typing import Any, Optional

from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer


@implementer(IHalfCloseableProtocol)
class HandoverProtocol(Protocol):
    """Subclasses decide when to call :meth:`hand_over`; until then ``inner`` is None.

    ``connectionLost`` reaches the inner protocol once there is one; before that a
    subclass's :meth:`lost_before_handover` says why the stage failed.
    """

    inner: Optional[Protocol] = None

    def hand_over(self, factory: Factory, addr: Any) -> Protocol:
        self.inner = factory.buildProtocol(addr)
        self.inner.makeConnection(self.transport)
        return self.inner

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted API)
        if self.inner is not None:
            self.inner.dataReceived(data)

    def readConnectionLost(self) -> None:  # noqa: N802
        if self.inner is not None and IHalfCloseableProtocol.providedBy(self.inner):
            self.inner.readConnectionLost()
        elif self.transport is not None:
            self.transport.loseConnection()

    def writeConnectionLost(self) -> None:  # noqa: N802
        if self.inner is not None and IHalfCloseableProtocol.providedBy(self.inner):
            self.inner.writeConnectionLost()

    def connectionLost(self, reason: Failure) -> None:  # noqa: N802
        if self.inner is not None:
            self.inner.connectionLost(reason)
        else:
            self.lost_before_handover(reason)

    def lost_before_handover(self, reason: Failure) -> None:
        """The connection ended before the hand-over: report why (subclasses)."""
