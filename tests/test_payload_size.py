"""Messages over the receiving peer's size limit never vanish (issue 19, finding 18).

Before: a RESULT, EVENT or INVOCATION over the receiver's limit (WebSocket: the
transport's ``max_message_size``; RawSocket: what the client announced) was dropped
with a warning; a caller waited forever (a 1.69 MB ``wamp.registration.list``
result over 1 MiB), and a RawSocket client announcing 512 octets never got its
WELCOME. Now (node/router/oversize.py): the caller gets ERROR
``wamp.error.payload_size_exceeded`` for a RESULT or INVOCATION too large, an EVENT
is skipped for that subscriber only and counted in a rate-limited warning, and a
WELCOME too large goes out again without its feature announcements.

Real clients on 127.0.0.1: autobahn-python over WebSocket (transports with a 4 KiB
and the default 1 MiB ``max_message_size``) and RawSocket, and a raw RawSocket
client announcing 512 octets. The router-level cases (progressive results) run on
an in-memory transport with a limit.
"""
from __future__ import annotations

import asyncio
import json
import socket
from typing import Any, List, Optional, Tuple

import pytest
from autobahn.exception import PayloadExceededError
from autobahn.wamp import message as m
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig, PublishOptions
from twisted.internet.task import Clock

from conftest import await_until, free_port, router_config, start_node, tcp
from node.router import Router
from node.wire.size import MessageTooLarge
from router_fakes import Client, FakeTransport, realm
from wampclient import TIMEOUT, ClientSession, connect, leave, run

SMALL = 4096
TOO_LARGE = "wamp.error.payload_size_exceeded"


def ws_transport(port: int, max_message_size: Optional[int] = None) -> dict:
    options = {"max_message_size": max_message_size} if max_message_size else {}
    return {"type": "websocket", "endpoint": tcp(port), "options": options}


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """One node: WebSocket with a 4 KiB limit ("small"), WebSocket with the default ("big"), RawSocket."""
    ports = {"small": free_port(), "big": free_port(), "rawsocket": free_port()}
    config = router_config([ws_transport(ports["small"], SMALL), ws_transport(ports["big"]),
                            {"type": "rawsocket", "endpoint": tcp(ports["rawsocket"])}])
    running = start_node(config, tmp_path_factory.mktemp("payload-size"))
    running.ports = ports
    yield running
    running.stop()
    assert "Traceback" not in running.output(), running.output()


def url(node: Any, which: str) -> str:
    return f"ws://127.0.0.1:{node.ports[which]}/"


async def call_error(session: Any, procedure: str, *args: Any) -> Tuple[str, str]:
    """The ERROR a call ends with, as (URI, text). autobahn raises its ``PayloadExceededError``
    for ``wamp.error.payload_size_exceeded`` (its own mapping of that URI), ApplicationError else."""
    try:
        await asyncio.wait_for(session.call(procedure, *args), TIMEOUT)
    except PayloadExceededError as e:
        return TOO_LARGE, str(e)
    except ApplicationError as e:
        return e.error, str(e.args[0]) if e.args else ""
    raise AssertionError(f"{procedure} answered with a RESULT")


# --- RESULT -------------------------------------------------------------------------------


def test_meta_result_over_the_callers_limit_is_an_error(node: Any) -> None:
    """wamp.registration.list over the caller's limit (here 400 registrations, ~7 kB > 4 KiB)
    answers ERROR payload_size_exceeded instead of leaving the caller waiting."""
    async def scenario() -> None:
        callee = await connect(url(node, "big"))
        caller = await connect(url(node, "small"))
        await asyncio.gather(*[callee.register(lambda: None, f"com.many.proc{i}") for i in range(400)])
        uri, text = await call_error(caller, "wamp.registration.list")
        assert uri == TOO_LARGE and "RESULT of" in text and "4,096 octets" in text, text
        listing = await callee.call("wamp.registration.list")  # fits the callee's 1 MiB
        assert len(listing["exact"]) >= 400
        assert await caller.call("wamp.session.count") >= 2  # the caller's session goes on
        await leave(callee, caller)

    run(scenario())


def test_oversized_result_is_an_error_for_the_caller(node: Any) -> None:
    """A callee's 10 kB result for a caller limited to 4 KiB: the caller gets payload_size_exceeded;
    the callee keeps working and a small result still arrives."""
    async def scenario() -> None:
        callee = await connect(url(node, "big"))
        caller = await connect(url(node, "small"))
        await callee.register(lambda size: "r" * size, "com.result.sized")
        uri, text = await call_error(caller, "com.result.sized", 10_000)
        assert uri == TOO_LARGE and "RESULT of" in text, text
        assert await caller.call("com.result.sized", 10) == "r" * 10
        assert len(await callee.call("com.result.sized", 10_000)) == 10_000
        await leave(callee, caller)

    run(scenario())


