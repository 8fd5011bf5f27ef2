#!/usr/bin/env python3
"""What counting for metrics costs the router: CPU per call and per delivery, counting in and out.

    python3 bench/metrics_cost.py --against /tmp/old   # a checkout without the counts (before issue 18)

Real :class:`~node.router.Router` objects and real
:class:`~node.router.session.RouterSession` objects (so that what every message
passes through is measured: the session's message counts, the realm's and the
broker's and dealer's) with a transport whose ``send`` does nothing. Two cases:

- ``publish_10``: one session publishes (``--ops`` PUBLISH), ten sessions subscribed
  to the topic each get the EVENT; printed per delivery;
- ``call``: one session calls a procedure another registered; the callee's
  INVOCATION is answered with YIELD, the caller gets RESULT; printed per call.

As in ``router_core.py``, each case runs ``--best-of`` times in a fresh process
per tree, the trees alternate ``--rounds`` times and the lowest CPU time is kept.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

CASES = ("publish_10", "call")


class NoTransport:
    """What a router session sends to: drops every message, keeps the last one."""

    transport_details = None

    def __init__(self) -> None:
        self.last: Any = None

    def isOpen(self) -> bool:  # noqa: N802 (autobahn's name)
        return True

    def send(self, message: Any) -> None:
        self.last = message

    def close(self) -> None:
        pass


def joined(router: Any) -> Tuple[Any, NoTransport]:
    from autobahn.wamp.message import Hello
    from autobahn.wamp.role import RoleCalleeFeatures, RoleCallerFeatures, RolePublisherFeatures, \
        RoleSubscriberFeatures

    session = router.session_factory((), 0.0, "bench", "websocket")()
    transport = NoTransport()
    session.onOpen(transport)
    session.onMessage(Hello("realm1", {"publisher": RolePublisherFeatures(), "subscriber": RoleSubscriberFeatures(),
                                       "caller": RoleCallerFeatures(), "callee": RoleCalleeFeatures()}))
    assert session.state == "joined", session.state
    return session, transport


def measure(case: str, ops: int, best_of: int) -> float:
    """Best CPU seconds for ``ops`` publications (to 10 subscribers) or calls (this process's tree)."""
    from autobahn.wamp.message import Call, Publish, Register, Subscribe, Yield
    from twisted.internet.task import Clock

    from node.config.model import Realm, RealmLimits
    from node.router import Router

    config = Realm(name="realm1", roles=(), uri_check="loose", enable_meta_api=True, event_history=(),
                   limits=RealmLimits())
    best = float("inf")
    for _ in range(best_of):
        router = Router((config,), Clock())
        if case == "publish_10":
            publisher, _ = joined(router)
            for index in range(10):
                subscriber, _ = joined(router)
                subscriber.onMessage(Subscribe(index + 1, "bench.topic"))
            msg = Publish(1, "bench.topic", args=[1, "payload"])
            publisher.onMessage(msg)  # warm the caches
            started = time.process_time()
            for _ in range(ops):
                publisher.onMessage(msg)
            best = min(best, time.process_time() - started)
        else:
            caller, to_caller = joined(router)
            callee, to_callee = joined(router)
            callee.onMessage(Register(1, "bench.procedure"))
            started = time.process_time()
            for request in range(1, ops + 1):
                caller.onMessage(Call(request, "bench.procedure", args=[request]))
                callee.onMessage(Yield(to_callee.last.request, args=[request]))
            best = min(best, time.process_time() - started)
            assert to_caller.last.args == [ops], "every call answered"
    return best


def child(args: argparse.Namespace) -> None:
    print(json.dumps({case: measure(case, args.ops, args.best_of) for case in CASES}))


def run_tree(tree: Path, args: argparse.Namespace) -> Dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--ops", str(args.ops),
               "--best-of", str(args.best_of)]
    if not (tree / "node" / "router" / "counters.py").exists():
        command.append("--old")
    done = subprocess.run(command, env=env, cwd=str(tree), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"metrics_cost.py: the run in {tree} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description="router CPU per call and per delivery, counts in and out")
    parser.add_argument("--against", type=Path, help="a source tree without the counts (required)")
    parser.add_argument("--ops", type=int, default=50000, help="publications or calls per measurement")
    parser.add_argument("--best-of", type=int, default=5, help="measurements per case and round (best kept)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per tree")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--old", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.old:  # a tree from before the counts: its session factory takes no labels
            from node.router import Router

            plain = Router.session_factory
            Router.session_factory = lambda self, auth=(), hello_timeout=0.0, *labels: plain(self, auth, hello_timeout)
        child(args)
        return
    if args.against is None:
        parser.error("--against: name a checkout without the counts, e.g. git worktree add /tmp/old 4703c6f")
    trees: List[Tuple[str, Path]] = [("counts off", args.against.resolve()),
                                     ("counts on", Path(__file__).resolve().parent.parent)]
    best: Dict[str, Dict[str, float]] = {name: {} for name, _ in trees}
    for _ in range(args.rounds):
        for name, tree in trees:
            for case, seconds in run_tree(tree, args).items():
                best[name][case] = min(best[name].get(case, float("inf")), seconds)
    print(f"{sys.implementation.name} {sys.version.split()[0]}, {args.ops:,} operations, best of "
          f"{args.best_of} x {args.rounds} rounds; microseconds of CPU")
    print("case".ljust(22) + "".join(name.rjust(14) for name, _ in trees) + "difference".rjust(14))
    for case, unit, per in (("publish_10", "per delivery", 10), ("call", "per call", 1)):
        off, on = (best[name][case] / args.ops / per * 1e6 for name, _ in trees)
        print(f"{case} ({unit})".ljust(22) + f"{off:14.3f}{on:14.3f}" + f"{(on - off) / off * 100:+13.1f}%")


if __name__ == "__main__":
    main()
