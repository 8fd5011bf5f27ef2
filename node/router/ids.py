"""WAMP identifiers, as the spec's "ID scopes" section defines them.

Global scope IDs (sessions, publications) are drawn at random from [1, 2^53] so
that they cannot be guessed; router scope IDs (subscriptions, registrations) are
random too, so that they stay unique if routing later spans processes; session
scope IDs (the router's own requests to one peer, e.g. INVOCATION) count up from 1.
"""
from __future__ import annotations

import os
import time

MAX_ID = 2**53
_POOL_SIZE = 4096


class _RandomPool:
    """Bytes from ``os.urandom``, read 4 KiB at a time.

    Every session and publication needs an unguessable ID; one ``getrandom``
    system call per ID (``random.SystemRandom``) was a visible share of a
    publication's cost. The bytes are the kernel's all the same, and a forked
    child starts with a fresh pool so that it never repeats its parent's IDs.
    """

    def __init__(self) -> None:
        self._pool = b""
        self._pos = 0

    def take(self, count: int) -> bytes:
        pos = self._pos
        if pos + count > len(self._pool):
            self._pool = os.urandom(max(_POOL_SIZE, count))
            pos = 0
        self._pos = pos + count
        return self._pool[pos:pos + count]

    def reset(self) -> None:
        self._pool = b""
        self._pos = 0


_POOL = _RandomPool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.reset)


def random_bytes(count: int) -> bytes:
    """``count`` bytes from the operating system's CSPRNG."""
    return _POOL.take(count)


def random_id() -> int:
    """A random ID in [1, 2^53], as required for global scope IDs (uniform)."""
    return (int.from_bytes(_POOL.take(7), "big") & (MAX_ID - 1)) + 1


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
