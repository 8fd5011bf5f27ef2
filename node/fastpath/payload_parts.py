"""A payload that leaves in two parts: a small head the router wrote, then octets it received.

A large message whose arguments are forwarded as they came (:mod:`node.wire.splice`)
is its new head followed by the received octets. Joining them copies the octets into
a new object of the message's size: about 20 µs per MiB on CPython, and on PyPy two
copies and two more large objects for its garbage collector per message sent. The
WebSocket and RawSocket senders write a :class:`PayloadParts` as it is, after their
frame header or length prefix, with the node's TCP and Unix connections
(:mod:`node.fastpath.write_coalescing`: one ``sendmsg``); anything else asks for
:meth:`PayloadParts.joined`.
"""
from __future__ import annotations

from typing import Any


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
        return self.head + self.octets.tobytes()
