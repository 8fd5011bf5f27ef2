"""The node's process: one object that loads nothing, but listens, answers
signals and stops, for ``wampnode start`` and for each router process of a
cluster (:mod:`node.process.cluster_worker`).

Order matters: the caller has reported errors in the configuration file before
anything listens, and the TLS and trust files it names are read and judged
(:meth:`~node.workers.router.RouterWorker.prepare`) before any port opens;
SIGTERM/SIGINT stop cleanly and exit 0; SIGHUP reloads TLS material and
restarts nothing; "Node ready" and sd_notify ``READY=1`` come only once every
transport listens, every router component has joined (:mod:`node.workers.components`)
and the container and guest workers it hosts are ready
(:class:`~node.process.hosted.HostedWorkers`: started after the transports listen,
stopped before they close, so components join and leave a running router).
"""
from __future__ import annotations

import os
import signal
from typing import Any, Optional

from twisted.internet import defer
from twisted.internet.error import ReactorNotRunning
from twisted.logger import Logger
from twisted.python.failure import Failure

from node import __version__
from node.config.model import NodeConfig
from node.fastpath.large_garbage import collect_from_warning
from node.process.failure import report_start_failure
from node.process.hosted import HostedWorkers
from node.process.native_modules import native_module_warnings
from node.process.pypy_jit import tune_jit
from node.process.systemd import Notifier
from node.workers.components import RouterComponents, hosted_components
from node.workers.router import RouterWorker

log = Logger()


class NodeProcess:
    """Runs a :class:`RouterWorker` on ``reactor`` until a signal stops it.

    @param config: the checked configuration.
    @param reactor: the reactor to run (already installed by the caller).
    @param notifier: sd_notify messages; read from the environment when omitted.
    @param host_workers: run the config's container and guest workers (not in the router
        processes of a ``processes: N`` node: their supervisor runs them once).
    """

    def __init__(self, config: NodeConfig, reactor: Any, debug: bool = False,
                 notifier: Optional[Notifier] = None, loglevel: str = "info", host_workers: bool = True) -> None:
        self.config = config
        self.reactor = reactor
        self.debug = debug
        self.notifier = notifier or Notifier.from_environment()
        self.exit_code = 0
        self.worker = RouterWorker(config, reactor)
        self.hosted = HostedWorkers(config, reactor, loglevel, on_exit=self._hosted_ended) if host_workers else None
        if self.hosted is not None:
            self.worker.status.workers = self.hosted.status
        self.cluster: Optional[Any] = None
        process_label: Optional[str] = None
        if config.cluster is not None:  # one process of a router spanning processes
            # imported here: a single-process node never loads node.cluster nor nats-py
            from node.cluster.process import INDEX_VARIABLE, ClusterProcess
            from node.web.report import local_report

            self.cluster = ClusterProcess(config.cluster, self.worker.router, reactor)
            process_label = os.environ.get(INDEX_VARIABLE)
            status = self.worker.status
            status.process = self.cluster.label
            status.cluster = self.cluster.reports
            self.cluster.reports.provider = lambda what: local_report(status, what)
        self.components = RouterComponents(hosted_components(config, process_label), config, self.worker.router,
                                           reactor, debug)

    def run(self) -> int:
        """Start, run the reactor until stopped; returns the process exit code.

        @raise ConfigErrors: a TLS or trust file named by the configuration is faulty.
        """
        log.info("wampnode {version} starting (pid {pid}, node directory {cbdir})",
                 version=__version__, pid=os.getpid(), cbdir=self.config.cbdir)
        if self.config.ignored:
            log.info("Accepted but not used by wampnode (Crossbar.io keys): {keys}",
                     keys=", ".join(self.config.ignored))
        for warning in [*native_module_warnings(), collect_from_warning(os.environ), tune_jit(os.environ)]:
            if warning:
                log.warn("{warning}", warning=warning)
        self.worker.prepare()  # TLS and trust files read once; ConfigErrors before anything listens
        self.reactor.callWhenRunning(self._begin)
        self.reactor.run(installSignalHandlers=False)
        return self.exit_code

    def _begin(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_hangup)
        self.reactor.addSystemEventTrigger("before", "shutdown", self._stopping)
        self._start().addCallbacks(self._started, self._failed)

    def _start(self) -> defer.Deferred:
        if self.cluster is None:
            started = self.worker.start()
        else:  # reach the other processes before accepting clients
            started = self.cluster.start().addCallback(lambda _: self.worker.start())
        started.addCallback(lambda _: self.components.start())
        if self.hosted is not None:
            hosted = self.hosted
            started.addCallback(lambda _: hosted.start())
        return started

    def summary(self) -> str:
        text = f"{len(self.worker.ports)} transport(s) listening, {len(self.config.realms)} realm(s)"
        if self.hosted:
            text += f", workers: {self.hosted.summary()}"
        return text

    def _started(self, _: Any) -> None:
        components = self.components.count()
        also = f", {components} router component(s) joined" if components else ""
        if self.hosted:
            also += f", workers: {self.hosted.summary()}"
        self.worker.announce_ready(also)
        self.notifier.ready(self.summary())
        self.notifier.start_watchdog(self.reactor)

    def _failed(self, failure: Failure) -> None:
        self.exit_code = report_start_failure(failure, self.debug)
        try:
            self.reactor.stop()
        except ReactorNotRunning:  # a stop signal came first (its stop made the start fail)
            pass

    def _hosted_ended(self, code: int) -> None:
        """A container ended for good (see :class:`HostedWorkers`): the node stops with ``code``."""
        self.exit_code = code
        if self.reactor.running:
            self.reactor.stop()

    def _stopping(self) -> defer.Deferred:
        self.notifier.stopping()
        # hosted workers' components, then router components, leave while the router still runs
        stopped = self.hosted.stop() if self.hosted is not None else defer.succeed(None)
        stopped.addBoth(lambda _: self.components.stop())
        stopped.addBoth(lambda _: self.worker.stop())
        if self.cluster is not None:
            cluster = self.cluster
            stopped.addBoth(lambda _: cluster.stop())
        return stopped

    def _on_stop_signal(self, signum: int, frame: Any) -> None:
        log.info("Received {name}, shutting down", name=signal.Signals(signum).name)
        self.reactor.callFromThread(self.reactor.stop)

    def _on_hangup(self, signum: int, frame: Any) -> None:
        self.reactor.callFromThread(self.reload)

    def reload(self) -> None:
        """SIGHUP: re-read TLS certificates and keys; a refused reload keeps the old ones."""
        self.notifier.reloading()
        log.info("Received SIGHUP: reloading TLS certificates and keys")
        problems = self.worker.reload_tls()
        for problem in problems:
            log.error("Reload refused, keeping the old certificate: {problem}", problem=problem)
        if not problems:
            log.info("TLS certificates and keys reloaded")
        outcome = "; reload refused, old certificate in use" if problems else "; reloaded"
        self.notifier.ready(self.summary() + outcome)
