"""Read each WAMP connection in small slices, so one busy peer cannot hold the reactor.

Twisted reads up to ``bufferSize`` (64 KiB) from a ready socket per turn of the
reactor and hands all of it to the protocol, which decodes and routes every
message in it before the next socket gets its turn. 64 KiB of small PUBLISH
messages is over a thousand messages, tens of milliseconds of routing: a session
flooding the router adds that much to every other session's round trip, on every
turn. Reading at most ``READ_SLICE`` per turn keeps the router's round-robin over
connections fine-grained (measured in ``tests/test_fairness.py``); a bulk transfer
pays one more ``recv`` per slice, which is small beside decoding the bytes.

``bufferSize`` is also the write-buffer level at which Twisted pauses a
registered producer (see :mod:`node.transports.backpressure`), which a smaller
value only makes earlier.
"""
from __future__ import annotations

from typing import Any, Optional

from twisted.internet.abstract import FileDescriptor

READ_SLICE = 16 * 1024


def read_in_slices(transport: Any, size: int = READ_SLICE) -> None:
    """Set the per-turn read size on the socket under ``transport``."""
    layer = socket_layer(transport)
    if layer is not None:
        layer.bufferSize = size


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
