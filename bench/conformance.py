"""Run the Autobahn WebSocket conformance suite against wampnode and print the verdicts.

    python bench/conformance.py                      # all 517 cases, ~15 minutes
    python bench/conformance.py --cases '1.*' '5.*'  # a selection
    python bench/conformance.py --path               # a web transport's websocket-testee path

It starts a node (``python -m node start``) with a ``websocket.testee`` transport on
127.0.0.1, which echoes with the WebSocket stack and options of the WAMP transports,
and drives it with ``kosoku`` (the Autobahn TestSuite's case files run on Python 3;
``pip install kosoku``). Prints one line per case group with the count of each
verdict, writes kosoku's HTML/JSON reports and a summary JSON to ``--outdir``, and
exits 1 when any case FAILED.

The testee's options: the defaults, except message and frame size limits of 20 MB
(cases 9.x send up to 16 MiB; the default 1 MiB limit refuses them with 1009, by
design) and no automatic pings (``auto_ping_interval`` 0, as in Crossbar.io's
defaults): the suite's long compression cases take over 30 s, and a server ping
arriving mid-case is an event the case does not expect.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parent.parent
VERDICTS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "ERROR"]

TESTEE_OPTIONS = {"max_frame_size": 20000000, "max_message_size": 20000000, "auto_ping_interval": 0,
                  "compression": {"deflate": {}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_config(port: int, on_path: bool) -> Dict[str, Any]:
    endpoint = {"type": "tcp", "port": port, "interface": "127.0.0.1"}
    if on_path:
        transport = {"type": "web", "endpoint": endpoint,
                     "paths": {"echo": {"type": "websocket-testee", "options": TESTEE_OPTIONS}}}
    else:
        transport = {"type": "websocket.testee", "endpoint": endpoint, "options": TESTEE_OPTIONS}
    return {"version": 2, "workers": [{"type": "router", "realms": [], "transports": [transport]}]}


def start_node(cbdir: Path, config: Dict[str, Any], python: str = sys.executable) -> subprocess.Popen:
    (cbdir / "config.json").write_text(json.dumps(config))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    log = open(cbdir / "node.log", "w")
    proc = subprocess.Popen([python, "-m", "node", "start", "--cbdir", str(cbdir), "--loglevel", "warn"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    port = config["workers"][0]["transports"][0]["endpoint"]["port"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"node did not start; see {cbdir / 'node.log'}")


def run(url: str, cases: List[str], concurrency: int) -> List[Any]:
    from kosoku import FailureError, run_fuzzingclient

    try:
        return list(asyncio.run(run_fuzzingclient(url, cases or None, concurrency=concurrency)))
    except FailureError as failure:
        return list(failure.results)


def summarize(results: List[Any]) -> Dict[str, Any]:
    groups: Dict[str, Counter] = defaultdict(Counter)
    for r in results:
        group = r.case_id.split(".")[0]
        groups[group][r.behavior.value] += 1
        groups[group]["close " + r.behavior_close.value] += 1
    total = Counter(r.behavior.value for r in results)
    closes = Counter(r.behavior_close.value for r in results)
    failed = [{"case": r.case_id, "behavior": r.behavior.value, "close": r.behavior_close.value,
               "result": r.result, "result_close": r.result_close} for r in results if not r.passed]
    return {"cases": len(results), "behavior": dict(total), "close": dict(closes), "failed": failed,
            "groups": {g: dict(c) for g, c in sorted(groups.items(), key=lambda kv: int(kv[0]))}}


def print_table(summary: Dict[str, Any]) -> None:
    print(f"{'group':>5} {'cases':>5} " + " ".join(f"{v:>13}" for v in VERDICTS))
    for group, counts in summary["groups"].items():
        n = sum(v for k, v in counts.items() if not k.startswith("close "))
        print(f"{group:>5} {n:>5} " + " ".join(f"{counts.get(v, 0):>13}" for v in VERDICTS))
    print(f"{'all':>5} {summary['cases']:>5} " + " ".join(f"{summary['behavior'].get(v, 0):>13}" for v in VERDICTS))
    print("closing handshake verdicts:", ", ".join(f"{k} {v}" for k, v in sorted(summary["close"].items())))
    for f in summary["failed"]:
        print(f"NOT PASSED {f['case']}: {f['behavior']} / {f['close']}: {f['result']} {f['result_close']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", default=[], help="case ids or globs (default: all)")
    parser.add_argument("--path", action="store_true", help="test a websocket-testee path of a web transport")
    parser.add_argument("--concurrency", type=int, default=1, help="cases run in parallel (default 1)")
    parser.add_argument("--outdir", default="bench/results/conformance", help="reports and summary.json")
    parser.add_argument("--node-python", default=sys.executable,
                        help="interpreter the node runs on (default: this one), e.g. .venv-pypy/bin/python")
    args = parser.parse_args()

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wampnode-conformance-") as tmp:
        proc = start_node(Path(tmp), node_config(port, args.path), args.node_python)
        url = f"ws://127.0.0.1:{port}" + ("/echo" if args.path else "")
        started = time.monotonic()
        try:
            results = run(url, args.cases, args.concurrency)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        elapsed = time.monotonic() - started
    summary = summarize(results)
    summary.update(url=url, seconds=round(elapsed, 1), python=sys.version.split()[0])
    print_table(summary)
    print(f"{summary['cases']} cases in {elapsed:.0f} s against {url}")
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    try:
        from kosoku._report import write_reports  # kosoku's own HTML/JSON report writer

        write_reports(results, str(outdir))
    except Exception as e:  # the summary below is what this script promises; reports are a bonus
        print(f"(kosoku reports not written: {e})")
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
    raise SystemExit(1 if summary["failed"] else 0)


if __name__ == "__main__":
    main()
