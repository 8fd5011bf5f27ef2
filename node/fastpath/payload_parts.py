"""A payload that leaves in two parts: a small head the router wrote, then octets it received.

A large message whose arguments are forwarded as they came (:mod:`node.wire.splice`)
is its new head followed by the received octets. Joining them copies the octets into
a new object of the message's size: about 20 µs per MiB on CPython, and on PyPy two
copies and two more large objects for its garbage collector per message sent. The
WebSocket and RawSocket senders write a :class:`PayloadParts` as it is, after their
frame header or length prefix, with the node's TCP and Unix connections
(:mod:`node.fastpath.write_coalescing`: one ``sendmsg``), and joined to other
transports (:func:`pieces_for` decides); anything else asks for :meth:`PayloadParts.joined`.
"""
from __future__ import annotations

import platform
from typing import Any, Tuple

from node.fastpath.raw_send import RAW_SEND_MIN, SENDS_FROM_BUFFERS

# PyPy's join copies a memoryview's octets one at a time (0.9 ms per MiB, against 0.4 ms
# for tobytes and a concatenation); CPython's join copies them once
_JOIN_COPIES_BY_OCTET = platform.python_implementation() == "PyPy"
# PyPy's sendmsg copies a memoryview piece into fresh memory on every call (a 1 MiB piece:
# 0.8-0.95 ms against 0.3 ms for bytes): octets up to this size are made bytes once;
# larger ones the node sends from the view's memory itself (node.fastpath.raw_send), or
# without cffi, from 4 MiB on, leaves to sendmsg's copies
if not _JOIN_COPIES_BY_OCTET:
    OCTETS_AS_BYTES_MAX = -1
else:
    OCTETS_AS_BYTES_MAX = RAW_SEND_MIN - 1 if SENDS_FROM_BUFFERS else 4 * 1024 * 1024


class PayloadParts:
    """``head`` (bytes) then ``octets``: a memoryview of a received payload's tail (from
    the arguments to its end), or on PyPy, up to :data:`OCTETS_AS_BYTES_MAX`, a bytes copy
    of that tail (sliced from the payload: 0.26 ms per MiB on PyPy, ``tobytes`` 0.4 ms).

    There the copy made once here is cheaper than the one its ``sendmsg`` makes of a
    memoryview for every subscriber the message goes to (a 1 MiB event to 10: 736-801
    -> 672-708 µs of router CPU per delivered MiB, six alternating runs; a 1 MiB call,
    sent once, the same either way). Above that size the view is kept: a 16 MiB message
    would otherwise hold one more object of its size until PyPy's collector frees it."""

    __slots__ = ("head", "octets", "size")

    def __init__(self, head: bytes, octets: Any) -> None:
        if len(octets) <= OCTETS_AS_BYTES_MAX:
            source = octets.obj
            octets = source[len(source) - len(octets):] if type(source) is bytes else octets.tobytes()
        self.head = head
        self.octets = octets
        self.size = len(head) + len(octets)

    def __len__(self) -> int:
        return self.size

    def joined(self) -> bytes:
        """The payload as one bytes object (a copy)."""
        if _JOIN_COPIES_BY_OCTET:
            octets = self.octets
            return self.head + (octets if type(octets) is bytes else octets.tobytes())
        return b"".join((self.head, self.octets))


def pieces_for(transport: Any, payload: Any) -> Tuple[Any, ...]:
    """``payload`` (bytes or :class:`PayloadParts`) as the pieces to hand ``transport``'s
    ``writeSequence`` after a frame header or length prefix: the parts as they are where
    it takes a memoryview (``writes_buffers``), else one bytes object."""
    if type(payload) is not PayloadParts:
        return (payload,)
    if getattr(transport, "writes_buffers", False):
        return (payload.head, payload.octets)
    return (payload.joined(),)
