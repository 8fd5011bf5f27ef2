"""Soak run: mixed traffic against one node for minutes, printing the node's RSS over time.

    python bench/soak.py                 # 10 minutes
    python bench/soak.py --minutes 2 --interval 10

Starts a node (``python -m node start``) with a WebSocket and a RawSocket transport
on 127.0.0.1 and drives it from this process (autobahn, asyncio) with:

- pub/sub: one publisher per transport, events of 10 B to 64 KiB, to 6 subscribers;
- RPC: a callee on each transport and callers with up to 8 calls outstanding;
- churn: sessions that join, subscribe, call once and leave, several per second;
- a subscriber that stops reading (dropped by ``max_outgoing_buffer``) and a client
  that opens a WebSocket handshake and never finishes it, now and then.

Every ``--interval`` seconds it prints the node's RSS and what was done since the
last line. Memory is flat when, after the warm-up (the first fifth of the run), RSS
grows by less than 8 MiB (or 5%); the script says so and exits 1 otherwise.
Not part of the test suite: it runs for minutes by design. Bounded: every loop
stops at the deadline, all traffic goes to 127.0.0.1.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import txaio  # noqa: E402

txaio.use_asyncio()

import psutil  # noqa: E402
from autobahn.wamp.types import PublishOptions  # noqa: E402
from wampclient import connect, leave  # noqa: E402

SIZES = [10, 100, 1000, 10_000, 65_536]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_node(cbdir: Path, ws: int, rs: int) -> subprocess.Popen:
    endpoint = lambda port: {"type": "tcp", "port": port, "interface": "127.0.0.1"}  # noqa: E731
    config = {"version": 2, "workers": [{"type": "router", "realms": [{"name": "realm1", "roles": []}],
                                         "transports": [
                                             {"type": "websocket", "endpoint": endpoint(ws),
                                              "options": {"max_outgoing_buffer": 1048576,
                                                          "open_handshake_timeout": 2000}},
                                             {"type": "rawsocket", "endpoint": endpoint(rs)}]}]}
    (cbdir / "config.json").write_text(json.dumps(config))
    log = open(cbdir / "node.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "node", "start", "--cbdir", str(cbdir), "--loglevel", "warn"],
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONPATH=str(REPO)))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", ws), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"node did not start; see {cbdir / 'node.log'}")


class Counters:
    def __init__(self) -> None:
        self.events = self.published = self.calls = self.churn = self.stalled = self.slowloris = 0
        self.errors: Dict[str, int] = {}

    def error(self, what: str, e: BaseException) -> None:
        key = f"{what}: {type(e).__name__}"
        self.errors[key] = self.errors.get(key, 0) + 1


async def publisher(url: str, stop: float, c: Counters) -> None:
    session = await connect(url)
    ack = PublishOptions(acknowledge=True)
    try:
        while time.monotonic() < stop:
            await session.publish("soak.events", "x" * random.choice(SIZES), options=ack)
            c.published += 1
            await asyncio.sleep(0.004)
    finally:
        await leave(session)


async def subscriber(url: str, stop: float, c: Counters) -> None:
    session = await connect(url)

    def on_event(_: Any) -> None:
        c.events += 1

    await session.subscribe(on_event, "soak.events")
    await asyncio.sleep(max(0.0, stop - time.monotonic()))
    await leave(session)


async def callee(url: str, name: str, stop: float) -> None:
    session = await connect(url)
    await session.register(lambda data: data, name)
    await asyncio.sleep(max(0.0, stop - time.monotonic()) + 2)
    await leave(session)


async def caller(url: str, stop: float, c: Counters) -> None:
    session = await connect(url)
    try:
        while time.monotonic() < stop:
            size = random.choice(SIZES[:4])
            await asyncio.gather(*[session.call(random.choice(["soak.ws", "soak.rs"]), "y" * size)
                                   for _ in range(8)])
            c.calls += 8
    finally:
        await leave(session)


async def churn(urls: List[str], stop: float, c: Counters) -> None:
    while time.monotonic() < stop:
        try:
            session = await connect(random.choice(urls))
            await session.subscribe(lambda *_: None, f"soak.churn.{random.randint(0, 50)}")
            await session.call("soak.ws", "z")
            await leave(session)
            c.churn += 1
        except Exception as e:  # counted and reported; the soak goes on
            c.error("churn", e)
        await asyncio.sleep(0.1)


async def misbehave(port: int, stop: float, c: Counters) -> None:
    """A stalled subscriber and a never-finished handshake, every few seconds."""
    bulk = await connect(f"ws://127.0.0.1:{port}")
    ack = PublishOptions(acknowledge=True)
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished: node drops it
            c.slowloris += 1
            session = await connect(f"ws://127.0.0.1:{port}")
            await session.subscribe(lambda *_: None, "soak.bulk")
            transport = session._transport.transport
            transport.pause_reading()  # a subscriber that stops reading
            c.stalled += 1
            for _ in range(12):  # 12 MiB: more than kernel buffers and max_outgoing_buffer hold
                await asyncio.gather(*[bulk.publish("soak.bulk", "b" * 65536, options=ack) for _ in range(16)])
            await asyncio.sleep(2)
            transport.close()
            writer.close()
        except Exception as e:
            c.error("misbehave", e)
        await asyncio.sleep(3)
    await leave(bulk)


async def soak(minutes: float, interval: float) -> int:
    ws, rs = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="wampnode-soak-") as tmp:
        proc = start_node(Path(tmp), ws, rs)
        node = psutil.Process(proc.pid)
        urls = [f"ws://127.0.0.1:{ws}", f"rs://127.0.0.1:{rs}"]
        started = time.monotonic()
        stop = started + minutes * 60
        c = Counters()
        tasks = [asyncio.create_task(callee(urls[0], "soak.ws", stop)),
                 asyncio.create_task(callee(urls[1], "soak.rs", stop))]
        await asyncio.sleep(1)
        tasks += [asyncio.create_task(subscriber(urls[i % 2], stop, c)) for i in range(6)]
        await asyncio.sleep(0.5)
        tasks += [asyncio.create_task(publisher(u, stop, c)) for u in urls]
        tasks += [asyncio.create_task(caller(u, stop, c)) for u in urls]
        tasks += [asyncio.create_task(churn(urls, stop, c)) for _ in range(3)]
        tasks.append(asyncio.create_task(misbehave(ws, stop, c)))
        samples = []
        print(f"{'s':>6} {'RSS MiB':>8} {'CPU s':>7} {'pub/s':>7} {'events/s':>9} {'calls/s':>8} "
              f"{'churn/s':>8} {'stalled':>8} {'slowloris':>9}")
        last = (0, 0, 0, 0, time.monotonic())
        while time.monotonic() < stop:
            await asyncio.sleep(min(interval, max(0.1, stop - time.monotonic())))
            now = time.monotonic()
            span = now - last[4]
            rss = node.memory_info().rss / 2**20
            cpu = sum(node.cpu_times()[:2])
            samples.append((now - started, rss))
            print(f"{now - started:6.0f} {rss:8.1f} {cpu:7.1f} {(c.published - last[0]) / span:7.0f} "
                  f"{(c.events - last[1]) / span:9.0f} {(c.calls - last[2]) / span:8.0f} "
                  f"{(c.churn - last[3]) / span:8.1f} {c.stalled:8d} {c.slowloris:9d}", flush=True)
            last = (c.published, c.events, c.calls, c.churn, now)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        dropped = (Path(tmp) / "node.log").read_text(errors="replace").count("max_outgoing_buffer")
    warm = [rss for t, rss in samples if t >= minutes * 60 / 5]
    if len(warm) < 2:
        print("too short to judge memory: run longer or with a smaller --interval")
        return 1
    growth = warm[-1] - warm[0]
    flat = growth < max(8.0, warm[0] * 0.05)
    print(f"after warm-up: RSS {warm[0]:.1f} -> {warm[-1]:.1f} MiB (max {max(warm):.1f}), "
          f"growth {growth:+.1f} MiB: {'flat' if flat else 'NOT FLAT'}")
    print(f"totals: {c.published} published, {c.events} events delivered, {c.calls} calls, {c.churn} churned "
          f"sessions, {c.stalled} stalled subscribers ({dropped} dropped by max_outgoing_buffer), "
          f"{c.slowloris} unfinished handshakes; task failures {len(failures)}; errors {c.errors or 'none'}")
    for failure in failures[:5]:
        print(f"  task failed: {type(failure).__name__}: {failure}")
    return 0 if flat and not failures else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between RSS samples")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(soak(args.minutes, args.interval)))


if __name__ == "__main__":
    main()
