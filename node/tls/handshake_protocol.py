"""Twisted's TLS protocol and factory, counting how each handshake ended (:mod:`node.tls.handshakes`).

Only the handshake is watched: once it is done, nothing is added per byte or message.
The protocol also writes a large message's pieces as they are (:meth:`CountingTLSProtocol.writeSequence`).
"""
from __future__ import annotations

from typing import Any, Iterable

from twisted.protocols.tls import TLSMemoryBIOFactory, TLSMemoryBIOProtocol

from node.tls.handshakes import HandshakeCounts, failure_class


JOIN_MAX = 64 * 1024
"""Pieces up to this size are joined before they are encrypted; larger ones are encrypted where they are."""


class CountingTLSProtocol(TLSMemoryBIOProtocol):
    """Twisted's TLS protocol, counting how its handshake ended."""

    _counted = False
    # write and writeSequence take memoryviews too: Twisted's write hands 16 KiB slices of
    # what it is given to pyOpenSSL's send, which reads any buffer
    # (node.fastpath.payload_parts.pieces_for then passes a forwarded message's parts)
    writes_buffers = True

    def writeSequence(self, iovec: Iterable[Any]) -> None:  # noqa: N802 (Twisted's name)
        """Twisted's joins every piece into one bytes object before it encrypts it: for a
        large message (a frame header, then the payload or a forwarded message's new head
        and received octets) a copy of the message, and on PyPy one more object of its size
        for the collector (a 16 MiB call over wss grew a router by 3.3 times the message on
        CPython). Here small pieces are joined as before (one TLS record for a header and a
        small payload) and a piece over :data:`JOIN_MAX` is encrypted where it is."""
        small: list = []
        for piece in iovec:
            if len(piece) <= JOIN_MAX:
                small.append(piece)
                continue
            if small:
                self.write(b"".join(small))
                small = []
            self.write(piece)
        if small:
            self.write(b"".join(small))

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
