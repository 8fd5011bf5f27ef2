"""Numbers of every router process, for a scrape or a dashboard read that reached one of them.

With ``processes: N`` a request to a ``metrics`` or ``dashboard`` path lands on
whichever process the kernel hands the connection to (the port is shared). That
process broadcasts a report request (``rq``) on the backplane; every other
process answers (``rp``, direct) with its own numbers, made by the ``provider``
the node gives it (:mod:`node.web.metrics`, :mod:`node.web.dashboard`). The
requester waits until all processes it knows have answered, or ``timeout``
seconds, and gets ``{process label: report, or None for one that did not answer}``.

Frames (see :mod:`node.cluster.member`):

=========== ========= ==========================================================
``rq``      all       request ID, what (``metrics`` or ``dashboard``)
``rp``      one       request ID, the sender's process label, the report
=========== ========= ==========================================================
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Dict, Optional

from twisted.internet import defer
from twisted.logger import Logger

log = Logger()

WHAT = ("metrics", "dashboard")


class _Pending:
    def __init__(self, expected: Dict[str, str], deferred: defer.Deferred, timer: Any) -> None:
        self.expected = expected  # member id -> process label
        self.answers: Dict[str, Any] = {}  # process label -> report
        self.deferred = deferred
        self.timer = timer


class ClusterReports:
    """Asks the other processes for their reports and answers theirs."""

    def __init__(self, member: Any, bus: Any, clock: Any, label: str) -> None:
        self.member = member  # node.cluster.member.ClusterMember (its counts are metrics too)
        self.bus = bus  # node.cluster.backplane.NatsBackplane
        self.clock = clock
        self.label = label
        self.provider: Optional[Callable[[str], Any]] = None  # what -> this process's report
        self._ids = itertools.count(1)
        self._pending: Dict[int, _Pending] = {}

    def gather(self, what: str, timeout: float) -> defer.Deferred:
        """A Deferred firing with the other processes' reports (None: no answer in time)."""
        expected = {mid: str(m.info.get("process") or mid[:8]) for mid, m in self.member.members.items()}
        d: defer.Deferred = defer.Deferred()
        if not expected:
            d.callback({})
            return d
        request = next(self._ids)
        pending = _Pending(expected, d, self.clock.callLater(timeout, self._finish, request))
        self._pending[request] = pending
        self.member.broadcast(["rq", self.member.member_id, request, what])
        return d

    def receive(self, kind: str, sender: str, rest: list) -> None:
        """An ``rq`` or ``rp`` frame from another process."""
        if kind == "rq" and len(rest) == 2 and rest[1] in WHAT:
            report = None
            if self.provider is not None:
                try:
                    report = self.provider(rest[1])
                except Exception:
                    log.failure("Backplane: cannot make the {what} report", what=rest[1])
            self.member.direct(sender, ["rp", self.member.member_id, rest[0], self.label, report])
        elif kind == "rp" and len(rest) == 3:
            pending = self._pending.get(rest[0]) if type(rest[0]) is int else None
            if pending is None or sender not in pending.expected:
                return
            pending.answers[pending.expected[sender]] = rest[2]
            if len(pending.answers) == len(pending.expected):
                self._finish(rest[0])

    def _finish(self, request: int) -> None:
        pending = self._pending.pop(request, None)
        if pending is None:
            return
        if pending.timer.active():
            pending.timer.cancel()
        reports = {label: pending.answers.get(label) for label in pending.expected.values()}
        pending.deferred.callback(reports)
