"""Retained events of one realm: the last ``retain: true`` publication per topic, bounded.

A retained event outlives its publisher (that is its point), so without a bound
every distinct topic anyone ever published to with ``retain`` would stay in
memory for the life of the node. The store keeps at most ``max_events`` events and
``max_bytes`` of topic and payload; beyond either, the event retained longest ago
goes first. Publishing again to a topic makes its event the newest.
"""
from __future__ import annotations

from typing import Dict, Generic, Iterator, List, Tuple, TypeVar

from twisted.logger import Logger

log = Logger()

P = TypeVar("P")


def held_size(*values: object) -> int:
    """About the JSON size of ``values``: string and bytes lengths plus a few octets
    per number, item and container; walked with a stack (a payload may be deep)."""
    size = 0
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, (str, bytes, bytearray)):
            size += len(value) + 2
        elif isinstance(value, dict):
            size += 2 + len(value)
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            size += 2 + len(value)
            stack.extend(value)
        else:
            size += 8
    return size


class RetainedEvents(Generic[P]):
    """Topic -> retained publication, oldest first; 0 for a limit means none."""

    def __init__(self, max_events: int = 0, max_bytes: int = 0, realm: str = "") -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._realm = realm
        self._events: Dict[str, Tuple[P, int]] = {}  # insertion order = retention order
        self.bytes = 0
        self.dropped = 0  # events dropped to stay within the limits, over the realm's life

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[P]:
        return iter([publication for publication, _ in self._events.values()])

    def topics(self) -> List[str]:
        return list(self._events)

    def retain(self, topic: str, publication: P, size: int) -> None:
        """Keep ``publication`` (``size`` bytes held) as ``topic``'s retained event,
        replacing the one before; drop the oldest events while over a limit."""
        previous = self._events.pop(topic, None)
        if previous is not None:
            self.bytes -= previous[1]
        if self.max_bytes and size > self.max_bytes:
            self._dropped(1)  # it alone would push out everything else: not kept
            return
        self._events[topic] = (publication, size)
        self.bytes += size
        dropped = 0
        while (self.max_events and len(self._events) > self.max_events) or \
                (self.max_bytes and self.bytes > self.max_bytes):
            oldest = next(iter(self._events))
            self.bytes -= self._events.pop(oldest)[1]
            dropped += 1
        if dropped:
            self._dropped(dropped)

    def _dropped(self, count: int) -> None:
        if not self.dropped:  # once per realm: the operator learns the limit is reached
            log.warn("realm '{realm}' holds the most retained events its limits allow "
                     "({events} events, {bytes} bytes): the oldest are dropped (realm options "
                     "max_retained_events, max_retained_bytes)",
                     realm=self._realm, events=self.max_events or "no limit", bytes=self.max_bytes or "no limit")
        self.dropped += count
