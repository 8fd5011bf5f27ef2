"""The workloads, and running one of them against one router.

A workload is some passive client processes (started first, each says READY)
and one active client process that warms up, says START, measures, and says END
with its figures. The driver samples CPU times of the router's whole process
tree and of every client process at START and at END, so each throughput comes
with the router's CPU time per operation and each side's CPU share. For a
workload with ``memory`` it also samples the router tree's RSS every few
milliseconds from before the first client starts to END: the peak minus the RSS
before is what the router holds for the messages in flight.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

try:  # the driver samples processes with it; the floor servers and minimal_router.py, which may
    import psutil  # run on PyPy (where psutil does not load), import this module for constants only
except ImportError:  # pragma: no cover
    psutil = None  # type: ignore[assignment]

from targets import Router, tree_cpu

CLIENT = str(Path(__file__).resolve().parent / "client.py")
CLIENT_BOUND = 0.9  # a client process using this share of one core or more limits the figure
IDLE_SESSIONS = 1000
BIG = 1024 * 1024
MEDIUM = 64 * 1024
HUGE = 16 * BIG - 4096  # the largest payload whose CALL fits a 16 MiB message limit
RSS_INTERVAL = 0.005  # seconds between RSS samples of a ``memory`` workload


@dataclass(frozen=True)
class Workload:
    key: str
    label: str
    unit: str
    per: str  # what one operation is, for "router CPU per ..."
    active: Tuple[str, ...]
    passive: Tuple[Tuple[str, ...], ...] = ()
    secure: bool = False  # over wss
    rawsocket: bool = False  # over RawSocket (TCP)
    memory: bool = False  # sample the router's RSS throughout (peak growth while messages are in flight)

    @property
    def one_at_a_time(self) -> bool:
        """A call workload with one call in flight: the caller, the router and the callee take
        turns, so the clients' CPU per call bounds the rate whatever the router spends."""
        return self.per == "call" and "--outstanding" in self.active and \
            self.active[self.active.index("--outstanding") + 1] == "1"


def fan_out(key: str, label: str, subscribers: int, processes: int, size: int = 32, window: int = 200,
            every: int = 20, lean: bool = False) -> Workload:
    """One publisher, one topic, ``subscribers`` sessions spread evenly over ``processes``
    client processes (one Python process cannot take a thousand sessions' events as fast
    as a router sends them); the publisher keeps ``window`` events ahead of the slowest
    process, which reports its progress every ``every`` events (the figures count
    deliveries in steps of ``every`` x ``subscribers``: small steps keep a window of a
    few seconds exact). With ``size`` of 1 MiB,
    one delivery is one delivered MiB (the rate in MiB/s). ``lean``: every client
    ``--lean`` (``client.py``)."""
    share, extra = divmod(subscribers, processes)
    flags = ("--lean",) if lean else ()
    passive = tuple(("subscribers", "--count", str(share + (1 if i < extra else 0)), "--group", str(i),
                     "--every", str(every)) + flags for i in range(processes))
    active = ("publisher", "--subscribers", str(subscribers), "--groups", str(processes),
              "--window", str(window), "--size", str(size)) + flags
    if size >= BIG:
        return Workload(key, label, "MiB/s", "delivered MiB", active, passive)
    return Workload(key, label, "deliveries/s", "delivery", active, passive)


