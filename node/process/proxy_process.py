"""A proxy worker's process: ``python -m node.process.proxy_process``.

Started by the node (:mod:`node.process.children`), never by hand, as a container is:

- reads its :class:`~node.config.model.ProxyWorker` from stdin (pickled by the node: the
  configuration as the node checked it);
- leads a process group of its own and gets SIGTERM when the node dies (:mod:`node.process.lifeline`);
- logs JSON lines on stdout, which the node logs again tagged with the worker id;
- reports ``READY=1`` once every transport listens, with sd_notify's protocol to the
  node's socket (``--notify``); a transport that cannot listen ends it with exit code 1;
- on SIGTERM stops listening, closes its client connections (their router sessions
  leave), and exits 0; SIGINT and SIGHUP are the node's business and are ignored.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Optional, Sequence

from twisted.logger import Logger

from node.errors import NodeError
from node.log import start_logging
from node.process.lifeline import become_worker
from node.process.systemd import Notifier
from node.process.worker_process import WorkerProcess
from node.workers.proxy import ProxyWorkerRuntime

log = Logger()


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m node.process.proxy_process")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--cbdir", required=True)
    parser.add_argument("--config-file", default="")
    parser.add_argument("--notify", default=None)
    parser.add_argument("--loglevel", default="info")
    return parser.parse_args(argv)


class ProxyProcess(WorkerProcess):
    """Signals, sd_notify and the exit code around a :class:`ProxyWorkerRuntime`."""

    def __init__(self, runtime: ProxyWorkerRuntime, reactor: Any, notifier: Notifier) -> None:
        super().__init__(reactor, notifier)
        self.runtime = runtime

    def start(self) -> None:
        self.runtime.start().addCallbacks(self._ready, self._failed)

    def stop_work(self) -> Any:
        return self.runtime.stop()

    def _ready(self, _: Any) -> None:
        self.notifier.notify(f"READY=1\nSTATUS={self.runtime.summary()}\nMAINPID={os.getpid()}")

    def _failed(self, failure: Any) -> None:
        error = failure.value
        text = error.line() if isinstance(error, NodeError) else failure.getErrorMessage()
        log.critical("Proxy cannot start: {error}", error=text)
        self.exit_code = 1
        self.stopping = True  # a SIGTERM now changes nothing: the process exits with 1
        self._stop_reactor()


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    spec = become_worker(args.parent)
    from twisted.internet import reactor  # here: importing it installs Twisted's default reactor

    start_logging(args.loglevel, "json")
    try:
        runtime = ProxyWorkerRuntime(spec, args.cbdir, args.config_file, reactor)
    except NodeError as e:
        print(e.line(), file=sys.stderr)
        return 1
    process = ProxyProcess(runtime, reactor, Notifier(args.notify))
    reactor.callWhenRunning(process.begin)
    reactor.run()
    return process.exit_code


if __name__ == "__main__":
    sys.exit(main())