def test_oversized_invocation_is_an_error_for_the_caller(node: Any) -> None:
    """A 10 kB argument for a callee limited to 4 KiB: the caller gets payload_size_exceeded,
    the callee is never invoked and stays connected."""
    async def scenario() -> None:
        callee = await connect(url(node, "small"))
        caller = await connect(url(node, "big"))
        invoked: List[int] = []
        await callee.register(lambda data: invoked.append(len(data)) or len(data), "com.invocation.sized")
        uri, text = await call_error(caller, "com.invocation.sized", "i" * 10_000)
        assert uri == TOO_LARGE and "INVOCATION of" in text and "callee" in text, text
        assert await caller.call("com.invocation.sized", "i" * 10) == 10
        assert invoked == [10] and not callee.disconnected.done()
        await leave(callee, caller)

    run(scenario())


def test_oversized_event_is_skipped_for_that_subscriber_only(node: Any) -> None:
    """A 10 kB event reaches the subscriber with a 1 MiB limit; the 4 KiB one skips it, gets
    the next small event, and the node logs one warning naming that session and the size."""
    async def scenario() -> int:
        small = await connect(url(node, "small"))
        big = await connect(url(node, "big"))
        publisher = await connect(url(node, "big"))
        got = {"small": [], "big": []}
        await small.subscribe(lambda data: got["small"].append(len(data)), "com.event.sized")
        await big.subscribe(lambda data: got["big"].append(len(data)), "com.event.sized")
        await publisher.publish("com.event.sized", "e" * 10_000, options=PublishOptions(acknowledge=True))
        await publisher.publish("com.event.sized", "e" * 10, options=PublishOptions(acknowledge=True))
        assert await await_until(lambda: len(got["big"]) == 2 and len(got["small"]) == 1, TIMEOUT)
        assert got == {"small": [10], "big": [10_000, 10]}
        session_id = small.session_id
        await leave(small, big, publisher)
        return session_id

    session_id = run(scenario())
    assert node.wait_for(f"for session {session_id} on realm realm1 exceeds its limit of 4096 octets: "
                         "skipped for this subscriber")
    line = next(line for line in node.output().splitlines() if f"for session {session_id}" in line)
    assert "EVENT of 10" in line and "(1 EVENT too large on this realm so far)" in line, line


# --- RawSocket ----------------------------------------------------------------------------


def _rawsocket_client_has_limit() -> bool:
    from autobahn.asyncio.rawsocket import WampRawSocketClientFactory

    return hasattr(WampRawSocketClientFactory, "setProtocolOptions")


@pytest.mark.skipif(not _rawsocket_client_has_limit(),
                    reason="this autobahn's RawSocket client announces no receive limit (autobahn < 25, e.g. PyPy's)")
def test_autobahn_rawsocket_client_with_a_small_limit_gets_errors_not_silence(node: Any) -> None:
    """autobahn over RawSocket announcing 4 KiB: an oversized RESULT is payload_size_exceeded."""
    async def scenario() -> None:
        from autobahn.asyncio.rawsocket import WampRawSocketClientFactory
        from autobahn.wamp.serializer import JsonSerializer

        loop = asyncio.get_event_loop()
        caller = ClientSession(ComponentConfig(realm="realm1"))
        factory = WampRawSocketClientFactory(lambda: caller, serializer=JsonSerializer())
        factory.setProtocolOptions(maxMessagePayloadSize=SMALL)
        await loop.create_connection(factory, "127.0.0.1", node.ports["rawsocket"])
        await asyncio.wait_for(asyncio.shield(caller.joined), TIMEOUT)
        callee = await connect(url(node, "big"))
        await callee.register(lambda size: "r" * size, "com.rs.sized")
        uri, text = await call_error(caller, "com.rs.sized", 10_000)
        assert uri == TOO_LARGE and "4,096 octets" in text, text
        assert await caller.call("com.rs.sized", 10) == "r" * 10
        await leave(callee, caller)

    run(scenario())


