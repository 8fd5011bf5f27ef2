"""Twisted's TLS protocol and factory, counting how each handshake ended (:mod:`node.tls.handshakes`).

Only the handshake is watched: once it is done, nothing is added here per byte or
message. (The protocol's writes are :class:`node.tls.paced_writes.PacedTLSProtocol`'s, its
reads :class:`node.tls.reused_buffers.ReusedBufferTLS`'s.)
"""
from __future__ import annotations

from typing import Any

from twisted.protocols.tls import TLSMemoryBIOFactory

from node.tls.handshakes import HandshakeCounts, failure_class
from node.tls.paced_writes import PacedTLSProtocol
from node.tls.reused_buffers import ReusedBufferTLS


class CountingTLSProtocol(ReusedBufferTLS, PacedTLSProtocol):
    """Twisted's TLS protocol, counting how its handshake ended."""

    _counted = False

    def _checkHandshakeStatus(self) -> None:  # noqa: N802 (Twisted's name)
        super()._checkHandshakeStatus()
        if self._counted:
            return
        if self._handshakeDone:
            self._counted = True
            self.factory.handshakes.completed += 1
        elif self._lostTLSConnection:  # do_handshake raised: the handshake failed
            self._counted = True
            self.factory.handshakes.failed[failure_class(getattr(self._reason, "value", None))] += 1

    def connectionLost(self, reason: Any) -> None:  # noqa: N802 (Twisted's name)
        if not self._counted and not self._handshakeDone:
            self._counted = True
            self.factory.handshakes.failed["closed"] += 1
        super().connectionLost(reason)


class CountingTLSFactory(TLSMemoryBIOFactory):
    """``TLSMemoryBIOFactory`` whose connections count on ``handshakes``."""

    protocol = CountingTLSProtocol

    def __init__(self, creator: Any, wrapped: Any, handshakes: HandshakeCounts) -> None:
        super().__init__(creator, False, wrapped)
        self.handshakes = handshakes
