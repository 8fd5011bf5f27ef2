"""``wampnode start`` with ``processes: N``: the parent of N router processes.

The supervisor routes nothing. It holds the pidfile (``wampnode stop|status|reload``
act on it), starts the node's private nats-server unless ``backplane.url`` names
one, starts N workers (:mod:`node.process.cluster_worker`) and then:

- start-up: the node is ready (log line, sd_notify ``READY=1``) when every worker
  is; a worker that exits before it was ever ready (port in use, bad
  certificate, NATS unreachable) stops the node with that worker's exit code;
- afterwards a worker that exits is restarted, after 0.5 s, doubling up to 30 s
  while it keeps dying young; the local nats-server likewise;
- SIGTERM/SIGINT: SIGTERM to every worker (SIGKILL after a grace period), then
  nats-server, exit 0; SIGHUP is passed to every worker (TLS reload).
- container and guest workers (:class:`~node.process.hosted.HostedWorkers`) run
  here, once for the node, not in each router process: started when every router
  process is ready (the node is ready when they are), stopped before the router
  processes.

Workers report readiness with sd_notify's own protocol: the supervisor listens on
an abstract Unix datagram socket and gives it to them as ``NOTIFY_SOCKET``, so a
worker is an ordinary node that believes it runs under systemd.
"""
from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from twisted.internet import defer, protocol
from twisted.logger import Logger

import node
from node import __version__
from node.cluster.backplane import redact
from node.cluster.process import INDEX_VARIABLE, URL_VARIABLE
from node.process.failure import report_start_failure
from node.process.hosted import HostedWorkers
from node.process.natsserver import LocalNatsServer
from node.process.notify import NotifyListener, notify_name
from node.workers.restarts import FIRST_RESTART_SECONDS, RestartBackoff
from node.process.systemd import Notifier

log = Logger()

STOP_GRACE_SECONDS = 15.0
_SYSTEMD_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID")


@dataclass
class Worker:
    index: int
    process: Any = None
    pid: Optional[int] = None
    ready: bool = False
    started: float = 0.0
    backoff: RestartBackoff = field(default_factory=RestartBackoff)


class _WorkerProtocol(protocol.ProcessProtocol):
    def __init__(self, supervisor: "Supervisor", worker: Worker) -> None:
        self.supervisor = supervisor
        self.worker = worker

    def processEnded(self, reason: Any) -> None:  # noqa: N802 (Twisted's name)
        self.supervisor.worker_ended(self.worker, reason.value)


def _package_root() -> str:
    """The directory holding the ``node`` package, so workers import the same code."""
    return os.path.dirname(os.path.dirname(os.path.abspath(node.__file__)))


