"""The application a node hosts beside its router: its container, guest and proxy workers
(a proxy is started, reports readiness and ends as a container does).

:class:`HostedWorkers` is what the node process sees of them: ``start()``,
``stop()`` and ``status()``.

- **Start** comes after the router listens (and its own components joined): each
  worker starts at once, in config order; the Deferred fires when every container
  has reported that all its components joined (guests have no readiness signal:
  started is ready). A container that ends before that and is not restarted
  fails the start (exit code 1).
- **Afterwards** a worker that ends is restarted as its ``restart`` says
  (:mod:`node.process.children`). One that is not: a guest stays down and the node
  carries on; a container stops the node (Crossbar.io's default node shutdown
  trigger ``shutdown_on_worker_exit``; its ``shutdown`` option decided whether it
  ended at all): exit code 0 if it exited with 0, else 1.
- **Stop**: every worker at once, SIGTERM then SIGKILL after its ``stop_timeout``
  (a container's components leave with GOODBYE on SIGTERM).
- **Status**: ``<cbdir>/node.status.json`` is rewritten at every change of state
  (:mod:`node.process.statusfile`), for ``wampnode status``; the nodeinfo page asks
  :meth:`HostedWorkers.status`.
"""
from __future__ import annotations

import signal
from typing import Any, Callable, Dict, List, Optional

from twisted.internet import defer
from twisted.logger import Logger

from node.config.model import ContainerWorker, GuestWorker, NodeConfig, ProxyWorker
from node.errors import NodeError
from node.process.children import Child, ContainerChild, GuestChild, ProxyChild
from node.process.notify import NotifyListener, notify_name
from node.process.statusfile import remove_status, write_status
from node.workers.node_key import ensure_node_key

log = Logger()


class WorkerStartError(NodeError):
    """A container ended before its components joined, and is not restarted."""


def reap_children(reactor: Any) -> None:
    """Have ended children reaped where the reactor runs without Twisted's signal handlers
    (the node installs its own): on SIGCHLD, Twisted's ``reapAllProcesses`` in the reactor thread."""
    from twisted.internet import process  # Twisted's POSIX process support: only with children to reap

    if signal.getsignal(signal.SIGCHLD) not in (signal.SIG_DFL, None):
        return  # Twisted's own handler (or another) is in place

    def on_child(signum: int, frame: Any) -> None:
        reactor.callFromThread(process.reapAllProcesses)

    signal.signal(signal.SIGCHLD, on_child)
    signal.siginterrupt(signal.SIGCHLD, False)
    process.reapAllProcesses()  # any that ended before the handler was in place


