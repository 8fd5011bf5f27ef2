"""What a worker's own process (a container, a proxy) does around its work: signals,
the graceful stop on SIGTERM and the exit code.

The node starts such a process and tells it to stop with SIGTERM (:mod:`node.process.children`);
SIGINT and SIGHUP reach the whole process group from a terminal or systemd and are the
node's business, so the worker ignores them and waits for the node's SIGTERM.
"""
from __future__ import annotations

import signal
from typing import Any, Optional


class WorkerProcess:
    """Subclasses start their work in :meth:`start` and stop it in :meth:`stop_work`
    (a Deferred that fires once it has stopped); ``stop_deadline`` (seconds, None: no
    limit) ends the process anyway if stopping takes longer."""

    stop_deadline: Optional[float] = None

    def __init__(self, reactor: Any, notifier: Any) -> None:
        self.reactor = reactor
        self.notifier = notifier
        self.exit_code = 0
        self.stopping = False

    def begin(self) -> None:
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.start()

    def start(self) -> None:
        raise NotImplementedError

    def stop_work(self) -> Any:
        raise NotImplementedError

    def finish(self, code: int = 0) -> None:
        """Stop the work, then the process exits with ``code`` (the first call decides)."""
        if self.stopping:
            return
        self.stopping = True
        self.exit_code = code
        self.notifier.stopping()
        deadline = None
        if self.stop_deadline is not None:
            deadline = self.reactor.callLater(self.stop_deadline, self._stop_reactor)
        stopped = self.stop_work()
        if deadline is not None:
            stopped.addBoth(lambda _: deadline.cancel() if deadline.active() else None)
        stopped.addBoth(lambda _: self._stop_reactor())

    def _on_term(self, signum: int, frame: Any) -> None:
        self.reactor.callFromThread(self.finish, 0)

    def _stop_reactor(self) -> None:
        if self.reactor.running:
            self.reactor.stop()
