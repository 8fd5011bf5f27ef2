#!/usr/bin/env python3
"""What the stack allows: floors measured in the same run as wampnode and Crossbar.io.

    python3 bench/floor.py                  # CPython; Crossbar.io as the reference
    python3 bench/floor.py --pypy           # + wampnode and the minimal router on PyPy
    python3 bench/floor.py --repeat 3 --only sessions_ws --only rpc_1
    python3 bench/floor.py --only call_1mib  # the large-message floors alone

Issue 8 set its CPU targets from a minimal router on the same stack. This
prints, for each workload, the router CPU per operation of wampnode, of
Crossbar.io and of ``minimal_router.py`` (variants ``stock``, ``quiet``,
``node``), each as a ratio to Crossbar.io. Two floors below any WAMP router
follow, as µs of server CPU and as a ratio to Crossbar.io's figure of the same run:

- relay: two TCP connections to a Twisted server that copies each message to
  the other one, driven like ``rpc_1`` (send on A, read on B, answer on B, read
  on A): the reactor turns and system calls of one call at one outstanding,
  with no WebSocket and no WAMP;
- relay_paced: the same relay with the driver waiting :data:`RELAY_PAUSE` before
  each message, about what the benchmark's autobahn clients take to answer one
  (``rpc_1`` runs at about 2,000 calls a second: 500 µs a call, of which the
  router's two turns take about 100 µs and each client's answer about 200):
  the relay then sleeps between messages, as a router does with one call in flight
  and those clients, and each message costs it a wake-up from sleep. The relay
  above is driven by a loop that answers within microseconds, so it is idle only briefly;
- TLS handshake: ``openssl s_time -new`` (full TLS 1.3 handshakes, nothing sent)
  against a blocking pyOpenSSL server with wampnode's certificate and default
  group, against wampnode and against Crossbar.io.

For ``call_1mib`` (issue 17), two floors of a 1 MiB call, as ratios to
Crossbar.io's ``call_1mib``:

- relay_1mib: the same relay, driven like ``call_1mib``: the bytes of a 1 MiB CALL
  (what the benchmark client sends) copied from A to B and back, one at a time:
  memory speed through Twisted's reads and writes;
- relay_of_<workload> (``--only call_64kib``, ``call_1mib_msgpack``, ...): the same
  relay with a message of that workload's size, as a ratio to Crossbar.io's figure
  for that workload; with it step_of_<workload>, the per-byte steps of the two
  messages of that size and format a call brings in (``bench/per_byte.py CODEC SIZE``:
  unmasking, and the check that leaves the arguments undecoded), and, when ``rpc_1``
  runs too, floor_of_<workload>: wampnode's own empty call in that interpreter plus
  what the message adds to the relay plus those steps, what a router on this stack
  that spends nothing else on a large message would spend;
- step_1mib: the per-byte steps no WebSocket JSON router can skip for one 1 MiB
  message it receives, timed in the router's interpreter by ``bench/per_byte.py``:
  ``unmask`` (the node's masker), ``validate`` (UTF-8 by ``bytes.decode``, as
  wampnode does), ``parse`` (one JSON decode, wampnode's ``json_loads``), ``check`` (the
  node's C scanner and the decode of the head, which replaces ``parse`` where built: a
  router must check what it forwards, not decode it); ``per-call`` is twice the sum of
  the steps the node takes: a call round trip brings two such messages in (CALL, YIELD),
  while INVOCATION and RESULT need not be encoded anew (their arguments are the bytes
  that came in) nor masked (server frames).

For ``call_16mib`` (``--only call_16mib``; issue 17's memory target), the router RSS
growth while 16 MiB calls are in flight, as a multiple of the message, for each router,
and its floor: ``bench/large_objects.py`` in each interpreter, a process with the node's
modules loaded making 16 MiB payloads one at a time (``bytes``: as Python objects, the
node's design; ``bytes_collected``: the same with a major collection before each, as the
node does on PyPy from 8 MiB; ``c_memory``: C memory freed as each is dropped).

Medians over ``--repeat`` runs, ``±`` half the min-max range in percent.
"""
from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import install  # noqa: E402
import large_objects  # noqa: E402
import per_byte  # noqa: E402
import targets  # noqa: E402
import workloads  # noqa: E402