class Supervisor:
    def __init__(self, config: Any, reactor: Any, worker_args: List[str], notifier: Any,
                 loglevel: str = "info") -> None:
        self.config = config
        self.hosted = HostedWorkers(config, reactor, loglevel, on_exit=self._hosted_ended)
        self.reactor = reactor
        self.worker_args = worker_args
        self.notifier = notifier
        self.count = config.cluster.processes
        self.workers = [Worker(i + 1) for i in range(self.count)]
        self.notify_name = notify_name()
        self.nats: Any = None
        self.listener: Optional[NotifyListener] = None
        self.backplane_url: Optional[str] = None
        self.all_ready = False
        self.stopping = False
        self.exit_code = 0

    # --- start ---------------------------------------------------------------------------

    def start(self) -> None:
        log.info("wampnode {version} starting {count} router processes (supervisor pid {pid}, node directory "
                 "{cbdir})", version=__version__, count=self.count, pid=os.getpid(), cbdir=self.config.cbdir)
        self.listener = NotifyListener(self.notify_name, self._notified)
        self.reactor.addReader(self.listener)
        backplane = self.config.cluster.backplane
        if backplane is not None and backplane.url:
            self.backplane_url = backplane.url
            d = defer.succeed(None)
        else:
            self.nats = LocalNatsServer(self.reactor, self.config.cbdir)
            self.nats.on_crash = self._nats_crashed
            d = self.nats.start()
        d.addCallback(lambda _: [self._spawn(w) for w in self.workers])
        d.addErrback(self._failed)

    def _failed(self, failure: Any) -> None:
        self.exit_code = report_start_failure(failure)
        self.stop()

    def _environment(self, worker: Worker) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SYSTEMD_VARIABLES and k != URL_VARIABLE}
        env["NOTIFY_SOCKET"] = "@" + self.notify_name
        env[INDEX_VARIABLE] = f"{worker.index}/{self.count}"
        env["PYTHONPATH"] = _package_root() + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        if self.nats is not None:
            env[URL_VARIABLE] = self.nats.url
        return env

    def _spawn(self, worker: Worker) -> None:
        if self.stopping:
            return
        args = [sys.executable, "-m", "node.process.cluster_worker", *self.worker_args, "--parent", str(os.getpid())]
        worker.ready = False
        worker.started = self.reactor.seconds()
        worker.process = self.reactor.spawnProcess(_WorkerProtocol(self, worker), sys.executable, args,
                                                   env=self._environment(worker), childFDs={0: "w", 1: 1, 2: 2})
        worker.pid = worker.process.pid
        log.info("Started router process {index}/{count} (pid {pid})", index=worker.index, count=self.count,
                 pid=worker.pid)

    # --- events from the workers --------------------------------------------------------------

    def _notified(self, pid: int, fields: Dict[str, str]) -> None:
        if fields.get("READY") == "1":
            self.worker_ready(pid)

    def worker_ready(self, pid: int) -> None:
        worker = next((w for w in self.workers if w.pid == pid), None)
        if worker is None or worker.ready:
            return
        worker.ready = True
        if self.all_ready:
            log.info("Router process {index}/{count} (pid {pid}) is back", index=worker.index, count=self.count,
                     pid=pid)
        elif all(w.ready for w in self.workers):
            self.all_ready = True
            where = redact(self.backplane_url) if self.backplane_url else f"own nats-server {self.nats.public_url}"
            summary = f"{self.count} router processes, backplane {where}"
            log.info("All router processes ready: {summary}; pids {pids}", summary=summary,
                     pids=" ".join(str(w.pid) for w in self.workers))
            if self.hosted:
                summary += f", workers: {self.hosted.summary()}"
            self.hosted.start().addCallbacks(lambda _: self._ready(summary), self._failed)

    def _ready(self, summary: str) -> None:
        if self.hosted:
            log.info("Node ready: {summary}", summary=summary)
        self.notifier.ready(summary)
        self.notifier.start_watchdog(self.reactor)

    def _hosted_ended(self, code: int) -> None:
        self.exit_code = code
        self.stop()

    def worker_ended(self, worker: Worker, status: Any) -> None:
        worker.process = None
        code = getattr(status, "exitCode", None)
        sig = getattr(status, "signal", None)
        how = f"signal {signal.Signals(sig).name}" if sig else f"exit code {code}"
        if self.stopping:
            if all(w.process is None for w in self.workers):
                self._finish()
            return
        if not self.all_ready:
            log.critical("Router process {index}/{count} (pid {pid}) ended before it was ready ({how}); "
                         "stopping the node", index=worker.index, count=self.count, pid=worker.pid, how=how)
            self.exit_code = code if isinstance(code, int) and code > 0 else 1
            self.stop()
            return
        delay = worker.backoff.delay(self.reactor.seconds() - worker.started)
        log.error("Router process {index}/{count} (pid {pid}) ended ({how}); restarting it in {delay:g} s",
                  index=worker.index, count=self.count, pid=worker.pid, how=how, delay=delay)
        self.reactor.callLater(delay, self._spawn, worker)

    def _nats_crashed(self, why: str) -> None:
        if self.stopping:
            return
        log.error("Backplane: {why}; restarting it on the same port", why=why)
        self.reactor.callLater(FIRST_RESTART_SECONDS, self._restart_nats)

    def _restart_nats(self) -> None:
        if not self.stopping:
            self.nats.start().addErrback(lambda f: log.error("Backplane: {error}", error=f.getErrorMessage()))

    # --- signals and stop ------------------------------------------------------------------------

    def on_signal(self, signum: int, frame: Any) -> None:
        log.info("Received {name}, stopping {count} router processes", name=signal.Signals(signum).name,
                 count=self.count)
        self.reactor.callFromThread(self.stop)

    def on_hangup(self, signum: int, frame: Any) -> None:
        self.reactor.callFromThread(self.reload)

    def reload(self) -> None:
        self.notifier.reloading()
        log.info("Received SIGHUP: passing it to the router processes")
        self._signal_all("HUP")
        self.notifier.ready("reload passed to the router processes")

    def _signal_all(self, name: str) -> None:
        for worker in self.workers:
            if worker.process is not None:
                try:
                    worker.process.signalProcess(name)
                except Exception:
                    pass

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.notifier.stopping()
        self.hosted.stop().addBoth(lambda _: self._stop_router_processes())

    def _stop_router_processes(self) -> None:
        if all(w.process is None for w in self.workers):
            self._finish()
            return
        self._signal_all("TERM")
        self.reactor.callLater(STOP_GRACE_SECONDS, self._signal_all, "KILL")

    def _finish(self) -> None:
        if self.listener is not None:
            self.reactor.removeReader(self.listener)
            self.listener.connectionLost(None)
            self.listener = None
        d = self.nats.stop() if self.nats is not None else defer.succeed(None)
        d.addBoth(lambda _: self.reactor.stop() if self.reactor.running else None)


def supervise(config: Any, loglevel: str, logformat: str, debug: bool) -> int:
    """Run the supervisor until a signal stops it; returns the exit code."""
    from twisted.internet import reactor  # importing it installs Twisted's default reactor: only here

    args = ["--cbdir", config.cbdir, "--config", config.config_file, "--loglevel", loglevel,
            "--logformat", logformat] + (["--debug"] if debug else [])
    supervisor = Supervisor(config, reactor, args, Notifier.from_environment(), loglevel)

    def install() -> None:
        signal.signal(signal.SIGTERM, supervisor.on_signal)
        signal.signal(signal.SIGINT, supervisor.on_signal)
        signal.signal(signal.SIGHUP, supervisor.on_hangup)
        supervisor.start()

    reactor.callWhenRunning(install)  # after Twisted's own handlers: SIGCHLD stays Twisted's (reaping)
    reactor.run()
    return supervisor.exit_code
