"""``wampnode start``: the process around a :class:`~node.workers.router.Node`.

Order matters: configuration errors are reported before anything listens or any
pidfile is written; the pidfile is claimed before ports are opened so two nodes in
one directory never fight over ports; SIGTERM/SIGINT stop cleanly and exit 0.
"""
from __future__ import annotations

import os
import signal
from typing import Any, Dict, Optional

from twisted.logger import Logger

from node.errors import NodeError

log = Logger()


def serve(cbdir: str, config_file: Optional[str], loglevel: str, logformat: str, debug: bool,
          reactor: Any = None) -> int:
    """Run the node until a signal stops it. Returns the process exit code."""
    from node.config import load_config
    from node.config.permissions import writable_warnings
    from node.log import start_logging
    from node.process.pidfile import remove_pidfile, write_pidfile

    cbdir = os.path.abspath(cbdir)
    config = load_config(cbdir, config_file)  # raises ConfigErrors: reported by the CLI
    start_logging(loglevel, logformat)
    from node.process.malloc import tune_malloc

    tune_malloc()  # large messages without page-fault storms (see node/process/malloc.py)
    for warning in writable_warnings(config.cbdir, config.config_file):
        log.warn("{warning}", warning=warning)
    warning = write_pidfile(cbdir)
    if warning:
        log.warn("{warning}", warning=warning)
    if config.cluster is not None and config.cluster.processes > 1:
        from node.process.supervisor import supervise  # N router processes; this one supervises them

        try:
            return supervise(config, loglevel, logformat, debug)
        finally:
            remove_pidfile(cbdir)
    if reactor is None and config.cluster is not None:
        from node.cluster.backplane import install_asyncio_reactor  # nats-py needs asyncio's loop

        reactor = install_asyncio_reactor()
    if reactor is None:
        from node.fastpath.reactor import install

        reactor = install()
    from node.fastpath.write_coalescing import FLUSHER

    FLUSHER.attach(reactor)  # replies leave before the next poll, not after it
    outcome: Dict[str, int] = {"code": 0}
    try:
        _run(config, reactor, outcome, debug)
    finally:
        remove_pidfile(cbdir)
    return outcome["code"]


def _run(config: Any, reactor: Any, outcome: Dict[str, int], debug: bool) -> None:
    from node.workers.router import Node
    from node.process.systemd import Notifier

    from node import __version__

    notifier = Notifier.from_environment()
    log.info("wampnode {version} starting (pid {pid}, node directory {cbdir})",
             version=__version__, pid=os.getpid(), cbdir=config.cbdir)
    if config.ignored:
        log.info("Accepted but not used by wampnode (Crossbar.io keys): {keys}", keys=", ".join(config.ignored))
    node = Node(config, reactor)
    cluster = None
    if config.cluster is not None:  # one process of a router spanning processes (node.cluster)
        from node.cluster.process import ClusterProcess

        cluster = ClusterProcess(config.cluster, node.router, reactor)

    def summary() -> str:
        return f"{len(node.ports)} transport(s) listening, {len(config.realms)} realm(s)"

    def started(_: Any) -> None:
        notifier.ready(summary())
        notifier.start_watchdog(reactor)

    def failed(failure: Any) -> None:
        error = failure.value
        if isinstance(error, NodeError):
            log.critical("{error}", error=error.line())
            outcome["code"] = error.exit_code
        else:
            log.failure("Node failed to start", failure)
            outcome["code"] = 1
        if debug:
            log.debug("{tb}", tb=failure.getTraceback())
        reactor.stop()

    def stopping() -> Any:
        notifier.stopping()
        if cluster is None:
            return node.stop()
        return node.stop().addBoth(lambda _: cluster.stop())

    def on_signal(signum: int, frame: Any) -> None:
        log.info("Received {name}, shutting down", name=signal.Signals(signum).name)
        reactor.callFromThread(reactor.stop)

    def on_hangup(signum: int, frame: Any) -> None:
        reactor.callFromThread(reload)

    def reload() -> None:
        notifier.reloading()
        log.info("Received SIGHUP: reloading TLS certificates and keys")
        problems = node.reload_tls()
        for problem in problems:
            log.error("Reload refused, keeping the old certificate: {problem}", problem=problem)
        if not problems:
            log.info("TLS certificates and keys reloaded")
        notifier.ready(summary() + ("; reload refused, old certificate in use" if problems else "; reloaded"))

    def install_signals() -> None:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGHUP, on_hangup)
        reactor.addSystemEventTrigger("before", "shutdown", stopping)
        if cluster is None:
            node.start().addCallbacks(started, failed)
        else:  # reach the other processes before accepting clients
            cluster.start().addCallback(lambda _: node.start()).addCallbacks(started, failed)

    reactor.callWhenRunning(install_signals)
    reactor.run(installSignalHandlers=False)
