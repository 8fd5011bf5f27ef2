"""Messages too large for the session that should receive them: what goes instead.

A transport refuses to send a message over the receiving peer's size limit
(:mod:`node.wire.size`: WebSocket, the transport's ``max_message_size``;
RawSocket, the limit the client announced). Such a message must never vanish
with only a log line, leaving a caller waiting forever. WAMP names the error:
``wamp.error.payload_size_exceeded``, "a message could not be delivered due to
transport payload size limits". For a joined session the realm sends instead
(:meth:`RealmRouter.undeliverable <node.router.realm.RealmRouter.undeliverable>`):

============== ===================================================================
RESULT         the caller gets ERROR ``payload_size_exceeded`` for its CALL. A call
               still sending progressive results ends there; its callee gets
               INTERRUPT (``killnowait``) if it announced call canceling. The
               callee is not sent an ERROR for its YIELD: WAMP defines ERROR only
               as the answer to a request, and YIELD is none (autobahn clients
               treat an unexpected ERROR as a protocol violation).
ERROR          an ERROR with the same request and ``payload_size_exceeded``,
               without the payload (the original error URI is in its text).
INVOCATION     handled as if the callee had answered ERROR ``payload_size_exceeded``:
               the caller gets that ERROR and the call ends (also for a call
               relayed from another process, whose caller gets it there).
EVENT          skipped for that subscriber only; other subscribers get it.
anything else  a warning only (router replies such as SUBSCRIBED are tiny).
============== ===================================================================

Each case is counted per realm and message type (:class:`Undeliverable`) and logged
as a warning naming the session and the sizes, at most one line per type and
``interval`` (with the count so far), so a stream of oversized events cannot flood
the log.
"""
from __future__ import annotations

import time
from typing import Callable, Dict, Optional

from twisted.logger import Logger

log = Logger()

PAYLOAD_SIZE_EXCEEDED = "wamp.error.payload_size_exceeded"
WARN_INTERVAL = 10.0  # seconds between two warnings about one message type on one realm


def too_large_text(what: str, size: Optional[int], limit: Optional[int], receiver: str) -> str:
    """``"RESULT of 1,769,472 octets exceeds the caller's limit of 1,048,576 octets"``."""
    size_text = f"{size:,} octets" if isinstance(size, int) else "a size"
    limit_text = f"{limit:,} octets" if isinstance(limit, int) else "its transport's"
    return f"{what} of {size_text} exceeds the {receiver}'s limit of {limit_text}"


class Undeliverable:
    """Counts the messages of one realm that exceeded their receiver's limit, by type;
    one warning per type and ``interval`` at most (``now``: a monotonic clock)."""

    def __init__(self, realm: str, interval: float = WARN_INTERVAL,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.realm = realm
        self.interval = interval
        self.counts: Dict[str, int] = {}
        self._now = now
        self._last_warning: Dict[str, float] = {}
        self._unreported: Dict[str, int] = {}

    def count(self, what: str, session_id: int, size: Optional[int], limit: Optional[int], outcome: str) -> None:
        """Count one message of type ``what`` (e.g. ``EVENT``); ``outcome`` says what happened instead."""
        self.counts[what] = self.counts.get(what, 0) + 1
        now = self._now()
        last = self._last_warning.get(what)
        if last is not None and now - last < self.interval:
            self._unreported[what] = self._unreported.get(what, 0) + 1
            return
        unreported = self._unreported.pop(what, 0)
        log.warn("{what} of {size} octets for session {session} on realm {realm} exceeds its limit of "
                 "{limit} octets: {outcome} ({count} {what} too large on this realm so far{unreported})",
                 what=what, size=size, session=session_id, realm=self.realm, limit=limit, outcome=outcome,
                 count=self.counts[what],
                 unreported=f", {unreported} not logged since the last line" if unreported else "")
        self._last_warning[what] = now
