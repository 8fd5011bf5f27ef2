"""Twisted's TLS protocol, writing a large message without copying it twice.

Twisted's ``TLSMemoryBIOProtocol`` joins the pieces of a ``writeSequence`` into one
bytes object (a copy of the message), then encrypts all of it at once into the TCP
connection's buffer, where the ciphertext waits for the peer (a second copy): a 16 MiB
call over wss grew a CPython router by 3.2 times the message, 1.5 times with
:class:`PacedTLSProtocol` (README, run S15). Pieces over :data:`JOIN_MAX` are encrypted
where they are, and one over :data:`PACE_STEP` a step at a time, as the TCP connection
sends what it holds.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Deque, Iterable, Optional

from twisted.protocols.tls import TLSMemoryBIOProtocol

JOIN_MAX = 64 * 1024
"""Pieces up to this size are joined before they are encrypted; larger ones are encrypted where they are."""
PACE_STEP = 256 * 1024
"""Plaintext encrypted at a time while a large write is paced (:meth:`PacedTLSProtocol.write`)."""


class _Pacer:
    """The producer the application registered (``max_outgoing_buffer``'s watcher), as the
    TLS protocol hands it to the TCP connection: a resume first encrypts the next steps of
    a paced write, and reaches the application only once none is left."""

    def __init__(self, producer: Any, tls: "PacedTLSProtocol") -> None:
        self.producer = producer
        self.tls = tls

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted API)
        self.producer.pauseProducing()

    def resumeProducing(self) -> None:  # noqa: N802 (Twisted API)
        if self.tls.pace():
            self.producer.resumeProducing()

    def stopProducing(self) -> None:  # noqa: N802 (Twisted API)
        self.producer.stopProducing()


class PacedTLSProtocol(TLSMemoryBIOProtocol):
    """Twisted's TLS protocol, taking memoryviews and pacing large writes."""

    # write and writeSequence take memoryviews too: Twisted's write hands 16 KiB slices of
    # what it is given to pyOpenSSL's send, which reads any buffer
    # (node.fastpath.payload_parts.pieces_for then passes a forwarded message's parts)
    writes_buffers = True
    paced_octets = 0  # plaintext waiting to be encrypted (counted by max_outgoing_buffer's watcher)
    _paced: Optional[Deque[Any]] = None  # plaintext pieces waiting, in order
    _close_when_paced = False
    _pacer: Optional[_Pacer] = None  # the registered streaming producer, wrapped: its resume paces

    def write(self, data: Any) -> None:
        """Twisted's encrypts all it is given at once, and the TCP connection then holds
        the whole ciphertext until the peer reads it: one more copy of a large message
        (on PyPy, thousands of 16 KiB objects that outlive their minor collection). A
        piece over :data:`PACE_STEP` is encrypted a step at a time instead, the next step
        when the TCP connection has sent what it held (its producer resumed), while a
        producer is registered to say so (``max_outgoing_buffer``, on by default);
        anything written meanwhile waits behind it, in order."""
        if self._paced:
            self._paced.append(data)
            self.paced_octets += len(data)
            return
        if len(data) <= PACE_STEP or self._pacer is None or self.disconnecting:
            TLSMemoryBIOProtocol.write(self, data)
            return
        self._paced = deque((data,))
        self.paced_octets = len(data)
        self.pace()

    def pace(self) -> bool:
        """Encrypt paced plaintext until the TCP connection holds enough to pause its
        producer, or none is left (then a deferred ``loseConnection`` happens); True if
        none is left."""
        paced, transport = self._paced, self.transport
        while paced and not self._lostTLSConnection:
            if getattr(transport, "producerPaused", False) and self._pacer is not None:
                return False  # its resume (_Pacer) brings the next step
            piece = paced[0]
            if len(piece) > PACE_STEP:
                view = piece if type(piece) is memoryview else memoryview(piece)
                paced[0] = view[PACE_STEP:]
                piece = view[:PACE_STEP]
            else:
                paced.popleft()
            self.paced_octets -= len(piece)
            TLSMemoryBIOProtocol.write(self, piece)
        self._drop_paced()
        if self._close_when_paced:
            self._close_when_paced = False
            TLSMemoryBIOProtocol.loseConnection(self)
        return True

    def registerProducer(self, producer: Any, streaming: bool) -> None:  # noqa: N802 (Twisted API)
        """A streaming producer is wrapped so that its resume paces; only then are large
        writes paced (a pull producer's resumes never reach this protocol)."""
        if streaming and not self._lostTLSConnection:
            pacer = _Pacer(producer, self)
            super().registerProducer(pacer, streaming)  # raises if one is registered already
            self._pacer = pacer
            return
        super().registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:  # noqa: N802 (Twisted API)
        """Without a producer no resume says when to go on: what is paced is encrypted now."""
        self._pacer = None  # pace() then does not wait
        if self._paced:
            self.pace()
        super().unregisterProducer()

    def loseConnection(self) -> None:  # noqa: N802 (Twisted API)
        """After what is paced is encrypted, as Twisted's waits for its own buffered writes."""
        if self._paced:
            self._close_when_paced = True
            return
        super().loseConnection()

    def _drop_paced(self) -> None:
        """Nothing paced any more: all of it was encrypted, or it never will be."""
        self._paced = None
        self.paced_octets = 0

    def abortConnection(self) -> None:  # noqa: N802 (Twisted API)
        self._drop_paced()
        super().abortConnection()

    def writeSequence(self, iovec: Iterable[Any]) -> None:  # noqa: N802 (Twisted's name)
        """Twisted's joins every piece into one bytes object before it encrypts it: for a
        large message (a frame header, then the payload or a forwarded message's new head
        and received octets) a copy of the message, and on PyPy one more object of its size
        for the collector. Here small pieces are joined as before (one TLS record for a
        header and a small payload) and a piece over :data:`JOIN_MAX` is encrypted where it is."""
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

    def connectionLost(self, reason: Any) -> None:  # noqa: N802 (Twisted's name)
        self._drop_paced()
        super().connectionLost(reason)