class HostedWorkers:
    """The node's container and guest workers.

    @param on_exit: called with an exit code when a container ended for good after the
        start: the node stops.
    @param loglevel: the node's, given to the container processes.
    """

    def __init__(self, config: NodeConfig, reactor: Any, loglevel: str = "info",
                 on_exit: Optional[Callable[[int], None]] = None) -> None:
        self.config = config
        self.reactor = reactor
        self.on_exit = on_exit or (lambda code: None)
        self.notify_name = notify_name("wampnode-workers")
        self.children: List[Child] = []
        self.disabled: List[ContainerWorker] = []
        for worker in config.workers:
            if isinstance(worker, GuestWorker):
                self.children.append(GuestChild(worker, reactor, self))
            elif isinstance(worker, ProxyWorker):
                self.children.append(ProxyChild(worker, reactor, self, config.cbdir, config.config_file,
                                                "@" + self.notify_name, loglevel))
            elif worker.disabled:
                self.disabled.append(worker)
            else:
                self.children.append(ContainerChild(worker, reactor, self, config.cbdir, "@" + self.notify_name,
                                                    loglevel))
        self.listener: Optional[NotifyListener] = None
        self.starting: Optional[defer.Deferred] = None
        self.all_ready = False
        self.stopping = False
        self._status_warned = False

    def __len__(self) -> int:
        return len(self.children) + len(self.disabled)

    # --- start ------------------------------------------------------------------------------------

    def start(self) -> defer.Deferred:
        """Start every worker; fires when all are ready.

        @raise WorkerStartError: (as the Deferred's failure) a container ended before it was ready.
        """
        self.starting = defer.Deferred()
        if not len(self):
            self.all_ready = True
            self.starting.callback(None)
            return self.starting
        reap_children(self.reactor)
        self._node_key()
        if any(isinstance(c, ContainerChild) for c in self.children):
            self.listener = NotifyListener(self.notify_name, self._notified)
            self.reactor.addReader(self.listener)
        for worker in self.disabled:
            log.info("Container {worker} is disabled (options.disabled): not started", worker=worker.id)
        for child in self.children:
            child.start()
            if isinstance(child, GuestChild):
                child.start_watch()
        self._write_status()
        self._check_ready()
        return self.starting

    def _node_key(self) -> None:
        """The node key the proxies sign with (``cryptosign-proxy``): made now if missing, once,
        before any proxy process reads it."""
        if not any(c.auth == "cryptosign-proxy" for w in self.config.workers if isinstance(w, ProxyWorker)
                   for c in w.connections.values()):
            return
        public = ensure_node_key(self.config.cbdir)
        log.info("Node public key (cryptosign-proxy): {key}", key=public)

    def _notified(self, pid: int, fields: Dict[str, str]) -> None:
        for child in self.children:
            if isinstance(child, ContainerChild) and child.pid == pid and child.process is not None:
                child.notified(fields)
                return

    def _check_ready(self) -> None:
        if self.all_ready or not all(c.ready for c in self.children):
            return
        self.all_ready = True
        log.info("Workers ready: {summary}", summary=self.summary())
        starting, self.starting = self.starting, None
        if starting is not None:
            starting.callback(None)

    def summary(self) -> str:
        counts = {kind: sum(1 for c in self.children if c.kind == kind) for kind in ("container", "guest", "proxy")}
        return ", ".join(f"{n} {kind}(s)" for kind, n in counts.items() if n) or "none"

    # --- events from the children ---------------------------------------------------------------

    def child_changed(self, child: Child) -> None:
        self._write_status()

    def child_ready(self, child: Child) -> None:
        if self.all_ready:
            if child.restarts:
                log.info("{label} is back (pid {pid})", label=child.label, pid=child.pid)
            return
        self._check_ready()

    def child_ended(self, child: Child, how: str, failed: bool) -> None:
        """``child`` ended and ``restart`` does not start it again."""
        if self.stopping or isinstance(child, GuestChild):
            return  # a guest stays down; the node carries on
        if not self.all_ready:
            starting, self.starting = self.starting, None
            if starting is not None:
                starting.errback(WorkerStartError(
                    f"{self.config.config_file}: {child.spec.path}",
                    f"container {child.id} ended ({how}) before its components joined" if child.kind == "container"
                    else f"proxy {child.id} ended ({how}) before its transports listened",
                    "See its log lines above"))
            return
        log.critical("{label} ended ({how}) and is not restarted ({policy}): stopping the node", label=child.label,
                     how=how, policy=child.spec.restart)
        self.on_exit(1 if failed else 0)

    # --- stop -----------------------------------------------------------------------------------

    def stop(self) -> defer.Deferred:
        """Stop every worker (SIGTERM, SIGKILL after its stop_timeout); fires when all have exited."""
        self.stopping = True
        self.starting = None  # a start still waiting never completes: the node is stopping
        if not len(self):
            return defer.succeed(None)
        running = [c for c in self.children if c.process is not None]
        if running:
            log.info("Stopping {count} worker(s)", count=len(running))
        d = defer.DeferredList([c.stop() for c in self.children], consumeErrors=True)
        d.addBoth(self._stopped)
        return d

    def _stopped(self, _: Any) -> None:
        if self.listener is not None:
            self.reactor.removeReader(self.listener)
            self.listener.connectionLost(None)
            self.listener = None
        remove_status(self.config.cbdir)

    # --- status ---------------------------------------------------------------------------------

    def status(self) -> List[Dict[str, Any]]:
        """Every worker, in config order: id, type, pid, state, started, uptime, restarts, detail."""
        by_id = {c.id: c.status() for c in self.children}
        for worker in self.disabled:
            by_id[worker.id] = {"id": worker.id, "type": "container", "pid": None, "state": "disabled",
                                "started": None, "uptime": None, "restarts": 0, "detail": "options.disabled"}
        return [by_id[w.id] for w in self.config.workers if w.id in by_id]

    def _write_status(self) -> None:
        if self.stopping and not any(c.process is not None for c in self.children):
            return
        problem = write_status(self.config.cbdir, self.status())
        if problem and not self._status_warned:
            self._status_warned = True
            log.warn("{problem}; `wampnode status` will not list the workers", problem=problem)
