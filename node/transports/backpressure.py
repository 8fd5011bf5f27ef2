"""``max_outgoing_buffer``: a peer that stops reading is dropped, not buffered for.

Twisted keeps whatever a socket cannot take yet in user space, without bound: a
subscriber that stops reading (a suspended laptop, a wedged client, a hostile
one) makes the router's memory grow with every event published to it (Crossbar.io
has the same problem, its issues #583 and #874, and no knob for it).

:class:`OutgoingLimit` is a streaming producer registered on the connection's
transport. Twisted calls ``pauseProducing`` when the transport holds more than its
``bufferSize`` unsent (the node's TCP and Unix connections: ``WRITE_BUFFER``, 256 KiB,
:mod:`node.fastpath.write_coalescing`), and ``resumeProducing`` once everything is sent. While
paused, each WAMP message sent checks the bytes the connection's socket layer
still holds unsent; when they pass the limit (not counting the message that filled
the buffer: one message may be larger than the limit) the connection is aborted
(``abortConnection`` frees the buffer at once, where a polite close would wait for
a peer that is not reading), and the router sees an ordinary disconnect. So at most
``max_outgoing_buffer`` plus two messages wait per connection.

What waits is measured, not the bytes sent since the pause: a subscriber that
keeps reading a steady stream of large events, whose buffer seldom empties, is
not a peer that stopped reading. (A transport whose socket layer cannot be found
falls back to adding up the bytes sent since the pause.)

While the peer is not reading, the router also stops reading from it: a client
cannot keep sending calls whose results it does not collect.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from twisted.internet.interfaces import IPushProducer
from twisted.logger import Logger
from zope.interface import implementer

from node.transports.counts import MAX_OUTGOING_BUFFER, TransportCounts, refused
from node.transports.fairness import socket_layer

log = Logger()


@implementer(IPushProducer)
class OutgoingLimit:
    """Watches one connection's unsent bytes; calls ``on_exceeded`` once past ``limit``."""

    __slots__ = ("limit", "paused", "queued", "exceeded", "_fresh", "_allowance", "_transport", "_socket",
                 "_on_exceeded")
    resumes_inline = True  # resumeProducing only reads again (node.fastpath.write_coalescing)

    def __init__(self, transport: Any, limit: int, on_exceeded: Callable[[int], None]) -> None:
        self.limit = limit
        self.paused = False
        self.queued = 0
        self.exceeded = False
        self._fresh = False
        self._allowance = 0  # the size of the message that filled the buffer
        self._transport = transport
        self._socket = socket_layer(transport)  # whose unsent bytes are measured; None: count sends
        self._on_exceeded = on_exceeded

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted API)
        if self.paused:  # Twisted calls this on every write while its buffer is full
            return
        self.paused = True
        self.queued = 0
        self._fresh = True  # the message being written when the buffer filled is not counted
        pause = getattr(self._transport, "pauseProducing", None)
        if pause is not None:
            pause()

    def resumeProducing(self) -> None:  # noqa: N802 (Twisted API)
        self.paused = False
        self.queued = 0
        resume = getattr(self._transport, "resumeProducing", None)
        if resume is not None and not self.exceeded:
            resume()

    def stopProducing(self) -> None:  # noqa: N802 (Twisted API)
        self.paused = False

    def sent(self, size: int) -> None:
        """Check the unsent bytes after one message of ``size`` bytes was handed to the transport."""
        if self.paused:
            if self._fresh:
                self._fresh = False
                self._allowance = size
                return
            layer = self._socket
            if layer is not None:  # plus, over TLS, plaintext not encrypted yet (node.tls.paced_writes)
                self.queued = (len(layer.dataBuffer) - layer.offset + layer._tempDataLen
                               + getattr(self._transport, "paced_octets", 0) - self._allowance)
            else:
                self.queued += size
            if self.queued > self.limit and not self.exceeded:
                self.exceeded = True
                self._on_exceeded(self.queued)


class NoLimit:
    """Stands in for :class:`OutgoingLimit` when ``max_outgoing_buffer`` is 0."""

    __slots__ = ()
    paused = False

    def sent(self, size: int) -> None:
        pass


NO_LIMIT = NoLimit()


def watch_outgoing(transport: Any, limit: int, peer: str, counts: Optional[TransportCounts] = None) -> Any:
    """Register an :class:`OutgoingLimit` on ``transport`` (or return a no-op when
    ``limit`` is 0). Exceeding it logs one warning, counts it and aborts the connection."""
    if limit <= 0 or transport is None:
        return NO_LIMIT

    def exceeded(queued: int) -> None:
        refused(counts, MAX_OUTGOING_BUFFER)
        log.warn("Dropping {peer}: it is not reading; {queued} bytes waiting to be sent exceed "
                 "max_outgoing_buffer {limit}", peer=peer, queued=queued, limit=limit)
        transport.abortConnection()

    watcher = OutgoingLimit(transport, limit, exceeded)
    if getattr(transport, "producer", None) is not None:
        # A WebSocket that took over a Twisted Web connection: the HTTP channel
        # is still registered as the producer and no longer serves anything.
        transport.unregisterProducer()
    try:
        transport.registerProducer(watcher, True)
    except RuntimeError:  # some other producer holds the slot; then only watch sends
        try:
            transport.unregisterProducer()
            transport.registerProducer(watcher, True)
        except Exception:  # a transport without producer support: no limit, no harm
            return NO_LIMIT
    return watcher
