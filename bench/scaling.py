#!/usr/bin/env python3
"""How wampnode scales over processes and nodes: calls/s and events/s, one table.

    python3 bench/scaling.py                 # all setups, 1 s warm-up + 4 s per figure
    python3 bench/scaling.py --duration 8 --json scaling.json

Setups (all on 127.0.0.1, free ports, nats-server from PATH):

``1 process``            a plain node (no backplane, default reactor)
``1 process + NATS``     one node joined to a nats-server: the backplane's own cost
``2 processes``          ``processes: 2`` (its own nats-server); the kernel spreads clients
``2 nodes, 1 NATS``      two single-process nodes through one nats-server; every call
                         and half the deliveries cross from one node to the other

Workloads, each in client processes (autobahn-python on Twisted, JSON):

``calls``   2 callers with 16 outstanding calls each; caller i calls ``bench.echo.i``
            registered by its own callee
``events``  2 publishers (16 acknowledged publishes outstanding each) on one topic,
            2 subscribers: events/s counts deliveries

Beside each throughput: the CPU time of the router side (every router process and
nats-server, psutil) per operation, and the CPU share of router side and clients
(100% = both cores). On a 2-core machine the clients need a core of their own, so
a second router process mostly buys headroom, not throughput; the per-operation CPU
shows what the backplane costs.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from targets import free_port, node_env, tree_cpu  # bench/ is on sys.path: this script's directory

REPO = Path(__file__).resolve().parent.parent
CLIENTS = 2
OUTSTANDING = 16

# --- client processes --------------------------------------------------------------------


def run_client(role: str, url: str, index: int, warmup: float, duration: float) -> None:
    """One client: prints READY (passive roles) or START/END n (active roles)."""
    import txaio

    txaio.use_twisted()
    from autobahn.twisted.wamp import ApplicationSession
    from autobahn.twisted.websocket import WampWebSocketClientFactory
    from autobahn.wamp.serializer import JsonSerializer
    from autobahn.wamp.types import ComponentConfig, PublishOptions
    from twisted.internet import reactor
    from twisted.internet.endpoints import TCP4ClientEndpoint

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    state = {"count": 0, "measuring": False, "done": False}

    class Client(ApplicationSession):
        def onJoin(self, details: Any) -> Any:
            if role == "callee":
                d = self.register(lambda x: x, f"bench.echo.{index}")
                d.addCallback(lambda _: say("READY"))
            elif role == "subscriber":
                def event(x: Any) -> None:
                    if state["measuring"]:
                        state["count"] += 1
                d = self.subscribe(event, "bench.topic")
                d.addCallback(lambda _: say("READY"))
            else:
                reactor.callLater(warmup, start)
                for _ in range(OUTSTANDING):
                    self.loop()

        def loop(self) -> None:
            if state["done"]:
                return
            if role == "caller":
                d = self.call(f"bench.echo.{index}", 1)
            else:
                d = self.publish("bench.topic", 1, options=PublishOptions(acknowledge=True))

            def done(_: Any) -> None:
                if state["measuring"]:
                    state["count"] += 1
                self.loop()

            def failed(f: Any) -> None:
                if not state["done"]:  # calls cut short at the end are no error
                    say(f"ERROR {f.getErrorMessage()}")
                    state["done"] = True
                    reactor.stop()

            d.addCallbacks(done, failed)

    def start() -> None:
        state["measuring"] = True
        say("START")
        reactor.callLater(duration, end)

    def end() -> None:
        state["measuring"] = False
        state["done"] = True
        say(f"END {state['count']}")
        reactor.callLater(0.2, reactor.stop)

    def on_term(*_: Any) -> None:
        if state["measuring"] or role in ("subscriber",):
            say(f"END {state['count']}")
        reactor.callFromThread(reactor.stop)

    reactor.callWhenRunning(signal.signal, signal.SIGTERM, on_term)  # after Twisted's own handler
    if role == "subscriber":
        reactor.callLater(warmup, lambda: state.update(measuring=True))
    host, port = url.split("//")[1].rstrip("/").split(":")
    factory = WampWebSocketClientFactory(lambda: Client(ComponentConfig(realm="realm1")), url=url,
                                         serializers=[JsonSerializer()])
    TCP4ClientEndpoint(reactor, host, int(port)).connect(factory).addErrback(
        lambda f: (say(f"ERROR {f.getErrorMessage()}"), reactor.stop()))
    reactor.callLater(warmup + duration + 60, reactor.stop)  # never run unbounded
    reactor.run()


# --- the driver ----------------------------------------------------------------------------


class Setup:
    """Routers of one setup: started, their process tree measured, stopped."""

    def __init__(self, name: str, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.procs: List[subprocess.Popen] = []
        self.urls: List[str] = []
        self.logs: List[Path] = []

    def start_nats(self) -> str:
        port = free_port()
        proc = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        wait_port(port)
        return f"nats://127.0.0.1:{port}"

    def start_node(self, options: Optional[dict], ready: str, shared: bool = False) -> None:
        port = free_port()
        cbdir = self.workdir / f"{self.name.replace(' ', '_')}-{len(self.urls)}"
        cbdir.mkdir(parents=True)
        endpoint = {"type": "tcp", "port": port, "interface": "127.0.0.1", "shared": shared}
        worker: Dict[str, Any] = {"type": "router", "realms": [{"name": "realm1", "roles": []}],
                                  "transports": [{"type": "websocket", "endpoint": endpoint,
                                                  "serializers": ["json"]}]}
        if options:
            worker["options"] = options
        (cbdir / "config.json").write_text(json.dumps({"version": 2, "workers": [worker]}))
        log = cbdir / "node.log"
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "node", "start", "--cbdir", str(cbdir),
                                     "--loglevel", "warn" if ready == "port" else "info"],
                                    stdout=out, stderr=subprocess.STDOUT, env=node_env())
        self.procs.append(proc)
        self.logs.append(log)
        if ready == "port":
            wait_port(port)
        else:
            deadline = time.monotonic() + 60
            while ready not in log.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{self.name}: node did not start:\n{log.read_text()}")
                time.sleep(0.05)
        self.urls.append(f"ws://127.0.0.1:{port}/")

    def cpu_seconds(self) -> float:
        import psutil

        tree: List[Any] = []
        for proc in self.procs:
            try:
                root = psutil.Process(proc.pid)
                tree += [root] + root.children(recursive=True)
            except psutil.NoSuchProcess:
                continue
        return tree_cpu(tree)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on port {port}")
            time.sleep(0.05)


def make_setup(name: str, workdir: Path) -> Setup:
    setup = Setup(name, workdir)
    if name == "1 process":
        setup.start_node(None, "port")
    elif name == "1 process + NATS":
        url = setup.start_nats()
        setup.start_node({"backplane": {"type": "nats", "url": url}}, "Node ready:")
    elif name == "2 processes":
        setup.start_node({"processes": 2}, "All router processes ready", shared=True)
    elif name == "2 nodes, 1 NATS":
        url = setup.start_nats()
        for _ in range(2):
            setup.start_node({"backplane": {"type": "nats", "url": url}}, "Node ready:")
    return setup


def client(role: str, url: str, index: int, args: argparse.Namespace) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--client", role, "--url", url, "--index", str(index),
                             "--warmup", str(args.warmup), "--duration", str(args.duration)],
                            stdout=subprocess.PIPE, text=True, env=node_env())


def expect(proc: subprocess.Popen, word: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("ERROR"):
            raise SystemExit(f"client failed: {line.strip()}")
        if line.startswith(word):
            return line.strip()
    raise SystemExit(f"client did not say {word}")


def measure(setup: Setup, workload: str, args: argparse.Namespace) -> Dict[str, float]:
    import psutil

    passive_role, active_role = ("callee", "caller") if workload == "calls" else ("subscriber", "publisher")
    urls = setup.urls
    passive = [client(passive_role, urls[(i + 1) % len(urls)], i, args) for i in range(CLIENTS)]
    for p in passive:
        expect(p, "READY")
    time.sleep(0.3)  # registrations and subscriptions reach every process
    active = [client(active_role, urls[i % len(urls)], i, args) for i in range(CLIENTS)]
    for p in active:
        expect(p, "START")
    everyone = [psutil.Process(p.pid) for p in passive + active]
    router0, clients0, wall0 = setup.cpu_seconds(), tree_cpu(everyone), time.monotonic()
    counts = [int(expect(p, "END").split()[1]) for p in active]
    router1, clients1, wall1 = setup.cpu_seconds(), tree_cpu(everyone), time.monotonic()
    for p in passive:
        p.send_signal(signal.SIGTERM)
    delivered = [int(expect(p, "END").split()[1]) for p in passive] if workload == "events" else counts
    for p in passive + active:
        p.wait(10)
    operations = sum(delivered)
    wall = wall1 - wall0
    cores = psutil.cpu_count() or 1
    return {"per_second": operations / args.duration,
            "router_us_per_op": (router1 - router0) / max(operations, 1) * 1e6,
            "router_cpu_share": (router1 - router0) / wall / cores * 100,
            "client_cpu_share": (clients1 - clients0) / wall / cores * 100}


SETUPS = ("1 process", "1 process + NATS", "2 processes", "2 nodes, 1 NATS")


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description="wampnode scaling benchmark", epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--only", action="append", choices=SETUPS, help="run only this setup (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        run_client(args.client, args.url, args.index, args.warmup, args.duration)
        return 0
    results: Dict[str, Dict[str, Dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="wampnode-scaling-") as tmp:
        for name in args.only or SETUPS:
            setup = make_setup(name, Path(tmp))
            try:
                results[name] = {w: measure(setup, w, args) for w in ("calls", "events")}
            finally:
                setup.stop()
            print(f"  measured: {name}", file=sys.stderr)
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def print_table(results: Dict[str, Dict[str, Dict[str, float]]]) -> None:
    base = results.get("1 process")
    print(f"\n{'setup':<18} {'workload':<8} {'per s':>8} {'vs 1':>6} {'router us/op':>13} "
          f"{'router CPU':>11} {'client CPU':>11}")
    for name, workloads in results.items():
        for workload, r in workloads.items():
            ratio = f"{r['per_second'] / base[workload]['per_second']:.2f}x" if base else "-"
            print(f"{name:<18} {workload:<8} {r['per_second']:>8.0f} {ratio:>6} {r['router_us_per_op']:>13.0f} "
                  f"{r['router_cpu_share']:>10.0f}% {r['client_cpu_share']:>10.0f}%")
    print(f"\nCPU shares: 100% = all {os.cpu_count()} cores; calls: {CLIENTS} callers x {OUTSTANDING} outstanding; "
          f"events: {CLIENTS} publishers x {OUTSTANDING} outstanding -> {CLIENTS} subscribers (deliveries/s).")


if __name__ == "__main__":
    sys.exit(main())
