#!/usr/bin/env python3
"""Router CPU per call with router components: ws -> ws, ws -> component, component -> ws.

    python3 bench/components.py                        # 3 repetitions, 16 calls in flight
    python3 bench/components.py --repeat 5 --outstanding 1 --json out.json

What is measured, per scenario, over the same kind of window as ``bench/run.py``
(warm-up, then ``--duration`` seconds; CPU times of the router process at the edges):

``ws -> ws``         a ws caller (``client.py caller``) calls ``bench.echo`` of a ws
                     callee (``client.py callee``, its own process).
``ws -> component``  the same ws caller; ``bench.echo`` is a router component
                     (``apps/bench_components.py`` ``Echo``), in the router process.
``component -> ws``  a router component (``Caller``) keeps the same number of calls
                     in flight to the ws callee.

"router" is all CPU time of the router process. With a component that includes the
component's own Python work (autobahn's client side and the procedure), which in
``ws -> ws`` is spent in the callee's or caller's process instead. The component
measures that share itself (``thread_time`` inside its ``onMessage``, minus the time
inside ``send``, which is the router's work on what it sends), so the table shows
both: the router process's CPU per call, and that CPU minus the component's share
(the router's own work). The ws peer's CPU per call is in the last column.
Medians over ``--repeat`` runs, ``±`` half the min-max range in percent.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import targets  # noqa: E402
import workloads  # noqa: E402

APPS = Path(__file__).resolve().parent / "apps"
SCENARIOS = ("ws -> ws", "ws -> component", "component -> ws")


class ComponentRouter(targets.Router):
    """A wampnode whose router component reports its counters when asked (SIGUSR1)."""

    snapshots: List[Dict[str, float]]

    def cpu_seconds(self) -> float:
        cpu = super().cpu_seconds()
        self.snapshots.append(self.component_stats())  # workloads.run samples at the window's edges
        return cpu

    def component_stats(self, timeout: float = 10.0) -> Dict[str, float]:
        path = self.cbdir / "stats.json"
        before = json.loads(path.read_text())["seq"] if path.exists() else 0
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists():
                stats = json.loads(path.read_text())
                if stats["seq"] > before:
                    return stats
            time.sleep(0.002)
        raise RuntimeError(f"the component did not report its counters; see {self.cbdir / 'router.log'}")


def router_with(workdir: Path, name: str, component: Optional[Dict[str, Any]]) -> targets.Router:
    if component is None:
        return targets.wampnode(workdir, name=name)
    extra = {"options": {"pythonpath": [str(APPS)]}, "components": [component]}
    router = targets.wampnode(workdir, name=name, router_extra=extra)
    measured = ComponentRouter(router.name, router.command, router.cbdir, router.env, extra)
    measured.snapshots = []
    return measured


def per_call(seconds: float, calls: float) -> Optional[float]:
    return seconds / calls * 1e6 if calls else None


def ws_caller(router: targets.Router, args: argparse.Namespace, timing: Dict[str, float],
              with_callee: bool) -> Dict[str, Any]:
    """ws -> ws and ws -> component: ``workloads.run`` with the ws caller as the active client."""
    workload = workloads.Workload("rpc", "RPC", "calls/s", "call", ("caller", "--outstanding", str(args.outstanding)),
                                  (("callee",),) if with_callee else ())
    result = workloads.run(workload, router, timing)
    calls = result["operations"]
    seconds = calls / result["rate"] if result["rate"] else 0.0
    out = {"rate": result["rate"], "router_us": result["router_us_per_op"], "component_us": 0.0,
           "peer_us": None}
    if with_callee:
        out["peer_us"] = per_call(result["client_shares"].get("0:callee", 0.0) * seconds, calls)
    else:
        out["peer_us"] = per_call(result["client_shares"].get("0:caller", 0.0) * seconds, calls)
    if isinstance(router, ComponentRouter):
        first, last = router.snapshots[-2], router.snapshots[-1]
        out["component_us"] = per_call(last["own_cpu"] - first["own_cpu"], calls)
    return out


def component_caller(router: ComponentRouter, args: argparse.Namespace, timing: Dict[str, float]) -> Dict[str, Any]:
    """component -> ws: the component calls; its counters give the calls made in the window."""
    callee = workloads.ClientProcess(["callee"], router.url, timing)
    try:
        callee.wait_for("READY", 60)
        time.sleep(timing["warmup"])
        wall0, router0, peer0 = time.perf_counter(), router.cpu_seconds(), callee.cpu()
        time.sleep(timing["duration"])
        wall, router_cpu, peer = time.perf_counter() - wall0, router.cpu_seconds() - router0, callee.cpu() - peer0
    finally:
        callee.stop()
    first, last = router.snapshots[-2], router.snapshots[-1]
    calls = last["calls"] - first["calls"]
    return {"rate": calls / wall, "router_us": per_call(router_cpu, calls),
            "component_us": per_call(last["own_cpu"] - first["own_cpu"], calls), "peer_us": per_call(peer, calls)}


def one_run(workdir: Path, args: argparse.Namespace, timing: Dict[str, float]) -> Dict[str, Dict[str, Any]]:
    results: Dict[str, Dict[str, Any]] = {}
    plans = (("ws -> ws", None),
             ("ws -> component", {"type": "class", "classname": "bench_components.Echo", "realm": "realm1"}),
             ("component -> ws", {"type": "class", "classname": "bench_components.Caller", "realm": "realm1",
                                  "extra": {"outstanding": args.outstanding}}))
    for index, (scenario, component) in enumerate(plans):
        router = router_with(workdir, f"router{index}", component)
        router.start()
        try:
            if scenario == "component -> ws":
                results[scenario] = component_caller(router, args, timing)  # type: ignore[arg-type]
            else:
                results[scenario] = ws_caller(router, args, timing, with_callee=component is None)
        finally:
            router.stop()
        figures = results[scenario]
        figures["router_own_us"] = (figures["router_us"] - figures["component_us"]
                                    if figures["router_us"] is not None and figures["component_us"] is not None
                                    else None)
        print(f"  {scenario}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items() if v is not None),
              file=sys.stderr)
    return results


def cell(values: Sequence[Optional[float]]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    mid = statistics.median(present)
    text = f"{mid:,.0f}" if mid >= 1000 else f"{mid:.1f}"
    if len(present) > 1 and mid:
        text += f" ±{(max(present) - min(present)) / 2 / mid * 100:.0f}%"
    return text


COLUMNS = (("rate", "calls/s"), ("router_us", "router process CPU/call (us)"),
           ("component_us", "of which the component (us)"), ("router_own_us", "router without it (us)"),
           ("peer_us", "ws peer process CPU/call (us)"))


def table(runs: List[Dict[str, Dict[str, Any]]]) -> str:
    header = "| scenario | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines = [header, "|" + " --- |" * (len(COLUMNS) + 1)]
    for scenario in SCENARIOS:
        cells = [cell([run[scenario].get(key) for run in runs]) for key, _ in COLUMNS]
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--outstanding", type=int, default=16, help="calls in flight (default 16)")
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    timing = {"warmup": args.warmup, "duration": args.duration, "deadline": args.warmup + args.duration + 120}
    runs: List[Dict[str, Dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="wampnode-bench-components-") as tmp:
        for repetition in range(args.repeat):
            print(f"run {repetition + 1}/{args.repeat}", file=sys.stderr)
            runs.append(one_run(Path(tmp) / f"run{repetition}", args, timing))
    print(f"Router CPU per call, {args.outstanding} call(s) in flight, JSON, medians of {args.repeat} run(s)\n")
    print(table(runs))
    if args.json:
        Path(args.json).write_text(json.dumps({"outstanding": args.outstanding, "runs": runs}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