HERE = Path(__file__).resolve().parent
WORKLOADS = ("sessions_ws", "sessions_wss", "rpc_1", "rpc_16", "call_1mib")
# the other large-call workloads: each gets a relay of a message of its size (relay_of_<workload>)
SIZED_CALLS = {"call_64kib": workloads.MEDIUM, "call_64kib_msgpack": workloads.MEDIUM,
               "call_64kib_cbor": workloads.MEDIUM, "call_1mib_msgpack": workloads.BIG,
               "call_1mib_cbor": workloads.BIG}
RELAY_MESSAGE = b"[48,1,{},\"bench.echo\",[\"" + b"x" * 32 + b"\"]]"
LARGE_MESSAGE = per_byte.LARGE_MESSAGE  # the CALL of call_1mib
RELAY_PAUSE = 200e-6  # seconds the paced driver waits before each message (relay_paced)
MEMORY_WORKLOAD = "call_16mib"  # only when named: RSS growth and its floor (bench/large_objects.py)
# a floor's figure -> the Crossbar.io workload it is a ratio to
BASES = {"relay": "rpc_1", "relay_paced": "rpc_1", "relay_1mib": "call_1mib", "step_1mib": "call_1mib",
         "handshake": "sessions_wss"}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pypy", action="store_true", help="also wampnode and the minimal router on PyPy")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--only", action="append", default=[],
                        choices=WORKLOADS + tuple(SIZED_CALLS) + (MEMORY_WORKLOAD,))
    parser.add_argument("--serve-relay", nargs=2, metavar=("PORT", "VARIANT"), help=argparse.SUPPRESS)
    parser.add_argument("--serve-tls", nargs=3, metavar=("PORT", "KEY", "CERT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the two servers below any router (run as child processes) --------------------------

def serve_relay(port: int, variant: str) -> None:
    """Copy what one connection sends to the other (two connections)."""
    sys.path.insert(0, str(targets.REPO))
    if variant == "node":
        from node.fastpath.reactor import install as install_reactor

        install_reactor()
    from twisted.internet import protocol, reactor

    connections: List[protocol.Protocol] = []

    class Relay(protocol.Protocol):
        def connectionMade(self) -> None:
            connections.append(self)
            self.transport.setTcpNoDelay(True)

        def connectionLost(self, reason: object = None) -> None:
            connections.remove(self)  # the start-up probe's connection, say

        def dataReceived(self, data: bytes) -> None:
            (connections[1] if self is connections[0] else connections[0]).transport.write(data)

    factory = protocol.Factory.forProtocol(Relay)
    if variant == "node":
        from node.transports.endpoints import TCPServerEndpoint

        TCPServerEndpoint(reactor, port, "127.0.0.1", 50).listen(factory)
    else:
        reactor.listenTCP(port, factory, interface="127.0.0.1")
    reactor.run()


def serve_tls(port: int, key: str, cert: str) -> None:
    """Accept, handshake, close: one connection at a time, no event loop."""
    from OpenSSL import SSL

    from minimal_router import tls_context

    context = tls_context(key, cert)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(128)
    while True:
        raw, _ = listener.accept()
        connection = SSL.Connection(context, raw)
        connection.set_accept_state()
        try:
            connection.do_handshake()
            connection.shutdown()
        except SSL.Error:
            pass
        raw.close()


# --- measuring ---------------------------------------------------------------------------

class Child:
    """A server process of ours, for its CPU time."""

    def __init__(self, command: List[str]) -> None:
        self.proc = subprocess.Popen(command, start_new_session=True)

    def cpu_seconds(self) -> float:
        import psutil

        return targets.tree_cpu([psutil.Process(self.proc.pid)])

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def wait_listening(port: int, child: Child, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not targets._accepts(port):
        if child.proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"floor server on port {port} did not start")
        time.sleep(0.02)


def per_byte_us(python: str, *sized: str) -> Dict[str, float]:
    """``bench/per_byte.py`` in ``python`` (``sized``: its codec and size arguments)."""
    import json

    result = subprocess.run([python, str(HERE / "per_byte.py"), *sized], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def relay_us_per_call(python: str, variant: str, warmup: float, duration: float,
                      message: bytes = RELAY_MESSAGE, pause: float = 0.0) -> float:
    """Relay CPU per call; ``pause``: seconds the driver waits before each of a call's
    two messages (the relay sleeps meanwhile, as a router does between its clients' turns)."""
    port = targets.free_port()
    child = Child([python, __file__, "--serve-relay", str(port), variant])
    try:
        wait_listening(port, child)
        a = socket.create_connection(("127.0.0.1", port))
        time.sleep(0.1)  # the relay tells its two connections apart by arrival
        b = socket.create_connection(("127.0.0.1", port))
        with a, b:
            for s in (a, b):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            batch = 50 if len(message) < 65536 else 1

            def calls(seconds: float) -> int:
                done, end = 0, time.monotonic() + seconds
                while time.monotonic() < end:
                    for _ in range(batch):
                        if pause:
                            _wait(pause)
                        a.sendall(message)
                        _read(b, len(message))
                        if pause:
                            _wait(pause)
                        b.sendall(message)
                        _read(a, len(message))
                    done += batch
                return done

            calls(warmup)
            before = child.cpu_seconds()
            count = calls(duration)
            return 1e6 * (child.cpu_seconds() - before) / count
    finally:
        child.stop()


def _wait(seconds: float) -> None:
    """Wait without sleeping: ``time.sleep`` of 100 µs takes 150 or more (timer slack),
    a spin keeps the pace the clients keep and leaves the relay alone on its wake-ups."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _read(s: socket.socket, size: int) -> None:
    while size > 0:
        size -= len(s.recv(min(size, 1 << 20)))


def handshake_us(port: int, cpu_seconds: Callable[[], float], duration: float) -> float:
    """Server CPU per full handshake of ``openssl s_time -new``."""
    command = ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time"]
    subprocess.run(command + ["1"], capture_output=True, check=True)
    before = cpu_seconds()
    out = subprocess.run(command + [str(max(1, round(duration)))], capture_output=True, text=True, check=True).stdout
    used = cpu_seconds() - before
    found = re.search(r"(\d+) connections in [\d.]+s", out)
    if not found:
        raise RuntimeError(f"unexpected openssl s_time output: {out[-300:]}")
    return 1e6 * used / int(found.group(1))


def minimal_router(workdir: Path, variant: str, python: str = sys.executable, suffix: str = "") -> targets.Router:
    name = f"minimal-{variant}{suffix}"
    router = targets.Router(name, [], workdir / name, targets.node_env())
    router.rs_port = None  # WebSocket only
    router.command = [python, str(HERE / "minimal_router.py"), str(router.ws_port), str(router.wss_port),
                      str(router.cbdir), variant]
    return router


def routers(args: argparse.Namespace, workdir: Path) -> List[targets.Router]:
    out = [targets.crossbar(workdir, install.crossbar_venv()), targets.wampnode(workdir)]
    out += [minimal_router(workdir, variant) for variant in ("stock", "quiet", "node")]
    if args.pypy:
        pypy = str(install.pypy_venv() / "bin" / "python")
        out.append(targets.wampnode(workdir, pypy, name="wampnode-pypy"))
        out += [minimal_router(workdir, variant, pypy, "-pypy") for variant in ("stock", "node")]
    return out


def run(args: argparse.Namespace) -> Dict[str, List[float]]:
    """One figure name -> its value in every repetition."""
    samples: Dict[str, List[float]] = {}
    timing = {"warmup": args.warmup, "duration": args.duration, "deadline": args.duration + 120}
    chosen = [w for w in workloads.WORKLOADS if w.key in (args.only or WORKLOADS)]
    pythons = [("cpython", sys.executable)]
    if args.pypy:
        pythons.append(("pypy", str(install.pypy_venv() / "bin" / "python")))
    for repetition in range(args.repeat):
        print(f"Run {repetition + 1}/{args.repeat}", flush=True)
        with tempfile.TemporaryDirectory(prefix="wampnode-floor-") as tmp:
            started = routers(args, Path(tmp))
            try:
                for router in started:
                    router.start()
                for workload in chosen:
                    for router in started:
                        if router.name.startswith("minimal-") and (workload.key.endswith(("_msgpack", "_cbor"))
                                                                   or workload.key == MEMORY_WORKLOAD):
                            continue  # the minimal router speaks JSON only, within its message size
                        result = workloads.run(workload, router, timing)
                        samples.setdefault(f"{workload.key} {router.name}", []).append(result["router_us_per_op"])
                        if "rss_growth_x" in result:
                            samples.setdefault(f"rss_x {workload.key} {router.name}", []).append(result["rss_growth_x"])
                        print(f"  {workload.key:13s} {router.name:20s} {result['router_us_per_op']:9.1f} us",
                              flush=True)
                if "rpc_1" in (args.only or WORKLOADS):
                    for label, python in pythons:
                        for variant in ("stock", "node"):
                            figure = relay_us_per_call(python, variant, args.warmup, args.duration)
                            samples.setdefault(f"relay {label}-{variant}", []).append(figure)
                            print(f"  relay {label}-{variant:15s} {figure:9.1f} us", flush=True)
                        figure = relay_us_per_call(python, "node", args.warmup, args.duration, pause=RELAY_PAUSE)
                        samples.setdefault(f"relay_paced {label}-node", []).append(figure)
                        print(f"  relay_paced {label}-node {figure:9.1f} us", flush=True)
                if "call_1mib" in (args.only or WORKLOADS):
                    for label, python in pythons:
                        for variant in ("stock", "node"):
                            figure = relay_us_per_call(python, variant, args.warmup, args.duration, LARGE_MESSAGE)
                            samples.setdefault(f"relay_1mib {label}-{variant}", []).append(figure)
                            print(f"  relay_1mib {label}-{variant:10s} {figure:9.1f} us", flush=True)
                        for step, figure in per_byte_us(python).items():
                            samples.setdefault(f"step_1mib {label} {step}", []).append(figure)
                            print(f"  step_1mib {label} {step:12s} {figure:9.1f} us", flush=True)
                for key in SIZED_CALLS:
                    if key in args.only:
                        message = b"x" * SIZED_CALLS[key]  # the relay copies octets: their meaning is no matter
                        for label, python in pythons:
                            figure = relay_us_per_call(python, "node", args.warmup, args.duration, message)
                            samples.setdefault(f"relay_of_{key} {label}-node", []).append(figure)
                            print(f"  relay_of_{key} {label}-node {figure:9.1f} us", flush=True)
                            codec = key.rsplit("_", 1)[1] if key.endswith(("_msgpack", "_cbor")) else "json"
                            figure = per_byte_us(python, codec, str(SIZED_CALLS[key]))["per-call"]
                            samples.setdefault(f"step_of_{key} {label} per-call", []).append(figure)
                            print(f"  step_of_{key} {label} per-call {figure:9.1f} us", flush=True)
                if MEMORY_WORKLOAD in args.only:
                    for label, python in pythons:
                        for variant, figure in large_objects.measure(python).items():
                            samples.setdefault(f"rss_x floor {label} {variant}", []).append(figure)
                            print(f"  rss_x floor {label} {variant:10s} {figure:9.2f}x", flush=True)
                if "sessions_wss" in (args.only or WORKLOADS):
                    by_name = {router.name: router for router in started}
                    wampnode, crossbar = by_name["wampnode"], by_name["crossbar"]
                    port = targets.free_port()
                    server = Child([sys.executable, __file__, "--serve-tls", str(port),
                                    str(wampnode.cbdir / "server.key"), str(wampnode.cbdir / "server.crt")])
                    try:
                        wait_listening(port, server)
                        for name, port_, cpu in (("blocking-pyopenssl", port, server.cpu_seconds),
                                                 ("wampnode", wampnode.wss_port, wampnode.cpu_seconds),
                                                 ("crossbar", crossbar.wss_port, crossbar.cpu_seconds)):
                            figure = handshake_us(port_, cpu, args.duration)
                            samples.setdefault(f"handshake {name}", []).append(figure)
                            print(f"  handshake {name:20s} {figure:9.1f} us", flush=True)
                    finally:
                        server.stop()
            finally:
                for router in started:
                    router.stop()
    return samples


def _cell(values: List[float]) -> str:
    middle = statistics.median(values)
    if len(values) < 2 or not middle:
        return f"{middle:,.1f}"
    return f"{middle:,.1f} ±{50 * (max(values) - min(values)) / middle:.0f}%"


def _ratio(values: List[float], base: Optional[float]) -> str:
    """The median of ``values`` over ``base`` (Crossbar.io's figure), or "-" without one."""
    if not base:
        return "-"
    share = statistics.median(values) / base
    return f"{share:.3f}x" if share < 0.1 else f"{share:.2f}x"


def _sized_workload(kind: str) -> Optional[str]:
    """The workload a ``relay_of_``/``step_of_``/``floor_of_`` figure is compared with."""
    for prefix in ("relay_of_", "step_of_", "floor_of_"):
        if kind.startswith(prefix):
            return kind[len(prefix):]
    return None


def sized_floors(samples: Dict[str, List[float]],
                 reference: Dict[str, float]) -> List[Tuple[str, List[float], float]]:
    """``floor_of_<workload> <interpreter>``: what a router spending no more than
    wampnode's own empty call (``rpc_1``) and the relay's and the per-byte steps' cost of
    the message would spend on one call, per repetition; with Crossbar.io's figure."""
    out = []
    for key in SIZED_CALLS:
        base = reference.get(key)
        for label, node in (("cpython", "wampnode"), ("pypy", "wampnode-pypy")):
            parts = (samples.get(f"rpc_1 {node}"), samples.get(f"relay_of_{key} {label}-node"),
                     samples.get(f"relay {label}-node"), samples.get(f"step_of_{key} {label} per-call"))
            if base and all(parts):
                empty, moved, relay, steps = parts  # type: ignore[misc]
                values = [e + m - r + s for e, m, r, s in zip(empty, moved, relay, steps)]
                out.append((f"floor_of_{key} {label}", values, base))
    return out


def table(samples: Dict[str, List[float]]) -> str:
    lines = [f"{'router CPU per operation (us)':44s} {'median':>16s} {'/crossbar':>10s}", "-" * 72]
    reference = {key.split()[0]: statistics.median(values) for key, values in samples.items()
                 if key.endswith(" crossbar") and not key.startswith("handshake")}
    for key, values in samples.items():
        kind = key.split()[0]
        if kind == "rss_x":  # a multiple of the message size already: no ratio
            lines.append(f"{key:44s} {_cell(values):>16s} {'-':>10s}")
            continue
        base = reference.get(BASES.get(kind, _sized_workload(kind) or kind))
        lines.append(f"{key:44s} {_cell(values):>16s} {_ratio(values, base):>10s}")
    for key, values, base in sized_floors(samples, reference):
        lines.append(f"{key:44s} {_cell(values):>16s} {_ratio(values, base):>10s}")
    lines.append("")
    lines.append("relay: per call at one outstanding, ratio to Crossbar.io's rpc_1 (relay_paced: the driver")
    lines.append(f"waits {RELAY_PAUSE * 1e6:.0f} us before each message, so the relay sleeps between them);")
    lines.append("handshake: TLS handshake only, ratio to Crossbar.io's whole wss session (sessions_wss);")
    lines.append("relay_1mib and step_1mib (per 1 MiB message; per-call: two of them): ratio to Crossbar.io's")
    lines.append("call_1mib; relay_of_<workload>: the relay driven like that workload with a message of its size,")
    lines.append("ratio to Crossbar.io's figure for it; step_of_<workload>: unmasking and checking the two")
    lines.append("messages of its size a call brings in (bench/per_byte.py); floor_of_<workload>: wampnode's own")
    lines.append("rpc_1 in that interpreter, plus what moving the message adds to the relay (relay_of_<workload>")
    lines.append("- relay), plus step_of_<workload>.")
    if any(key.startswith("rss_x") for key in samples):
        lines.append("rss_x: router RSS growth at peak while 16 MiB calls run, as a multiple of the message;")
        lines.append("its floor: a process with the node's modules making 16 MiB payloads one at a time")
        lines.append("(bench/large_objects.py).")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.serve_relay:
        serve_relay(int(args.serve_relay[0]), args.serve_relay[1])
        return 0
    if args.serve_tls:
        serve_tls(int(args.serve_tls[0]), args.serve_tls[1], args.serve_tls[2])
        return 0
    started = time.monotonic()
    samples = run(args)
    print()
    print(table(samples))
    print(f"\n{args.repeat} run(s), {time.monotonic() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
