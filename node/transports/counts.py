"""What one configured transport has seen, as plain counts that metrics read when scraped.

One :class:`TransportCounts` per transport (labelled by its ``id``). Its connections
add their bytes to it (:mod:`node.fastpath.write_coalescing`, one addition per read
or send), its TLS wrapper its handshakes (:mod:`node.tls.handshakes`), and its
WebSocket, RawSocket and HTTP code the connections it refused or dropped at a
limit and the peers whose bytes were no WAMP (:mod:`node.transports.violation`).
The WAMP sessions on it are counted by the router (:mod:`node.router.counters`).
"""
from __future__ import annotations

from typing import Dict, List, Optional

from node.router.counters import MESSAGE_CODES
from node.tls.handshakes import HandshakeCounts

# the limits that refuse or drop connections (``wampnode_connections_refused_total{limit}``)
MAX_CONNECTIONS = "max_connections"
MAX_OUTGOING_BUFFER = "max_outgoing_buffer"
OPEN_HANDSHAKE_TIMEOUT = "open_handshake_timeout"
REQUEST_HEAD_TIMEOUT = "request_head_timeout"
LIMITS = (MAX_CONNECTIONS, MAX_OUTGOING_BUFFER, OPEN_HANDSHAKE_TIMEOUT, REQUEST_HEAD_TIMEOUT)


class TransportCounts:
    """Counts of one transport in this process."""

    __slots__ = ("transport", "bytes_in", "bytes_out", "connections", "violations", "refused", "tls", "sent")

    def __init__(self, transport: str, tls: bool = False, sent: Optional[List[int]] = None) -> None:
        self.transport = transport  # the transport's id
        # WAMP messages written, by message code: the router's list (node.router.counters.RouterCounts.sent),
        # counted here where a message is serialized and written, not per routing decision
        self.sent: List[int] = sent if sent is not None else [0] * MESSAGE_CODES
        self.bytes_in = 0
        self.bytes_out = 0
        self.connections = 0  # accepted
        self.violations = 0  # connections whose bytes did not decode as WAMP
        self.refused: Dict[str, int] = dict.fromkeys(LIMITS, 0)
        self.tls: Optional[HandshakeCounts] = HandshakeCounts() if tls else None


def refused(counts: Optional[TransportCounts], limit: str) -> None:
    """Count one connection refused or dropped at ``limit`` (``counts`` None: not counted)."""
    if counts is not None:
        counts.refused[limit] += 1
