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

# PyPy's join copies a memoryview's octets one at a time (0.9 ms per MiB, against 0.4 ms
# for tobytes and a concatenation); CPython's join copies them once
_JOIN_COPIES_BY_OCTET = platform.python_implementation() == "PyPy"


class PayloadParts:
    """``head`` (bytes) then ``octets`` (a memoryview of a received payload)."""

    __slots__ = ("head", "octets", "size")

    def __init__(self, head: bytes, octets: Any) -> None:
        self.head = head
        self.octets = octets
        self.size = len(head) + len(octets)

    def __len__(self) -> int:
        return self.size

    def joined(self) -> bytes:
        """The payload as one bytes object (a copy)."""
        if _JOIN_COPIES_BY_OCTET:
            return self.head + self.octets.tobytes()
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
