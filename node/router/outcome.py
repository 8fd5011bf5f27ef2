"""The plain result of a routing decision: what to send to whom, and what follows.

Broker and dealer return an :class:`Outcome` instead of sending anything; the
realm delivers it. Because an outcome names receivers by session ID only, the
same decisions could be delivered by another process.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, List, Optional, Tuple

from autobahn.wamp.message import Message

# Not (yet) a standard URI: the name proposed in wamp-proto issue #510 for a
# request refused because it would take its session past a configured limit.
LIMIT_EXCEEDED = "wamp.error.limit_exceeded"


@dataclass
class MetaEvent:
    """An event the router itself publishes (``wamp.session.on_join`` ...)."""

    topic: str
    args: list
    kwargs: Optional[dict] = None


@dataclass
class Outcome:
    """Messages to deliver, router events to publish, and call timers to (un)set."""

    sends: List[Tuple[int, Message]] = field(default_factory=list)
    meta_events: List[MetaEvent] = field(default_factory=list)
    start_timers: List[Tuple[float, Hashable]] = field(default_factory=list)
    stop_timers: List[Hashable] = field(default_factory=list)

    def send(self, session_id: int, message: Message) -> "Outcome":
        self.sends.append((session_id, message))
        return self

    def meta(self, topic: str, *args: object, **kwargs: object) -> "Outcome":
        self.meta_events.append(MetaEvent(topic, list(args), kwargs or None))
        return self

    def extend(self, other: "Outcome") -> "Outcome":
        self.sends.extend(other.sends)
        self.meta_events.extend(other.meta_events)
        self.start_timers.extend(other.start_timers)
        self.stop_timers.extend(other.stop_timers)
        return self

    def recipients(self) -> List[int]:
        return [session_id for session_id, _ in self.sends]


def reply(session_id: int, message: Message) -> Outcome:
    """An outcome that sends one message to one session."""
    return Outcome().send(session_id, message)
