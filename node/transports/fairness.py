"""Read each WAMP connection in small slices, so one busy peer cannot hold the reactor.

Twisted reads up to ``bufferSize`` (64 KiB) from a ready socket per turn of the
reactor and hands all of it to the protocol, which decodes and routes every
message in it before the next socket gets its turn. 64 KiB of small PUBLISH
messages is over a thousand messages, tens of milliseconds of routing: a session
flooding the router adds that much to every other session's round trip, on every
turn. Reading at most ``READ_SLICE`` per turn keeps the router's round-robin over
connections fine-grained (measured in ``tests/test_fairness.py``); a bulk transfer
pays one more ``recv`` per slice, which is small beside decoding the bytes.

To Twisted, ``bufferSize`` is also the write-buffer level at which it pauses a
registered producer; the node's TCP and Unix connections pause theirs at their own
level instead (``WRITE_BUFFER`` in :mod:`node.fastpath.write_coalescing`), so a
16 KiB read slice does not make every message over 16 KiB pause and resume it.

A large message is the exception (issue 17): once its header has come, the rest
of it is bytes to copy, unmask and validate, a few microseconds per 16 KiB,
against the ten or so microseconds each turn of the reactor and each call into
the protocol cost. :func:`read_rest` lets the protocol read the rest of the
message it is in the middle of in steps of up to :data:`LARGE_READ` (never past
its end, so whatever follows it is still read in slices): a 1 MiB call costs
the router about 30 % less CPU (``call_1mib``, 2.4 against 3.4 ms).
"""
from __future__ import annotations

from typing import Any, Optional

from twisted.internet.abstract import FileDescriptor

READ_SLICE = 16 * 1024
LARGE_READ = 1024 * 1024  # most read per turn while the rest of a large message comes


def read_in_slices(transport: Any, size: int = READ_SLICE) -> Optional[FileDescriptor]:
    """Set the per-turn read size on the socket under ``transport``; return that socket
    (None: not found) for :func:`read_rest`."""
    layer = socket_layer(transport)
    if layer is not None:
        layer.bufferSize = size
    return layer


def socket_layer(transport: Any) -> Optional[FileDescriptor]:
    """The socket under ``transport`` (through TLS and other protocol wrappers, whose
    ``transport`` is the next layer down), or None."""
    layer = transport
    for _ in range(6):
        if isinstance(layer, FileDescriptor):
            return layer
        layer = layer.__dict__.get("transport") if hasattr(layer, "__dict__") else None
        if layer is None:
            return None
    return None


def read_rest(reader: Optional[FileDescriptor], missing: int) -> None:
    """Read up to ``missing`` octets (what the message being received still lacks;
    0: none) per turn, within :data:`READ_SLICE` and :data:`LARGE_READ`."""
    if reader is not None:
        reader.bufferSize = READ_SLICE if missing <= READ_SLICE else min(missing, LARGE_READ)


def read_rest_now(reader: Optional[FileDescriptor], missing: int, protocol: Any) -> None:
    """:func:`read_rest`, and read that much once more in this turn if ``reader`` can
    (``read_more_now``: :class:`node.fastpath.write_coalescing.CoalescingWrites`) and
    reads straight for ``protocol`` (not through TLS, whose layer is not made to be
    entered again while it delivers).

    The rest of a message that has begun is usually in the socket already: its
    sender wrote it whole. Reading it in the next turn costs a turn through the
    poller per large message (64 KiB calls: one ``epoll_wait`` and one dispatch for
    each of the two that come in). Called once per message, as it begins (a sender
    that writes in steps, as Twisted's 128 KiB ones, would otherwise cost a vain
    ``recv`` per step), and within :data:`LARGE_READ`, so a connection never reads more
    per turn than one slice and one step of a large message."""
    read_rest(reader, missing)
    more = getattr(reader, "read_more_now", None)
    if more is not None and missing > READ_SLICE and reader.protocol is protocol:  # type: ignore[union-attr]
        more()
