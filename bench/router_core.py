#!/usr/bin/env python3
"""Router CPU per delivery, measured on the router core alone (no sockets, no serializers).

    python3 bench/router_core.py                      # this tree
    python3 bench/router_core.py --against /tmp/old   # this tree and another, interleaved

Real :class:`~node.router.realm.RealmRouter` objects route ``--ops`` PUBLISH messages
(default 100,000) from one publisher to 1 or 10 subscribers holding an ``exact`` or a
``prefix`` subscription, in a realm with roles (the subscribers' role allows
``subscribe`` under the prefix ``bench.``, as ``targets.py`` configures the real
benchmark). Sessions are plain objects whose ``send`` does nothing, so the figure is
what routing itself costs: authorization, matching, admission, building the EVENT.

Each case runs ``--best-of`` times (default 5) in a fresh process per tree and keeps
the lowest CPU time; with ``--against``, the trees alternate ``--rounds`` times
(default 3), so that a machine getting busier or quieter hits both alike. Printed:
microseconds of process CPU per PUBLISH and per delivered EVENT, best over rounds.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

CASES = (("exact", 1), ("exact", 10), ("prefix", 1), ("prefix", 10))


class NoTransport:
    """A session target that drops what it is sent (counting it)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def send(self, message: object) -> None:
        self.count += 1

    def kill(self, reason: object, message: object) -> None:  # pragma: no cover - never killed here
        pass


def measure(match: str, subscribers: int, ops: int, best_of: int) -> float:
    """Best CPU seconds for ``ops`` publications to ``subscribers`` sessions (this process's tree)."""
    from autobahn.wamp.message import Publish, Subscribe
    from twisted.internet.task import Clock

    from node.config.model import Permission, Realm, RealmLimits, Role
    from node.router.peer import Peer
    from node.router.realm import RealmRouter

    def rule(uri: str, **allow: bool) -> Permission:
        return Permission(uri=uri, match="prefix", call=False, register=False, publish=allow.get("publish", False),
                          subscribe=allow.get("subscribe", False), disclose_caller=False,
                          disclose_publisher=False, cache=True)

    roles = (Role(name="publisher", permissions=(rule("bench.", publish=True),), authorizer=None),
             Role(name="subscriber", permissions=(rule("bench.", subscribe=True),), authorizer=None))
    config = Realm(name="realm1", roles=roles, uri_check="loose", enable_meta_api=True, event_history=(),
                   limits=RealmLimits())
    best = float("inf")
    for _ in range(best_of):
        realm = RealmRouter(config, Clock())
        realm.attach(Peer(1, "realm1", "pub", "publisher"), NoTransport())
        targets = []
        for index in range(subscribers):
            session_id = 100 + index
            target = NoTransport()
            targets.append(target)
            realm.attach(Peer(session_id, "realm1", f"sub{index}", "subscriber"), target)
            topic = "bench.topic" if match == "exact" else "bench."
            realm.process(session_id, Subscribe(index + 1, topic, match=match))
        msg = Publish(1, "bench.topic", args=[1, "payload"])
        realm.process(1, msg)  # warm the caches
        started = time.process_time()
        for _ in range(ops):
            realm.process(1, msg)
        elapsed = time.process_time() - started
        assert all(t.count == ops + 2 for t in targets), "every subscriber got every event"  # + SUBSCRIBED
        best = min(best, elapsed)
    return best


def child(args: argparse.Namespace) -> None:
    results = {f"{match}_{count}": measure(match, count, args.ops, args.best_of) for match, count in CASES}
    print(json.dumps(results))


def run_tree(tree: Path, args: argparse.Namespace) -> Dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--ops", str(args.ops),
               "--best-of", str(args.best_of)]
    done = subprocess.run(command, env=env, cwd=str(tree), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"router_core.py: the run in {tree} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description="router CPU per delivery (router core, no sockets)")
    parser.add_argument("--against", type=Path, help="another source tree to compare with, interleaved")
    parser.add_argument("--ops", type=int, default=100000, help="publications per measurement")
    parser.add_argument("--best-of", type=int, default=5, help="measurements per case and round (best kept)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per tree")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    here = Path(__file__).resolve().parent.parent
    trees: List[Tuple[str, Path]] = [("this tree", here)]
    if args.against is not None:
        trees.insert(0, ("--against", args.against.resolve()))
    best: Dict[str, Dict[str, float]] = {name: {} for name, _ in trees}
    for _ in range(args.rounds):
        for name, tree in trees:
            for case, seconds in run_tree(tree, args).items():
                best[name][case] = min(best[name].get(case, float("inf")), seconds)
    print(f"{sys.implementation.name} {sys.version.split()[0]}, {args.ops:,} publications, best of "
          f"{args.best_of} x {args.rounds} rounds; microseconds of CPU per publication / per delivery")
    header = "case".ljust(10) + "".join(name.rjust(24) for name, _ in trees)
    print(header)
    for match, count in CASES:
        case = f"{match}_{count}"
        cells = []
        for name, _ in trees:
            per_publication = best[name][case] / args.ops * 1e6
            cells.append(f"{per_publication:7.2f} / {per_publication / count:6.2f}".rjust(24))
        print(case.ljust(10) + "".join(cells))


if __name__ == "__main__":
    main()