class TinyRawSocketClient:
    """A JSON RawSocket client announcing 512 octets (the smallest RawSocket limit)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.sendall(bytes([0x7F, 0x01, 0, 0]))  # length exponent 0: 2^9 = 512 octets
        self.buffer = b""
        assert self._read(4)[::2] == bytes([0x7F, 0])  # accepted (the router announces its own limit)
        self.largest = 0

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the router")
            self.buffer += data
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, message: list) -> None:
        payload = json.dumps(message).encode()
        self.sock.sendall(b"\x00" + len(payload).to_bytes(3, "big") + payload)

    def receive(self) -> list:
        while True:
            head = self._read(4)
            payload = self._read(int.from_bytes(head[1:4], "big"))
            if head[0] & 0x07 == 0:
                self.largest = max(self.largest, len(payload))
                return json.loads(payload)


def test_rawsocket_client_announcing_512_octets_joins_and_gets_errors(node: Any) -> None:
    """The 512-octet client gets a WELCOME (without feature announcements) within its limit,
    a RESULT that fits, and ERROR payload_size_exceeded for one that does not."""
    async def register_callee() -> Any:
        callee = await connect(url(node, "big"))
        await callee.register(lambda size: "r" * size, "com.tiny.sized")
        return callee

    async def scenario() -> None:
        callee = await register_callee()
        loop = asyncio.get_event_loop()
        answers = await loop.run_in_executor(None, tiny_exchange, node.ports["rawsocket"])
        welcome, count, fits, too_large = answers
        assert welcome[0] == 2 and set(welcome[2]["roles"]) == {"broker", "dealer"}, welcome
        assert count[:2] == [50, 1] and count[3][0] >= 1, count
        assert fits[:2] == [50, 2] and fits[3] == ["r" * 100], fits
        assert too_large[:3] == [8, 48, 3] and too_large[4] == TOO_LARGE, too_large
        await leave(callee)

    run(scenario())


def tiny_exchange(port: int) -> List[list]:
    client = TinyRawSocketClient(port)
    try:
        client.send([1, "realm1", {"roles": {"caller": {}}}])
        welcome = client.receive()
        client.send([48, 1, {}, "wamp.session.count"])
        count = client.receive()
        client.send([48, 2, {}, "com.tiny.sized", [100]])
        fits = client.receive()
        client.send([48, 3, {}, "com.tiny.sized", [1000]])
        too_large = client.receive()
        assert client.largest <= 512
        return [welcome, count, fits, too_large]
    finally:
        client.sock.close()


# --- router level: progressive results ---------------------------------------------------


class LimitedTransport(FakeTransport):
    """An in-memory transport that refuses messages over ``limit`` octets of JSON, as the real ones do."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def send(self, msg: m.Message) -> None:
        size = len(json.dumps(msg.marshal()))
        if size > self.limit:
            raise MessageTooLarge(size, self.limit)
        super().send(msg)


def test_progressive_result_too_large_ends_the_call_and_interrupts_the_callee():
    """A progressive RESULT over the caller's limit: the caller gets ERROR payload_size_exceeded,
    the callee INTERRUPT killnowait; the callee's later YIELDs go nowhere."""
    router = Router((realm(),), Clock())
    callee = Client(router)
    callee.hello()
    caller = Client(router)
    caller.transport = LimitedTransport(600)
    caller.session.onOpen(caller.transport)
    caller.hello()
    callee.send(m.Register(1, "com.progress"))
    callee.take()
    caller.send(m.Call(7, "com.progress", receive_progress=True))
    invocation = callee.last()
    callee.send(m.Yield(invocation.request, args=["small"], progress=True))
    assert caller.last().args == ["small"]
    callee.send(m.Yield(invocation.request, args=["p" * 1000], progress=True))
    error = caller.last()
    assert isinstance(error, m.Error) and error.request == 7 and error.error == TOO_LARGE
    interrupt = callee.last()
    assert isinstance(interrupt, m.Interrupt) and interrupt.request == invocation.request
    assert interrupt.mode == "killnowait"
    callee.send(m.Yield(invocation.request, args=["late"]))
    assert caller.take() == []


def test_error_too_large_keeps_its_request_and_says_which_error():
    """A callee's ERROR with a payload over the caller's limit: ERROR payload_size_exceeded for the CALL."""
    router = Router((realm(),), Clock())
    callee = Client(router)
    callee.hello()
    caller = Client(router)
    caller.transport = LimitedTransport(600)
    caller.session.onOpen(caller.transport)
    caller.hello()
    callee.send(m.Register(1, "com.fails"))
    callee.take()
    caller.send(m.Call(9, "com.fails"))
    invocation = callee.last()
    callee.send(m.Error(m.Invocation.MESSAGE_TYPE, invocation.request, "com.app.failed", args=["x" * 1000]))
    error = caller.last()
    assert error.request_type == m.Call.MESSAGE_TYPE and error.request == 9 and error.error == TOO_LARGE
    assert "com.app.failed" in error.args[0]


def test_skipped_events_are_counted_and_warned_about_at_most_once_per_interval():
    """Five oversized EVENTs within the interval: five counted, one warning; the next one after
    the interval warns again and says how many went unlogged meanwhile."""
    from twisted.logger import formatEvent, globalLogPublisher

    from node.router.oversize import Undeliverable

    lines: List[str] = []

    def observe(event: dict) -> None:
        if event.get("log_namespace") == "node.router.oversize":
            lines.append(formatEvent(event))

    now = [100.0]
    counter = Undeliverable("realm1", interval=10.0, now=lambda: now[0])
    globalLogPublisher.addObserver(observe)
    try:
        for session in range(5):
            counter.count("EVENT", session, 5000, 4096, "skipped for this subscriber")
            now[0] += 1.0
        now[0] += 10.0
        counter.count("EVENT", 9, 6000, 4096, "skipped for this subscriber")
    finally:
        globalLogPublisher.removeObserver(observe)
    assert counter.counts == {"EVENT": 6}
    assert len(lines) == 2, lines
    assert "EVENT of 5000 octets for session 0 on realm realm1 exceeds its limit of 4096 octets" in lines[0]
    assert "(6 EVENT too large on this realm so far, 4 not logged since the last line)" in lines[1], lines[1]
