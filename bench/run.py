#!/usr/bin/env python3
"""Benchmark wampnode, side by side with Crossbar.io and/or wampnode on PyPy.

    python3 bench/run.py                       # wampnode only
    python3 bench/run.py --compare crossbar    # + Crossbar.io (installed into a cache dir once)
    python3 bench/run.py --pypy                # + wampnode on PyPy (Debian pypy3)
    python3 bench/run.py --compare crossbar --pypy --repeat 3 --json results.json

Every router runs the same config (see ``targets.py``) on free ports of
127.0.0.1; the same client processes (autobahn-python on Twisted, ``client.py``)
run each workload against each router in turn. Each repetition starts the
routers afresh (start-up time and idle RSS), measures RSS per idle session
first, then the throughput workloads. Figures are medians over repetitions,
with ``±`` half the min-max range in percent.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

import install  # noqa: E402
import report  # noqa: E402
import targets  # noqa: E402
import workloads  # noqa: E402


def parse_args(argv: Any = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="wampnode benchmark", epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", choices=["crossbar"], help="also run Crossbar.io")
    parser.add_argument("--pypy", action="store_true", help="also run wampnode on PyPy")
    parser.add_argument("--no-cpython", action="store_true", help="skip wampnode on CPython")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions of the whole run (default 1)")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds of warm-up per workload")
    parser.add_argument("--duration", type=float, default=4.0, help="seconds measured per workload")
    parser.add_argument("--only", action="append", default=[],
                        help="run only these workloads (" + ", ".join(w.key for w in workloads.WORKLOADS)
                        + ", idle); repeatable")
    parser.add_argument("--json", metavar="FILE", help="write all samples and medians as JSON")
    return parser.parse_args(argv)


def make_routers(args: argparse.Namespace, workdir: Path) -> List[targets.Router]:
    routers: List[targets.Router] = []
    if not args.no_cpython:
        routers.append(targets.wampnode(workdir))
    if args.pypy:
        venv = install.pypy_venv()
        routers.append(targets.wampnode(workdir, str(venv / "bin" / "python"), name="wampnode-pypy"))
    if args.compare == "crossbar":
        routers.append(targets.crossbar(workdir, install.crossbar_venv()))
    return routers


def versions(args: argparse.Namespace) -> Dict[str, str]:
    import autobahn
    import twisted

    out = {"python": platform.python_version(), "autobahn": autobahn.__version__, "twisted": twisted.__version__}
    if args.pypy:
        python = install.CACHE / "pypy" / "bin" / "python"
        out["pypy"] = install.interpreter_of(python)
        out["pypy_autobahn"] = install.version_of(python, "autobahn")
        out["pypy_twisted"] = install.version_of(python, "twisted")
    if args.compare == "crossbar":
        out["crossbar"] = install.version_of(install.CACHE / "crossbar" / "bin" / "python", "crossbar")
    return out


def one_repetition(routers: List[targets.Router], args: argparse.Namespace, samples: report.Samples,
                   raw: List[Dict[str, Any]], timing: Dict[str, float]) -> None:
    selected = [w for w in workloads.WORKLOADS if not args.only or w.key in args.only]
    try:
        for router in routers:
            router.start()
            print(f"  {router.name}: listening after {router.startup_s:.2f} s, "
                  f"idle RSS {router.idle_rss / 2**20:.0f} MiB", flush=True)
            samples[router.name].setdefault("startup_s", []).append(router.startup_s)
            samples[router.name].setdefault("idle_rss_mib", []).append(router.idle_rss / 2**20)
        if not args.only or "idle" in args.only:
            for router in routers:
                result = workloads.idle_sessions(router, timing)
                samples[router.name].setdefault("idle.kib_per_session", []).append(result["bytes_per_session"] / 1024)
                raw.append({"router": router.name, "workload": "idle", **result})
                print(f"  {router.name}: {result['bytes_per_session'] / 1024:.1f} KiB per idle session", flush=True)
        for workload in selected:
            for router in routers:  # alternate: each workload on every router before the next
                if workload.memory:  # RSS growth from a fresh process, not from a heap earlier workloads grew
                    router.stop()
                    router.start()
                result = workloads.run(workload, router, timing)
                report.add_workload(samples[router.name], workload, result)
                raw.append({"router": router.name, "workload": workload.key, **result})
                bound = " (client-bound)" if result["client_bound"] else ""
                if "rss_growth_mib" in result:
                    bound += f", router RSS +{result['rss_growth_mib']:.1f} MiB at peak"
                print(f"  {router.name}: {workload.label}: {result['rate']:,.1f} {workload.unit}, "
                      f"router {result['router_us_per_op'] or 0:.1f} us/{workload.per}, "
                      f"CPU router {result['router_share'] * 100:.0f}% clients "
                      f"{result['client_share'] * 100:.0f}% other {result['other_share'] * 100:.0f}%{bound}",
                      flush=True)
    finally:
        for router in routers:
            router.stop()


def main(argv: Any = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    timing = {"warmup": args.warmup, "duration": args.duration, "deadline": args.warmup + args.duration + 120}
    samples: report.Samples = {}
    raw: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="wampnode-bench-") as tmp:
        try:
            routers = make_routers(args, Path(tmp))
        except install.InstallError as e:
            print(f"bench: {e}", file=sys.stderr)
            return 2
        names = [r.name for r in routers]
        samples.update({name: {} for name in names})
        for repetition in range(args.repeat):
            print(f"Run {repetition + 1}/{args.repeat}", flush=True)
            routers = make_routers(args, Path(tmp) / f"run{repetition}")
            one_repetition(routers, args, samples, raw, timing)
    reference = "crossbar" if "crossbar" in names else ("wampnode" if len(names) > 1 and "wampnode" in names else None)
    info = versions(args)
    print()
    print("Versions: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"{args.repeat} run(s), {args.warmup:g} s warm-up + {args.duration:g} s measured per workload, "
          f"{time.monotonic() - began:.0f} s in all")
    print()
    print(report.table(names, reference, samples))
    other = [r["other_share"] for r in raw if "other_share" in r]
    if other:
        mean = sum(other) / len(other)
        print(f"\nOther processes used {mean * 100:.0f}% of one core on average during the measurements"
              + (" (max {:.0f}%): figures are noisy; compare ratios, or rerun on a quiet machine".format(
                  max(other) * 100) if max(other) > 0.1 else "."))
    if args.json:
        Path(args.json).write_text(json.dumps({
            "versions": info, "machine": {"cpus": _cpus(), "platform": platform.platform()},
            "settings": {"repeat": args.repeat, "warmup_s": args.warmup, "duration_s": args.duration},
            "reference": reference, "medians": report.summary(samples), "runs": raw}, indent=2))
        print(f"\nJSON written to {args.json}")
    return 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
