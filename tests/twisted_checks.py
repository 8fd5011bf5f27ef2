"""Checks of wampnode's Twisted-side WebSocket delivery code, one per process.

The test process has chosen asyncio for txaio (in-process clients), and
autobahn's Twisted modules insist on Twisted, so ``test_perf_paths.py`` runs
``python tests/twisted_checks.py NAME``: exit 0 and ``OK`` means the check held.
"""
from __future__ import annotations

import ast
import inspect
import pprint
import sys
from collections import deque
from typing import Any
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import txaio  # noqa: E402

txaio.use_twisted()

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol  # noqa: E402
from autobahn.websocket.protocol import PreparedMessage  # noqa: E402

from node.fastpath import quiet_autobahn as quiet, websocket_frames as frames  # noqa: E402

LOG_METHODS = {"debug", "info", "warn", "warning", "error", "critical", "failure", "trace"}


class Protocol(frames.FramedDelivery, WebSocketServerProtocol):
    pass


class Factory(frames.SharedOptions, WebSocketServerFactory):
    protocol = Protocol


def check_frame_cache() -> None:
    cache = frames.FrameCache()
    payload = b'[36,1,2,{},["hello"]]'
    first = cache.frame(payload, False)
    assert first == PreparedMessage(payload, False, False, True).payloadHybi
    assert cache.frame(payload, False) is first, "the same payload object must reuse its frame"
    equal_copy = bytes(bytearray(payload))
    assert cache.frame(equal_copy, False) == first
    assert cache.frame(payload, True) == PreparedMessage(payload, True, False, True).payloadHybi
    big = b"x" * (frames.CACHE_LIMIT + 1)
    assert cache.frame(big, True) == PreparedMessage(big, True, False, True).payloadHybi
    assert cache._payload is None, "frames above CACHE_LIMIT are not kept"
    message, serializer = object(), object()
    cache.frame(payload, False)
    cache.message, cache.serializer = message, serializer  # as WampServerProtocol.send sets them
    assert cache.frame(payload, False) is not None and cache.message is message, "a frame hit keeps them"
    cache.frame(equal_copy, False)
    assert cache.message is None and cache.serializer is None, "a new payload forgets the message"


def check_frame_head() -> None:
    """The header sent before a large payload is the one autobahn's PreparedMessage makes."""
    for size in (0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20, (1 << 24) - 1):
        for binary in (False, True):
            head = frames.frame_head(size, binary)
            assert head == PreparedMessage(b"x" * size, binary, False, True).payloadHybi[:len(head)], (size, binary)
            assert len(head) == (2 if size < 126 else 4 if size < 65536 else 10)


def check_gathered_sends_keep_order() -> None:
    """Pieces sent with sendmsg (PyPy, from RAW_SEND_MIN on: writev from their own memory)
    that the kernel takes only part of leave the rest queued for Twisted's doWrite in order, whatever piece the
    kernel stopped in; memoryviews (a forwarded message's octets) as well as bytes. Each
    case twice: the pieces as a list (queued, sent at the end of the turn) and as a tuple
    (a large message's header and payload: sent at once when nothing waits before them,
    ``_send_now``), and once more with a small write before the tuple, which must leave first."""
    import os
    import socket

    from twisted.internet import protocol, reactor

    from node.fastpath.raw_send import RAW_SEND_MIN
    from node.fastpath.write_coalescing import GATHER_MIN, TCPServer

    class Port:
        counts = None
        _realPortNumber = 1

    cases = [(sizes, how) for sizes in ((10, 70000, 5, 90000, 3), (40000, 40000, 40000), (3, 200000),
                                        (GATHER_MIN, 1), (4, RAW_SEND_MIN), (10, 3000000, 4, 20000))
             for how in ("list", "tuple", "small first")]
    for sizes, how in cases:
        ours, theirs = socket.socketpair()
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        ours.setblocking(False)
        theirs.setblocking(False)
        server = TCPServer(ours, protocol.Protocol(), ("127.0.0.1", 1), Port(), 1, reactor)
        server.protocol.makeConnection(server)
        pieces = [os.urandom(size) if index % 2 == 0 else memoryview(os.urandom(size + 7))[7:]
                  for index, size in enumerate(sizes)]
        first = b""
        if how == "small first":
            first = os.urandom(100)
            server.write(first)
        server.writeSequence(pieces if how == "list" else tuple(pieces))
        if how == "tuple":  # sent at once: nothing queued for the end of the turn
            waiting = len(server.dataBuffer) - server.offset + server._tempDataLen
            assert server._flush_queued is False and waiting < sum(sizes), (sizes, waiting)
        server._flush_turn()
        assert server._flush_queued is False
        expected = first + b"".join(pieces)
        assert len(server.dataBuffer) - server.offset + server._tempDataLen < len(expected), "sent nothing"
        received = bytearray()
        while len(received) < len(expected):
            try:
                received += theirs.recv(65536)
            except BlockingIOError:
                pass
            if len(server.dataBuffer) - server.offset or server._tempDataLen:
                server.doWrite()
        assert bytes(received) == expected, (sizes, how)
        server.stopReading()
        server.stopWriting()
        ours.close()
        theirs.close()


