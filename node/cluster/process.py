"""The backplane side of one router process: join before listening, leave after closing.

:func:`node.process.node` starts a :class:`ClusterProcess` before the node listens, so
a client that connects can already reach every session of the router, and
stops it after the node has closed its connections, so that the others hear
every session leave before this process says goodbye.
"""
from __future__ import annotations

import os
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from node.cluster.backplane import BackplaneError, NatsBackplane, redact
from node.cluster.member import ClusterMember
from node.cluster.reports import ClusterReports

log = Logger()

URL_VARIABLE = "WAMPNODE_BACKPLANE_URL"  # set by the supervisor for its private nats-server
INDEX_VARIABLE = "WAMPNODE_PROCESS"  # "2/4": this process's number, for log lines
DEFAULT_PREFIX = "wampnode"
SETTLE_SECONDS = 0.3  # time for the other processes to answer our first heartbeat
SYNC_TIMEOUT_SECONDS = 3.0


class ClusterProcess:
    """A :class:`ClusterMember` for ``router``, connected to NATS."""

    def __init__(self, cluster: Any, router: Any, reactor: Any) -> None:
        backplane = cluster.backplane
        self.url = os.environ.get(URL_VARIABLE) or (backplane.url if backplane is not None else None)
        if not self.url:
            raise BackplaneError("workers[0].options.backplane.url", "no NATS server to join",
                                 "Name one in backplane.url, or start the node with `wampnode start`")
        prefix = backplane.subject_prefix if backplane is not None else DEFAULT_PREFIX
        self.reactor = reactor
        self.label = os.environ.get(INDEX_VARIABLE, "1/1")
        self.member = ClusterMember(router, self._send, prefix, reactor, label=self.label)
        self.bus = NatsBackplane(self.url, self.member.receive,
                                 name=f"wampnode {self.label} pid {os.getpid()} {self.member.member_id[:8]}")
        # metrics and dashboard reads gather every process's numbers through this
        self.reports = self.member.reports = ClusterReports(self.member, self.bus, reactor, self.label)

    def _send(self, subject: str, frame: list) -> None:
        self.bus.send(subject, frame)

    @defer.inlineCallbacks
    def start(self) -> Any:
        """Connect, announce this process, and wait until the others have sent their sessions."""
        yield self.bus.connect([self.member.all_subject, self.member.inbox])
        self.member.start()
        waited = 0.0
        while waited < SETTLE_SECONDS or (not self.member.synced() and waited < SYNC_TIMEOUT_SECONDS):
            yield _sleep(self.reactor, 0.05)
            waited += 0.05
        log.info("Backplane: joined NATS at {url} as {member} with {count} other process(es), "
                 "{sessions} session(s) there", url=redact(self.url), member=self.member.member_id[:8],
                 count=len(self.member.members), sessions=self.member.remote_session_count())

    @defer.inlineCallbacks
    def stop(self) -> Any:
        self.member.stop()
        yield self.bus.close()


def _sleep(reactor: Any, seconds: float) -> defer.Deferred:
    d: defer.Deferred = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d
