#!/usr/bin/env python3
"""Profile wampnode (cProfile) under one benchmark workload and print the top functions.

    python3 bench/profile_node.py rpc_16              # top 40 by own time
    python3 bench/profile_node.py pubsub_10 --sort cumulative --top 60 --out /tmp/p.prof

The node runs as ``python -m cProfile -o FILE -m node start``; cProfile roughly
doubles the cost of each Python call, so read the shares, not the absolute times.
"""
from __future__ import annotations

import argparse
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import targets  # noqa: E402
import workloads  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=[w.key for w in workloads.WORKLOADS] + ["idle"])
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--out", help="keep the profile in this file")
    args = parser.parse_args()
    timing = {"warmup": 1.0, "duration": args.duration, "deadline": args.duration + 120}
    with tempfile.TemporaryDirectory(prefix="wampnode-profile-") as tmp:
        out = args.out or str(Path(tmp) / "node.prof")
        router = targets.wampnode(Path(tmp))
        router.command[1:1] = ["-m", "cProfile", "-o", out]
        router.start()
        try:
            if args.workload == "idle":
                print(workloads.idle_sessions(router, timing))
            else:
                workload = next(w for w in workloads.WORKLOADS if w.key == args.workload)
                print(workloads.run(workload, router, timing))
        finally:
            router.stop()
        pstats.Stats(out).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