def check_replies_leave_before_due_timers() -> None:
    """What a connection was given while the poll's events were handled leaves before
    the next turn's timers run: a timer that falls due at once and aborts the
    connection (as autobahn's closing-handshake timeout could) does not discard it."""
    import socket
    import threading

    from node.fastpath import reactor as node_reactor

    reactor = node_reactor.install()
    assert type(reactor).__name__ == "NodeReactor", type(reactor)
    from twisted.internet import protocol

    from node.fastpath.write_coalescing import FLUSHER, TCPPort

    FLUSHER.attach(reactor)

    class ReplyThenAbort(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted API)
            self.transport.write(b"reply to " + data)
            reactor.callLater(0, self.transport.abortConnection)

    port = TCPPort(0, protocol.Factory.forProtocol(ReplyThenAbort), interface="127.0.0.1", reactor=reactor)
    port.startListening()
    received = []

    def client() -> None:
        try:
            for i in range(20):
                with socket.create_connection(("127.0.0.1", port.getHost().port), timeout=10) as sock:
                    sock.sendall(b"x%d" % i)
                    data = b""
                    try:
                        while True:
                            chunk = sock.recv(100)
                            if not chunk:
                                break
                            data += chunk
                    except ConnectionResetError:  # the abort, after what was sent before it
                        pass
                    received.append(data)
        finally:
            reactor.callFromThread(reactor.stop)

    threading.Thread(target=client).start()
    reactor.run()
    assert received == [b"reply to x%d" % i for i in range(20)], received


def check_node_reactor_runs_timers_as_twisted() -> None:
    """The node's reactor, which looks at its timers only on turns that have something for
    them (``run_timers``), runs every timed call at or after its deadline and in deadline
    order: calls made before and while it runs, one moved later (``delay``), one
    cancelled, a crowd of cancelled ones (Twisted sweeps them), a call from a thread, and
    a stop with its shutdown event; none runs early and none waits for a far timer."""
    import threading
    import time

    from node.fastpath import reactor as node_reactor

    reactor = node_reactor.install()
    assert type(reactor).__name__ == "NodeReactor", type(reactor)
    began = time.monotonic()
    ran: list = []
    early: list = []

    def record(name: str, due: float) -> None:
        now = time.monotonic() - began
        ran.append(name)
        if now < due - 0.002:  # the clocks' rounding
            early.append((name, due, now))

    def later(delay: float, name: str, moved_by: float = 0.0) -> Any:
        return reactor.callLater(delay, record, name, time.monotonic() - began + delay + moved_by)

    later(0.05, "a")
    later(0.02, "b")
    later(0.03, "cancelled").cancel()
    later(0.01, "d", moved_by=0.05).delay(0.05)  # now due at 0.06, and recorded as due then
    far = [later(30, "far") for _ in range(60)]  # the next timer, until cancelled

    def at_x() -> None:
        record("x", 0.08)
        for call in far:
            call.cancel()  # 60 cancellations: Twisted sweeps its heap
        later(0, "zero")
        reactor.callLater(0.02, reactor.stop)

    reactor.callLater(0.08, at_x)
    reactor.addSystemEventTrigger("during", "shutdown", ran.append, "shutdown")

    def from_thread() -> None:
        time.sleep(0.03)
        reactor.callFromThread(ran.append, "thread")

    threading.Thread(target=from_thread).start()
    watchdog = threading.Timer(10, lambda: reactor.callFromThread(reactor.stop))
    watchdog.start()
    reactor.run()
    watchdog.cancel()
    elapsed = time.monotonic() - began
    timed = [name for name in ran if name not in ("thread", "shutdown")]
    assert timed == ["b", "a", "d", "x", "zero"], ran
    assert "thread" in ran and ran[-1] == "shutdown", ran
    assert not early, early
    assert elapsed < 5, elapsed


def check_rounded_up_timer_never_runs_a_call_early() -> None:
    """Calls fall due at their deadline rounded up to the bucket, never before; one reactor
    call per bucket; a cancelled call does not run."""
    from twisted.internet.task import Clock

    from node.fastpath.timeouts import BUCKET, RoundedUpTimer

    clock = Clock()
    clock.advance(1000.93)  # just before a whole second: where txaio's timer fell due at once
    timer = RoundedUpTimer(clock)
    ran: list = []
    timer.call_later(1.0, ran.append, "a")
    timer.call_later(1.02, ran.append, "b")
    cancelled = timer.call_later(1.01, ran.append, "cancelled")
    assert len(clock.getDelayedCalls()) == 1  # one bucket, one reactor call
    cancelled.cancel()
    assert not cancelled.active()
    clock.advance(0.999)
    assert ran == []
    clock.advance(BUCKET)
    assert ran == ["a", "b"] and clock.getDelayedCalls() == []


