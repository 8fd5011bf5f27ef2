"""A container worker's process: ``python -m node.process.container_process``.

Started by the node (:mod:`node.process.children`), never by hand. It

- reads its :class:`~node.config.model.ContainerWorker` from stdin (pickled by the
  node: the configuration as the node checked it, secrets from the node's
  environment included, without a second read of the file);
- leads a process group of its own and gets SIGTERM when the node dies, even by
  SIGKILL (:mod:`node.process.lifeline`);
- logs JSON lines on stdout, which the node logs again tagged with the worker id;
- reports ``READY=1`` once every component has joined, and ``STATUS=`` on each
  change, with sd_notify's protocol to the node's socket (``--notify``);
- on SIGTERM has every component leave with GOODBYE, then exits 0; SIGINT and
  SIGHUP are the node's business and are ignored.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, Optional, Sequence

from node.log import start_logging
from node.process.lifeline import become_worker
from node.process.systemd import Notifier
from node.process.worker_process import WorkerProcess
from node.workers.container import Container

STOP_SHARE = 0.8  # of stop_timeout: the components' GOODBYE may take this long before the process exits anyway


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m node.process.container_process")
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--cbdir", required=True)
    parser.add_argument("--notify", default=None)
    parser.add_argument("--loglevel", default="info")
    return parser.parse_args(argv)


class ContainerProcess(WorkerProcess):
    """Signals, the sd_notify messages and the exit code around a :class:`Container`."""

    def __init__(self, spec: Any, cbdir: str, reactor: Any, notifier: Any) -> None:
        super().__init__(reactor, notifier)
        self.spec = spec
        self.container = Container(spec, cbdir, reactor, self.notify, self.finish)
        self.stop_deadline = max(0.1, spec.stop_timeout * STOP_SHARE)

    def start(self) -> None:
        self.container.start()

    def stop_work(self) -> Any:
        """Components leave (GOODBYE)."""
        return self.container.stop()

    def notify(self, fields: Dict[str, str]) -> None:
        text = "\n".join(f"{key}={value}" for key, value in fields.items())
        self.notifier.notify(f"{text}\nMAINPID={os.getpid()}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    spec = become_worker(args.parent)
    from twisted.internet import reactor  # here: importing it installs Twisted's default reactor

    start_logging(args.loglevel, "json")
    process = ContainerProcess(spec, args.cbdir, reactor, Notifier(args.notify))
    reactor.callWhenRunning(process.begin)
    reactor.run()
    return process.exit_code


if __name__ == "__main__":
    sys.exit(main())
