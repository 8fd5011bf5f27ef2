"""A serialized message over the receiving peer's size limit: refused, never cut or sent.

Which limit a transport applies to what it sends: WebSocket, the transport's own
``max_message_size`` (autobahn applies it to both directions; a WebSocket client
announces none); RawSocket, the largest message the client announced in its
handshake (512 octets to 16 MiB). A transport raises :class:`MessageTooLarge`
instead of sending; the router decides what goes instead (:mod:`node.router.oversize`).
"""
from __future__ import annotations

from autobahn.exception import PayloadExceededError


class MessageTooLarge(PayloadExceededError):
    """A message of ``size`` octets the peer (limit ``limit`` octets) would refuse.

    A ``PayloadExceededError``, as autobahn raises for the same fault, so that code
    catching autobahn's catches this too.
    """

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of {size} octets exceeds the peer's limit of {limit} octets")
        self.size = size
        self.limit = limit


def check_size(payload: bytes, limit: int) -> None:
    """Raise :class:`MessageTooLarge` if ``payload`` exceeds ``limit`` (0 or None: no limit)."""
    if limit and 0 < limit < len(payload):
        raise MessageTooLarge(len(payload), limit)