WORKLOADS = (
    Workload("rpc_1", "RPC, 1 outstanding", "calls/s", "call", ("caller", "--outstanding", "1"), (("callee",),)),
    Workload("rpc_16", "RPC, 16 outstanding", "calls/s", "call", ("caller", "--outstanding", "16"), (("callee",),)),
    Workload("pubsub_1", "Pub/sub, 1 subscriber", "events/s", "delivery",
             ("publisher", "--subscribers", "1"), (("subscribers", "--count", "1"),)),
    Workload("pubsub_10", "Pub/sub, 10 subscribers", "events/s", "delivery",
             ("publisher", "--subscribers", "10"), (("subscribers", "--count", "10"),)),
    fan_out("pubsub_100", "Pub/sub, 100 subscribers", 100, 4, window=100, every=5),
    fan_out("pubsub_1000", "Pub/sub, 1,000 subscribers", 1000, 8, window=20, every=2),
    fan_out("event_1mib_10", "1 MiB event, 10 subscribers", 10, 2, size=BIG, window=4, every=1),
    # the same with clients that spend less on JSON: the router measured on a machine its clients do not fill
    fan_out("event_1mib_10_lean", "1 MiB event, 10 subscribers, lean clients", 10, 2, size=BIG, window=4, every=1,
            lean=True),
    Workload("sessions_ws", "Sessions over ws", "sessions/s", "session", ("sessions", "--concurrency", "8")),
    Workload("sessions_wss", "Sessions over wss", "sessions/s", "session", ("sessions", "--concurrency", "8"),
             secure=True),
    Workload("call_64kib", "64 KiB call round trip", "MiB/s", "call",
             ("caller", "--outstanding", "1", "--size", str(MEDIUM)), (("callee",),)),
    # the same 64 KiB calls from lean clients: autobahn's JSON clients fill most of the other core,
    # and the router's same system calls per message then cost it a third more CPU (issue 17)
    Workload("call_64kib_lean", "64 KiB call round trip, lean clients", "MiB/s", "call",
             ("caller", "--outstanding", "1", "--size", str(MEDIUM), "--lean"), (("callee", "--lean"),)),
    # the same 64 KiB calls over wss: the TLS record layer's buffers and copies (node.tls.reused_buffers)
    Workload("call_64kib_wss", "64 KiB call round trip over wss", "MiB/s", "call",
             ("caller", "--outstanding", "1", "--size", str(MEDIUM)), (("callee",),), secure=True),
    Workload("call_1mib", "1 MiB call round trip", "MiB/s", "call",
             ("caller", "--outstanding", "1", "--size", str(BIG)), (("callee",),)),
    # 1 MiB calls with 4 outstanding from clients that spend less on JSON (client.py --lean): the
    # throughput figure, less bound by the clients and by one call's latency than call_1mib's
    Workload("call_1mib_lean", "1 MiB calls, 4 outstanding, lean clients", "MiB/s", "call",
             ("caller", "--outstanding", "4", "--size", str(BIG), "--lean"), (("callee", "--lean"),)),
) + tuple(
    Workload(f"call_{name}_{ser}", f"{label} call round trip, {ser}", "MiB/s", "call",
             ("caller", "--outstanding", "1", "--size", str(size), "--serializer", ser),
             (("callee", "--serializer", ser),))
    for ser in ("msgpack", "cbor") for name, label, size in (("64kib", "64 KiB", MEDIUM), ("1mib", "1 MiB", BIG))
) + (
    Workload("call_16mib", "16 MiB call round trip", "MiB/s", "call",
             ("caller", "--outstanding", "1", "--size", str(HUGE)), (("callee",),), memory=True),
    # the same over the other two transports issue 17 names (wss: the TLS record layer's copies;
    # RawSocket: no frames, the message as it came)
    Workload("call_16mib_wss", "16 MiB call round trip over wss", "MiB/s", "call",
             ("caller", "--outstanding", "1", "--size", str(HUGE)), (("callee",),), secure=True, memory=True),
    Workload("call_16mib_rs", "16 MiB call round trip over RawSocket", "MiB/s", "call",
             ("caller", "--outstanding", "1", "--size", str(HUGE)), (("callee",),), rawsocket=True, memory=True),
)


class ClientProcess:
    """One client process and the lines it writes on stdout."""

    def __init__(self, args: List[str], url: str, timing: Dict[str, float]) -> None:
        command = [sys.executable, CLIENT, *args, "--url", url, "--warmup", str(timing["warmup"]),
                   "--duration", str(timing["duration"]), "--deadline", str(timing["deadline"])]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.ps = psutil.Process(self.proc.pid)
        self._buffer = b""
        self.name = args[0]

    def wait_for(self, word: str, timeout: float) -> str:
        """The rest of the first line starting with ``word``; raises if it never comes."""
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                text = line.decode("utf-8", "replace")
                if text.split(" ", 1)[0] == word:
                    return text[len(word):].strip()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"client {self.name}: no {word} within {timeout:.0f} s{self._stderr()}")
            ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    self.proc.wait(5)
                    raise RuntimeError(f"client {self.name} exited ({self.proc.returncode}) before {word}"
                                       f"{self._stderr()}")
                self._buffer += chunk

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        text = self.proc.stderr.read().decode("utf-8", "replace").strip()
        return f": {text[-2000:]}" if text else ""

    def cpu(self) -> float:
        return tree_cpu([self.ps])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


