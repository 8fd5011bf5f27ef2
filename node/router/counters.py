"""What the router has done, as plain counts that metrics read when they are scraped.

Counting sits on the hot path (every message received, every EVENT delivered),
so it is as cheap as Python allows: integer attributes of slotted objects and
lists indexed by the WAMP message code, incremented in place; no lock (the
router runs on one thread), no dictionary per message, no metrics library
object. Dictionaries hold only what changes per session or per failure (open
sessions per listener, close reasons, failed logins per method), never per
routed message. :mod:`node.web.metrics` turns these into Prometheus metrics at
scrape time.
"""
from __future__ import annotations

from typing import Dict

# WAMP message codes are below 71 (YIELD is 70): a list this long is indexed by the code
MESSAGE_CODES = 71

# why a joined session ended (``wampnode_sessions_closed_total{reason}``)
CLOSE_GOODBYE = "goodbye"  # the client said GOODBYE
CLOSE_ABORT = "abort"  # the client sent ABORT
CLOSE_KILLED = "killed"  # the router ended it (wamp.session.kill, shutdown GOODBYE)
CLOSE_VIOLATION = "violation"  # the client broke the protocol
CLOSE_ERROR = "error"  # the router aborted it otherwise (a message too large for it, an internal fault)
CLOSE_LOST = "lost"  # the connection went without a WAMP goodbye
CLOSE_REASONS = (CLOSE_GOODBYE, CLOSE_ABORT, CLOSE_KILLED, CLOSE_VIOLATION, CLOSE_ERROR, CLOSE_LOST)

# why a caller got ERROR (``wampnode_call_errors_total{reason}``)
CALL_CALLEE = "callee"  # the callee answered ERROR
CALL_NO_SUCH_PROCEDURE = "no_such_procedure"
CALL_NOT_AUTHORIZED = "not_authorized"
CALL_INVALID_URI = "invalid_uri"
CALL_LIMIT = "limit_exceeded"  # max_pending_calls_per_session
CALL_CANCELED = "canceled"  # the caller canceled
CALL_TIMEOUT = "timeout"  # the call's timeout expired
CALL_CALLEE_GONE = "callee_gone"
CALL_TOO_LARGE = "too_large"  # the RESULT exceeded the caller's size limit
CALL_META = "meta"  # a meta procedure refused (no such session ...)
CALL_ERROR_REASONS = (CALL_CALLEE, CALL_NO_SUCH_PROCEDURE, CALL_NOT_AUTHORIZED, CALL_INVALID_URI, CALL_LIMIT,
                      CALL_CANCELED, CALL_TIMEOUT, CALL_CALLEE_GONE, CALL_TOO_LARGE, CALL_META)


class Listener:
    """The sessions of one WAMP service of one transport (a session factory).

    ``transport`` is the configured transport ID and ``kind`` ``websocket`` or
    ``rawsocket``: the labels of the sessions counted through it.
    """

    __slots__ = ("transport", "kind", "violations", "hello_timeouts")

    def __init__(self, transport: str = "", kind: str = "") -> None:
        self.transport = transport
        self.kind = kind
        self.violations = 0  # sessions aborted for a protocol violation the router found
        self.hello_timeouts = 0  # connections closed by hello_timeout


class RouterCounts:
    """Counts of one router process, over all realms."""

    __slots__ = ("received", "sent", "auth_ok", "auth_failed")

    def __init__(self) -> None:
        self.received = [0] * MESSAGE_CODES  # WAMP messages from clients, by message code
        self.sent = [0] * MESSAGE_CODES  # WAMP messages to clients, by code: the transports count them as written
        self.auth_ok: Dict[str, int] = {}  # authmethod -> sessions welcomed
        self.auth_failed: Dict[str, int] = {}  # authmethod -> failed authentications


class RealmCounts:
    """Counts of one realm in this process (sessions of other processes are theirs to count)."""

    __slots__ = ("open", "opened", "closed", "publications", "events", "calls", "call_errors", "call_timeouts",
                 "call_cancels")

    def __init__(self) -> None:
        self.open: Dict[Listener, int] = {}  # sessions joined now, by listener
        self.opened = 0
        self.closed: Dict[str, int] = dict.fromkeys(CLOSE_REASONS, 0)
        self.publications = 0  # PUBLISH routed (authorized) from sessions of this process
        self.events = 0  # EVENT messages handed to subscribers here (meta events included)
        self.calls = 0  # CALLs received (further chunks of a progressive call not counted)
        self.call_errors: Dict[str, int] = dict.fromkeys(CALL_ERROR_REASONS, 0)
        self.call_timeouts = 0
        self.call_cancels = 0

    def joined(self, listener: Listener) -> None:
        self.opened += 1
        self.open[listener] = self.open.get(listener, 0) + 1

    def left(self, listener: Listener, reason: str) -> None:
        self.open[listener] = self.open.get(listener, 1) - 1
        self.closed[reason] = self.closed.get(reason, 0) + 1

    def call_error(self, reason: str) -> None:
        self.call_errors[reason] += 1

    def session_count(self) -> int:
        return sum(self.open.values())
