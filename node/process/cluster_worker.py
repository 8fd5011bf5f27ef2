"""One router process of a node with ``processes: N``: ``python -m node.process.cluster_worker``.

Started by :mod:`node.process.supervisor`, never by hand. It is an ordinary node
(:class:`node.process.node.NodeProcess`: same transports, signals and shutdown) on Twisted's
asyncio reactor, plus the backplane. It reports readiness to the supervisor
with sd_notify's protocol (the supervisor sets ``NOTIFY_SOCKET``), writes no
pidfile, tags its log lines with its number, and stops when the supervisor dies.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional, Sequence, TextIO

from node.cluster.backplane import install_asyncio_reactor
from node.config import load_config
from node.errors import NodeError
from node.log import start_logging
from node.process.lifeline import die_with_parent
from node.process.node import NodeProcess


class TaggedStream:
    """Puts ``[router i/N]`` into each standard log line (a ``"process"`` field in JSON)."""

    def __init__(self, stream: TextIO, label: str, json_lines: bool) -> None:
        self.stream = stream
        self.label = label
        self.json_lines = json_lines

    def write(self, text: str) -> int:
        lines = text.split("\n")
        out: List[str] = []
        for line in lines:
            if not line:
                out.append(line)
            elif self.json_lines:
                try:
                    record = json.loads(line)
                    record["process"] = self.label
                    out.append(json.dumps(record, default=str))
                except ValueError:
                    out.append(line)
            elif "] " in line:
                head, _, rest = line.partition("] ")
                out.append(f"{head}] [router {self.label}] {rest}")
            else:
                out.append(line)
        return self.stream.write("\n".join(out))

    def flush(self) -> None:
        self.stream.flush()


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m node.process.cluster_worker")
    parser.add_argument("--cbdir", required=True)
    parser.add_argument("--config", default=None)
    parser.add_argument("--loglevel", default="info")
    parser.add_argument("--logformat", default="standard")
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--parent", type=int, default=os.getppid())
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    die_with_parent(args.parent)
    reactor = install_asyncio_reactor()  # before anything imports the default reactor
    try:
        config = load_config(args.cbdir, args.config)
    except NodeError as e:
        print(e.line(), file=sys.stderr)
        return e.exit_code
    label = os.environ.get("WAMPNODE_PROCESS", "1/1")
    start_logging(args.loglevel, args.logformat, stream=TaggedStream(sys.stdout, label, args.logformat == "json"))
    try:
        # containers and guests run once, in the supervisor, not in each router process
        return NodeProcess(config, reactor, args.debug, loglevel=args.loglevel, host_workers=False).run()
    except NodeError as e:
        print(e.line(), file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