@dataclass
class Measurement:
    """One workload on one router: the active client's figures plus CPU accounting."""

    figures: Dict[str, Any]
    wall_s: float
    router_cpu_s: float
    client_cpu_s: Dict[str, float] = field(default_factory=dict)
    router_system_s: Optional[float] = None  # of router_cpu_s, the kernel's (system time)
    router_faults: Optional[int] = None  # minor page faults while measured
    router_rss_change: Optional[int] = None  # RSS at the end less RSS at the start, octets

    def as_dict(self, workload: Workload) -> Dict[str, Any]:
        ops = self.figures.get("operations") or 0
        seconds = self.figures.get("seconds") or self.wall_s
        rate = ops / seconds if seconds else 0.0
        if workload.unit == "MiB/s":
            rate = self.figures.get("bytes", 0) / seconds / BIG
        client_shares = {k: v / self.wall_s for k, v in self.client_cpu_s.items()}
        client_cpu = sum(self.client_cpu_s.values())
        result = {
            "rate": rate,
            "operations": ops,
            "router_us_per_op": self.router_cpu_s / ops * 1e6 if ops else None,
            "router_system_us_per_op": (self.router_system_s / ops * 1e6
                                        if ops and self.router_system_s is not None else None),
            "router_faults_per_op": self.router_faults / ops if ops and self.router_faults is not None else None,
            "rss_change_mib": self.router_rss_change / BIG if self.router_rss_change is not None else None,
            "router_share": self.router_cpu_s / self.wall_s,
            "client_share": sum(client_shares.values()),
            "client_shares": client_shares,
            "client_bound": any(share >= CLIENT_BOUND for share in client_shares.values()),
        }
        if workload.one_at_a_time and workload.unit == "MiB/s" and client_cpu:
            # the rate if the router cost nothing: the clients' own CPU per call, taken in turns
            result["client_ceiling"] = rate * self.wall_s / client_cpu
        for key in ("p50_ms", "p99_ms"):
            if key in self.figures:
                result[key] = self.figures[key]
        return result


class RssPeak:
    """The router tree's RSS before, and its peak while the thread samples it."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self.before = router.rss()
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(RSS_INTERVAL):
            self.peak = max(self.peak, self.router.rss())

    def stop(self) -> Dict[str, float]:
        self._stop.set()
        self._thread.join()
        return {"rss_before_mib": self.before / BIG, "rss_growth_mib": (self.peak - self.before) / BIG}


def run(workload: Workload, router: Router, timing: Dict[str, float]) -> Dict[str, Any]:
    url = router.rawsocket_url if workload.rawsocket else router.secure_url if workload.secure else router.url
    passive: List[ClientProcess] = []
    active: Optional[ClientProcess] = None
    rss = RssPeak(router) if workload.memory else None
    try:
        for args in workload.passive:
            client = ClientProcess(list(args), url, timing)
            passive.append(client)
            client.wait_for("READY", 60)
        active = ClientProcess(list(workload.active), url, timing)
        clients = passive + [active]
        active.wait_for("START", timing["warmup"] + 60)
        wall0, router0, machine0 = time.perf_counter(), router.cpu_seconds(), machine_busy()
        system0, faults0, rss0 = router.system_seconds(), router.page_faults(), router.rss()
        client0 = [c.cpu() for c in clients]
        figures = json.loads(active.wait_for("END", timing["duration"] + 60))
        wall = time.perf_counter() - wall0
        router_cpu = router.cpu_seconds() - router0
        router_system = router.system_seconds() - system0
        faults, rss_change = router.page_faults() - faults0, router.rss() - rss0
        machine = machine_busy() - machine0
        client_cpu: Dict[str, float] = {}
        for index, (client, before) in enumerate(zip(clients, client0)):
            client_cpu[f"{index}:{client.name}"] = client.cpu() - before
        result = Measurement(figures, wall, router_cpu, client_cpu, router_system, faults, rss_change).as_dict(workload)
        # CPU the rest of the machine used meanwhile: other jobs make every figure noisier
        result["other_share"] = max(0.0, (machine - router_cpu - sum(client_cpu.values())) / wall)
        if rss is not None:
            result.update(rss.stop())
            rss = None
            if figures.get("size"):  # the growth as a multiple of one message's payload
                result["rss_growth_x"] = result["rss_growth_mib"] * BIG / figures["size"]
        return result
    finally:
        if rss is not None:
            rss.stop()
        for client in ([active] if active else []) + passive:
            client.stop()


def machine_busy() -> float:
    """CPU seconds all processes of the machine have used (all cores, not idle or iowait)."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def idle_sessions(router: Router, timing: Dict[str, float]) -> Dict[str, Any]:
    """Router RSS growth per joined, idle session at :data:`IDLE_SESSIONS` sessions."""
    before = router.rss()
    client = ClientProcess(["idle", "--count", str(IDLE_SESSIONS)], router.url, timing)
    try:
        client.wait_for("READY", 120)
        time.sleep(1.0)  # sessions joined; let the router finish the meta events it owes
        after = router.rss()
    finally:
        client.stop()
    return {"rss_before": before, "rss_after": after, "bytes_per_session": (after - before) / IDLE_SESSIONS}