def check_rounded_up_timer_runs_a_crowded_bucket_over_several_turns() -> None:
    """At most CHUNK calls per reactor turn (the rest in the next); a failing call is
    logged and the others run, in order."""
    from twisted.internet.task import Clock

    from node.fastpath.timeouts import BUCKET, CHUNK, RoundedUpTimer

    class Turns(Clock):
        """Counts each turn the calls were run in (the calls each reactor call ran)."""

        def __init__(self) -> None:
            super().__init__()
            self.turns: list = []

        def callLater(self, delay: float, function: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
            def counted() -> None:
                self.turns.append(len(ran))
                function(*args, **kwargs)
            return super().callLater(delay, counted)

    clock = Turns()
    timer = RoundedUpTimer(clock)
    ran: list = []

    def fail() -> None:
        raise RuntimeError("one connection's timeout failed")

    timer.call_later(0.5, fail)
    for i in range(2 * CHUNK + 10):
        timer.call_later(0.5, ran.append, i)
    clock.advance(0.5 + BUCKET)
    assert ran == list(range(2 * CHUNK + 10))
    assert clock.turns == [0, CHUNK - 1, 2 * CHUNK - 1], clock.turns  # the failing call took a place in the first


def check_lazy_send_queue() -> None:
    protocol = Protocol()
    protocol.send_queue = deque()
    assert "_send_queue" not in protocol.__dict__, "an empty deque is not stored"
    protocol.send_queue.append((b"x", True))
    assert protocol.__dict__["_send_queue"] == deque([(b"x", True)])
    protocol.send_queue = deque([(b"y", False)])
    assert list(protocol.send_queue) == [(b"y", False)]


def check_shared_options() -> None:
    accept = lambda offers: None  # noqa: E731 (a function-valued option)
    factory = Factory(url="ws://localhost:1234")
    factory.setProtocolOptions(autoPingInterval=7, perMessageCompressionAccept=accept)
    first = factory.buildProtocol(None)
    first._connectionMade = lambda: None
    assert first.factory is factory
    assert first.autoPingInterval == 7 and "autoPingInterval" not in first.__dict__
    assert first.perMessageCompressionAccept is accept, "a function option must not become a method"
    assert isinstance(first, Protocol)
    second = factory.buildProtocol(None)
    assert type(second) is type(first), "unchanged options reuse the subclass"
    factory.setProtocolOptions(autoPingInterval=9)
    third = factory.buildProtocol(None)
    assert third.autoPingInterval == 9 and first.autoPingInterval == 7


def check_quiet_is_lazy_and_equal() -> None:
    quiet.quiet_autobahn()
    import autobahn.util
    import autobahn.websocket.protocol as wsp

    options = [("autoPingInterval", 7, "Factory"), ("tcpNoDelay", True, "Factory")]
    lazy = wsp.pformat(options)
    assert isinstance(lazy, quiet.Lazy)
    assert str(lazy) == pprint.pformat(options)
    assert "{}".format(lazy) == pprint.pformat(options)
    assert str(wsp.hltype(check_frame_cache)) == autobahn.util.hltype(check_frame_cache)
    assert str(wsp.hlval(42, color="green")) == autobahn.util.hlval(42, color="green")


def check_quiet_helpers_only_feed_log_calls() -> None:
    """Every call of pformat/hltype/hlval in the patched modules is a keyword argument
    of a log call: the condition under which swapping them for lazy text is safe."""
    import importlib

    for module_name in quiet.PATCHED_MODULES:
        tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
        parents = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                parents[child] = node
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in quiet.PATCHED_NAMES:
                keyword = parents.get(node)
                call = parents.get(keyword)
                ok = (isinstance(keyword, ast.keyword) and isinstance(call, ast.Call)
                      and isinstance(call.func, ast.Attribute) and call.func.attr in LOG_METHODS)
                ok = ok or _enclosing(node, parents) in REBOUND
                assert ok, f"{module_name}:{node.lineno}: {node.func.id}() result used outside a log call"
    quiet.quiet_autobahn()
    from autobahn.websocket.protocol import Timings

    timings = Timings()
    timings.track("x")
    assert isinstance(str(timings), str) and "x" in str(timings)


REBOUND = {"Timings.__str__"}  # methods quiet_autobahn replaces with ones using the real pformat


def _enclosing(node: ast.AST, parents: dict) -> str:
    names = []
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
    return ".".join(reversed(names))


CHECKS = {name[len("check_"):]: f for name, f in globals().items() if name.startswith("check_")}

if __name__ == "__main__":
    CHECKS[sys.argv[1]]()
    print("OK")
