"""WAMP identifiers, as the spec's "ID scopes" section defines them.

Global scope IDs (sessions, publications) are drawn at random from [1, 2^53] so
that they cannot be guessed; router scope IDs (subscriptions, registrations) are
random too, so that they stay unique if routing later spans processes; session
scope IDs (the router's own requests to one peer, e.g. INVOCATION) count up from 1.
"""
from __future__ import annotations

import random
import time

MAX_ID = 2**53

_random = random.SystemRandom()


def random_id() -> int:
    """A random ID in [1, 2^53], as required for global scope IDs."""
    return _random.randint(1, MAX_ID)


class SessionScopeIds:
    """Sequential IDs for requests the router sends to one session (1, 2, 3 ...)."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = 1 if self._last >= MAX_ID else self._last + 1
        return self._last


def iso_utc(timestamp: float) -> str:
    """A creation time as the meta API reports it: ISO 8601 UTC with milliseconds."""
    millis = int(timestamp % 1 * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp)) + f".{millis:03d}Z"
