"""A proxy worker reads a client no faster than the router takes what it relays.

Twisted keeps whatever a socket cannot take yet in user space, without bound. At a
proxy, a client relayed to a router that reads slower than the client writes (a busy
router, a slow link) would make the proxy keep everything the client sent: measured
before this module, one client pushed 3.6 GB into a proxy in 20 s. The other direction
is bounded already: the client's own connection has ``max_outgoing_buffer``.

:class:`RelayedReads` is a streaming producer registered on the connection to the
router. Twisted calls ``pauseProducing`` when that connection holds more than its
``bufferSize`` unsent, and ``resumeProducing`` once everything is sent; in between the
client's connection is not read, so the client's own socket fills and it slows down.
The client's connection may also be paused and resumed for its own outgoing limit
(:mod:`node.transports.backpressure`): reads are resumed here only when that limit does
not hold them, and every message relayed while the router's connection is still full
pauses the client again, so at most one read slips through each such resume.
"""
from __future__ import annotations

from typing import Any, Callable

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer


@implementer(IPushProducer)
class RelayedReads:
    """Pauses reading one client while its router connection is full.

    @param client: returns the client's WAMP transport (a protocol with ``transport``
        and ``outgoing``), or None once it is gone.
    """

    __slots__ = ("paused", "_client")

    def __init__(self, client: Callable[[], Any]) -> None:
        self.paused = False
        self._client = client

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted API)
        self.paused = True
        self.hold()

    def resumeProducing(self) -> None:  # noqa: N802 (Twisted API)
        self.paused = False
        protocol = self._client()
        connection = getattr(protocol, "transport", None)
        if connection is None or getattr(getattr(protocol, "outgoing", None), "paused", False):
            return  # gone, or held by its own outgoing limit, which resumes it in time
        resume = getattr(connection, "resumeProducing", None)
        if resume is not None:
            resume()

    def stopProducing(self) -> None:  # noqa: N802 (Twisted API)
        self.paused = False

    def hold(self) -> None:
        """While the router's connection is full, the client is not read (again, if
        something else resumed it meanwhile)."""
        if not self.paused:
            return
        connection = getattr(self._client(), "transport", None)
        pause = getattr(connection, "pauseProducing", None)
        if pause is not None:
            pause()


def register_relayed_reads(router_connection: Any, client: Callable[[], Any]) -> Any:
    """A :class:`RelayedReads` on ``router_connection`` (an autobahn client protocol), or
    None where its transport takes no producer."""
    transport = getattr(router_connection, "transport", None)
    register = getattr(transport, "registerProducer", None)
    if register is None:
        return None
    reads = RelayedReads(client)
    try:
        register(reads, True)
    except RuntimeError:  # a producer of its own already: leave it be
        return None
    return reads
