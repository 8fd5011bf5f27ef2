"""Benchmark client processes: autobahn-python on Twisted, driven by ``bench/run.py``.

Each process plays one role of one workload against a router URL and talks to
the driver with lines on stdout, so that the driver can sample the router's and
the clients' CPU times exactly at the edges of the measurement window:

``READY``           a passive role is set up (callee registered, subscribers
                    subscribed, idle sessions joined); it then runs until SIGTERM
``START``           an active role finished its warm-up: the window begins
``END {json}``      the window is over; the figures measured in it follow

Every role is bounded: an active role stops itself after warm-up + duration,
and every role gives up (exit 2, with a message on stderr) after ``--deadline``.
All clients use the JSON serializer, the same for every router, unless
``--serializer`` names another (msgpack, cbor; every session of the process uses it).
``--lean`` (the ``call_64kib_lean``, ``call_1mib_lean`` and ``event_1mib_10_lean`` workloads): the same JSON octets
written and read by orjson, and incoming text not checked for UTF-8, so that a large
call costs the clients a fraction of what autobahn's JSON takes (its decoder is the
pure-Python scanner) and the throughput says more about the router than the clients.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlparse

import txaio

txaio.use_twisted()

from autobahn.twisted.wamp import ApplicationSession  # noqa: E402
from autobahn.twisted.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp.serializer import CBORSerializer, JsonSerializer, MsgPackSerializer  # noqa: E402
from autobahn.wamp.types import ComponentConfig, PublishOptions, RegisterOptions  # noqa: E402
from twisted.internet import reactor  # noqa: E402

try:
    import orjson
except ImportError:  # PyPy: the standard library
    orjson = None

REALM = "realm1"
ECHO = "bench.echo"
TOPIC = "bench.topic"
PROGRESS = "bench.progress"
PROGRESS_EVERY = 20  # subscribers report the lowest sequence number they all saw this often (--every)
SERIALIZERS = {"json": JsonSerializer, "msgpack": MsgPackSerializer, "cbor": CBORSerializer}
SERIALIZER = {"class": JsonSerializer}  # the process's serializer (``--serializer``)
LEAN = {"on": False}  # --lean


class LeanJsonObjectSerializer:
    """autobahn's JSON octets for the benchmark's messages (strings, numbers, lists,
    string-keyed dicts), by orjson (the standard library where it is missing)."""

    NAME = "json"
    BINARY = False

    def __init__(self, batched: bool = False) -> None:
        self._batched = batched

    def serialize(self, obj: Any) -> bytes:
        if orjson is not None:
            return orjson.dumps(obj)
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    def unserialize(self, payload: bytes) -> List[Any]:
        return [orjson.loads(payload) if orjson is not None else json.loads(payload)]


class LeanJsonSerializer(JsonSerializer):
    def __init__(self, batched: bool = False) -> None:
        super().__init__(batched=batched)
        self._serializer = LeanJsonObjectSerializer(batched)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def fail(text: str) -> None:
    sys.stderr.write(f"bench client: {text}\n")
    sys.stderr.flush()
    if reactor.running:
        reactor.stop()
    sys.exit(2)


class BenchSession(ApplicationSession):
    """A session that hands itself to ``on_join`` and reports when it is gone."""

    def __init__(self, on_join: Callable[[Any], Any], on_gone: Optional[Callable[[Any], Any]] = None) -> None:
        super().__init__(ComponentConfig(realm=REALM))
        self._on_join = on_join
        self._on_gone = on_gone

    def onJoin(self, details: Any) -> None:
        self._on_join(self)

    def onLeave(self, details: Any) -> None:
        self.disconnect()

    def onDisconnect(self) -> None:
        if self._on_gone is not None:
            self._on_gone(self)


def open_session(url: str, on_join: Callable[[Any], Any], on_gone: Optional[Callable[[Any], Any]] = None) -> None:
    """Connect one WebSocket (or RawSocket: ``rs://``) and join ``realm1``; any connect failure ends the process."""
    from twisted.internet.endpoints import SSL4ClientEndpoint, TCP4ClientEndpoint

    parts = urlparse(url)
    session = BenchSession(on_join, on_gone)
    if parts.scheme == "rs":  # RawSocket over TCP; its largest message is 16 MiB (2^24)
        from autobahn.twisted.rawsocket import WampRawSocketClientFactory

        factory: Any = WampRawSocketClientFactory(lambda: session, serializer=SERIALIZER["class"]())
        factory.noisy = False
    else:
        factory = WampWebSocketClientFactory(lambda: session, url=url, serializers=[SERIALIZER["class"]()])
        factory.noisy = False
        factory.setProtocolOptions(maxMessagePayloadSize=0, maxFramePayloadSize=0)
        if LEAN["on"]:
            factory.setProtocolOptions(utf8validateIncoming=False)
    if parts.scheme == "wss":
        from twisted.internet.ssl import CertificateOptions

        # loopback only, to a self-signed certificate made for this run
        endpoint: Any = SSL4ClientEndpoint(reactor, parts.hostname, parts.port, CertificateOptions(verify=False))
    else:
        endpoint = TCP4ClientEndpoint(reactor, parts.hostname, parts.port)
    endpoint.connect(factory).addErrback(lambda f: fail(f"cannot connect to {url}: {f.getErrorMessage()}"))


class Window:
    """Warm-up, then a measurement window of ``duration`` seconds, then stop."""

    def __init__(self, warmup: float, duration: float, results: Callable[[float], Dict[str, Any]]) -> None:
        self.warmup = warmup
        self.duration = duration
        self.results = results
        self.measuring = False
        self.started = 0.0
        self.on_start: List[Callable[[], None]] = []

    def begin(self) -> None:
        reactor.callLater(self.warmup, self._start)

    def _start(self) -> None:
        for callback in self.on_start:
            callback()
        self.measuring = True
        self.started = time.perf_counter()
        say("START")
        reactor.callLater(self.duration, self._end)

    def _end(self) -> None:
        elapsed = time.perf_counter() - self.started
        self.measuring = False
        say("END " + json.dumps(dict(self.results(elapsed), seconds=elapsed)))
        reactor.stop()


def percentile(values: List[float], fraction: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- roles --------------------------------------------------------------------------------


def callee(args: argparse.Namespace) -> None:
    def joined(session: Any) -> None:
        d = session.register(lambda *a: a[0] if len(a) == 1 else list(a), ECHO,
                             options=RegisterOptions(invoke="roundrobin"))
        d.addCallbacks(lambda _: say("READY"), lambda f: fail(f"register failed: {f.getErrorMessage()}"))

    open_session(args.url, joined)


def caller(args: argparse.Namespace) -> None:
    payload = "x" * args.size
    latencies: List[float] = []
    counter = {"calls": 0}
    window = Window(args.warmup, args.duration, lambda elapsed: {
        "operations": counter["calls"], "p50_ms": _ms(percentile(latencies, 0.5)),
        "p99_ms": _ms(percentile(latencies, 0.99)),
        "bytes": counter["calls"] * args.size, "size": args.size})
    window.on_start.append(lambda: (latencies.clear(), counter.update(calls=0)))

    def joined(session: Any) -> None:
        def one() -> None:
            sent = time.perf_counter()

            def answered(result: Any) -> None:
                if window.measuring:
                    latencies.append(time.perf_counter() - sent)
                    counter["calls"] += 1
                if reactor.running:
                    one()

            session.call(ECHO, payload).addCallbacks(
                answered, lambda f: fail(f"call failed: {f.getErrorMessage()}"))

        for _ in range(args.outstanding):
            one()
        window.begin()

    open_session(args.url, joined)


def _ms(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else round(seconds * 1000.0, 3)


def subscribers(args: argparse.Namespace) -> None:
    """``--count`` sessions subscribed to one topic; the first one publishes the
    lowest sequence number all of them have received (the publisher's flow control),
    every ``--every`` events, with this process's ``--group`` number."""
    seen: List[int] = [0] * args.count
    reported = {"seq": 0}
    sessions: List[Any] = []

    def joined(session: Any) -> None:
        index = len(sessions)
        sessions.append(session)

        def on_event(seq: int, _payload: str) -> None:
            seen[index] = seq
            low = min(seen)
            if low >= reported["seq"] + args.every:
                reported["seq"] = low
                sessions[0].publish(PROGRESS, low, args.group)

        d = session.subscribe(on_event, TOPIC)

        def subscribed(_: Any) -> None:
            subscribed_count["n"] += 1
            if subscribed_count["n"] == args.count:
                say("READY")

        d.addCallbacks(subscribed, lambda f: fail(f"subscribe failed: {f.getErrorMessage()}"))

    subscribed_count = {"n": 0}
    for _ in range(args.count):
        open_session(args.url, joined)


def publisher(args: argparse.Namespace) -> None:
    """Publishes as fast as the subscribers' progress reports allow (``--window``
    events ahead at most); events delivered = progress advance x subscribers.
    With ``--groups`` subscriber processes, progress is the lowest of their reports."""
    payload = "x" * args.size
    state = {"seq": 0, "acked": 0, "acked_at_start": 0}
    lows: Dict[int, int] = {}  # subscriber process (group) -> lowest sequence number all its sessions saw
    window = Window(args.warmup, args.duration, lambda elapsed: {
        "operations": (state["acked"] - state["acked_at_start"]) * args.subscribers,
        "publications": state["acked"] - state["acked_at_start"],
        "bytes": (state["acked"] - state["acked_at_start"]) * args.subscribers * args.size})
    window.on_start.append(lambda: state.update(acked_at_start=state["acked"]))
    options = PublishOptions(acknowledge=False)

    def joined(session: Any) -> None:
        def pump() -> None:
            while state["seq"] - state["acked"] < args.window:
                state["seq"] += 1
                session.publish(TOPIC, state["seq"], payload, options=options)

        def on_progress(low: int, group: int = 0) -> None:
            lows[group] = max(low, lows.get(group, 0))
            acked = min(lows.values()) if len(lows) >= args.groups else 0
            if acked > state["acked"]:
                state["acked"] = acked
                pump()

        def subscribed(_: Any) -> None:
            pump()
            window.begin()

        session.subscribe(on_progress, PROGRESS).addCallbacks(
            subscribed, lambda f: fail(f"subscribe failed: {f.getErrorMessage()}"))

    open_session(args.url, joined)


def sessions(args: argparse.Namespace) -> None:
    """Open, join and leave sessions, ``--concurrency`` at a time."""
    counter = {"joined": 0}
    window = Window(args.warmup, args.duration, lambda elapsed: {"operations": counter["joined"]})
    window.on_start.append(lambda: counter.update(joined=0))

    def joined(session: Any) -> None:
        if window.measuring:
            counter["joined"] += 1
        session.leave()

    def gone(_: Any) -> None:
        if reactor.running:
            open_session(args.url, joined, gone)

    for _ in range(args.concurrency):
        open_session(args.url, joined, gone)
    window.begin()


def idle(args: argparse.Namespace) -> None:
    """Join ``--count`` sessions (at most 50 connecting at once), then hold them."""
    state = {"joined": 0, "started": 0}

    def start_more() -> None:
        while state["started"] < args.count and state["started"] - state["joined"] < 50:
            state["started"] += 1
            open_session(args.url, joined)

    def joined(_: Any) -> None:
        state["joined"] += 1
        if state["joined"] == args.count:
            say("READY")
        start_more()

    start_more()


ROLES = {"callee": callee, "caller": caller, "subscribers": subscribers, "publisher": publisher,
         "sessions": sessions, "idle": idle}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--url", required=True)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--deadline", type=float, default=120.0)
    parser.add_argument("--outstanding", type=int, default=1)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--subscribers", type=int, default=1)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--every", type=int, default=PROGRESS_EVERY)
    parser.add_argument("--group", type=int, default=0)
    parser.add_argument("--groups", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--serializer", choices=sorted(SERIALIZERS), default="json")
    parser.add_argument("--lean", action="store_true", help="JSON by orjson, no UTF-8 check (module docstring)")
    args = parser.parse_args()
    SERIALIZER["class"] = LeanJsonSerializer if args.lean and args.serializer == "json" else SERIALIZERS[args.serializer]
    LEAN["on"] = args.lean
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(reactor.stop))
    reactor.callWhenRunning(ROLES[args.role], args)
    reactor.callLater(args.deadline, fail, f"{args.role}: deadline of {args.deadline} s passed")
    reactor.run(installSignalHandlers=False)


if __name__ == "__main__":
    main()
