"""hello_timeout: a connection that has not joined a realm in time is closed (issue 19, finding 17).

Before: a WebSocket that answered pings but never sent HELLO, or a RawSocket after its
handshake, stayed open indefinitely. Now the time from the transport opening to
WELCOME (authentication included) is bounded by ``hello_timeout`` (default 10 s):
WebSocket closes with 1008, RawSocket is dropped, a session in authentication gets
ABORT ``wamp.error.timeout`` first. Sessions that join in time are not affected.
"""
from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from typing import Any, List, Optional, Tuple

from autobahn.wamp import message as m
from twisted.internet.task import Clock

from conftest import free_port, router_config, tcp
from node.config.fragments import auth_method
from node.router import Router
from router_fakes import FakeTransport, client_roles, realm, wire
from wampclient import connect, leave, run
from wsraw import RawWebSocket, frame

TICKET = (auth_method("ticket", "static", {"principals": {"joe": {"ticket": "s3cret", "role": "anonymous"}}}),)
HELLO_TIMEOUT_MS = 1500


# --- the session's timer, on a test clock ------------------------------------------------


def opened(router: Router, auth: tuple = (), timeout: float = 2.0) -> Tuple[Any, FakeTransport]:
    session = router.session_factory(auth, timeout)()
    transport = FakeTransport()
    session.onOpen(transport)
    return session, transport


def test_timer_closes_a_connection_without_hello_and_spares_a_joined_one():
    """On the router's clock: silent past hello_timeout -> closed; joined before it -> untouched."""
    clock = Clock()
    router = Router((realm(),), clock)
    _, silent = opened(router)
    session, joined = opened(router)
    session.onMessage(wire(m.Hello("realm1", client_roles())))
    assert isinstance(joined.sent[-1], m.Welcome)
    clock.advance(1.9)
    assert not silent.closed
    clock.advance(0.2)
    assert silent.closed and not silent.sent  # no HELLO came: nothing to ABORT
    assert not joined.closed and session.state == "joined"
    assert not clock.getDelayedCalls()  # the joined session's timer was cancelled


def test_authentication_counts_towards_the_timeout():
    """A session that got a CHALLENGE and never answers gets ABORT wamp.error.timeout, then close."""
    clock = Clock()
    session, transport = opened(Router((realm(),), clock), TICKET)
    session.onMessage(wire(m.Hello("realm1", client_roles(), authmethods=["ticket"], authid="joe")))
    assert isinstance(transport.sent[-1], m.Challenge)
    clock.advance(2.1)
    assert isinstance(transport.sent[-1], m.Abort) and transport.sent[-1].reason == "wamp.error.timeout"
    assert transport.closed


def test_no_timer_without_a_timeout():
    """hello_timeout 0 starts no timer (the router's default for sessions made without one)."""
    clock = Clock()
    opened(Router((realm(),), clock), timeout=0.0)
    assert not clock.getDelayedCalls()


# --- a real node ----------------------------------------------------------------------------


def node_config(ws_port: int, rs_port: int, auth: Optional[dict] = None) -> dict:
    ws = {"type": "websocket", "endpoint": tcp(ws_port),
          "options": {"hello_timeout": HELLO_TIMEOUT_MS, "auto_ping_interval": 200, "auto_ping_timeout": 1000}}
    rs = {"type": "rawsocket", "endpoint": tcp(rs_port), "options": {"hello_timeout": HELLO_TIMEOUT_MS}}
    if auth:
        ws["auth"] = rs["auth"] = auth
    return router_config([ws, rs])


def websocket_answering_pings(port: int, seconds: float) -> Tuple[Optional[int], str, int, float]:
    """Open a WAMP WebSocket, send nothing but pongs; (close code, reason, pings answered, seconds open)."""
    ws = RawWebSocket(port, protocols=["wamp.2.json"])
    assert ws.status == 101
    start = time.monotonic()
    ws.sock.settimeout(seconds)
    pings = 0
    try:
        while True:
            _, opcode, payload = ws.read_frame()
            if opcode == 9:
                pings += 1
                ws.send(frame(10, payload))
            elif opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return code, payload[2:].decode("utf-8", "replace"), pings, time.monotonic() - start
    except socket.timeout:
        return None, "", pings, time.monotonic() - start
    finally:
        ws.shutdown()


def rawsocket_messages_until_closed(port: int, messages: List[list],
                                    seconds: float) -> Tuple[List[Any], Optional[float]]:
    """RawSocket handshake (JSON), send ``messages``, read until the node closes: (messages, seconds open)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=seconds)
    start = time.monotonic()
    sock.sendall(b"\x7f\xf1\x00\x00")
    for message in messages:
        payload = json.dumps(message).encode()
        sock.sendall(b"\x00" + len(payload).to_bytes(3, "big") + payload)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        return [], None
    except OSError:  # reset: dropped
        pass
    finally:
        sock.close()
    elapsed = time.monotonic() - start
    assert data[:1] == b"\x7f", data[:4]
    data, received = data[4:], []
    while len(data) >= 4:
        length = int.from_bytes(data[1:4], "big")
        received.append(json.loads(data[4:4 + length]))
        data = data[4 + length:]
    return received, elapsed


def test_websocket_answering_pings_is_closed_after_hello_timeout(node_factory: Any) -> None:
    """A WebSocket that answers every ping but never sends HELLO is closed with 1008 after hello_timeout."""
    ws_port, rs_port = free_port(), free_port()
    node = node_factory(node_config(ws_port, rs_port))
    code, reason, pings, elapsed = websocket_answering_pings(ws_port, 8.0)
    assert code == 1008 and "hello_timeout" in reason, (code, reason)
    assert pings >= 2  # it was alive, answering pings, all along
    assert 1.3 < elapsed < 4.0, elapsed
    assert node.wait_for("no WAMP session joined within 1.5 s")


def test_rawsocket_after_its_handshake_is_dropped_after_hello_timeout(node_factory: Any) -> None:
    """A RawSocket that completed its handshake and sends nothing is dropped after hello_timeout."""
    ws_port, rs_port = free_port(), free_port()
    node_factory(node_config(ws_port, rs_port))
    received, elapsed = rawsocket_messages_until_closed(rs_port, [], 8.0)
    assert elapsed is not None and 1.3 < elapsed < 4.0, elapsed
    assert received == []


def test_rawsocket_stuck_in_authentication_gets_abort_then_close(node_factory: Any) -> None:
    """HELLO answered with CHALLENGE, no AUTHENTICATE: ABORT wamp.error.timeout, then the connection drops."""
    ws_port, rs_port = free_port(), free_port()
    node_factory(node_config(ws_port, rs_port, auth={"ticket": {"type": "static", "principals": {
        "joe": {"ticket": "s3cret", "role": "anonymous"}}}}))
    hello = [1, "realm1", {"roles": {"caller": {}}, "authmethods": ["ticket"], "authid": "joe"}]
    received, elapsed = rawsocket_messages_until_closed(rs_port, [hello], 8.0)
    assert [r[0] for r in received] == [4, 3], received  # CHALLENGE, ABORT
    assert received[1][2] == "wamp.error.timeout"
    assert elapsed is not None and 1.3 < elapsed < 4.0, elapsed


def test_sessions_that_joined_in_time_stay(node_factory: Any) -> None:
    """Sessions joined over WebSocket and RawSocket outlive hello_timeout: the barrier is an
    unjoined RawSocket opened with them, which the node closes meanwhile."""
    ws_port, rs_port = free_port(), free_port()
    node_factory(node_config(ws_port, rs_port))

    async def scenario() -> int:
        ws = await connect(f"ws://127.0.0.1:{ws_port}/")
        rs = await connect(f"rs://127.0.0.1:{rs_port}")
        reader, writer = await asyncio.open_connection("127.0.0.1", rs_port)
        writer.write(b"\x7f\xf1\x00\x00")
        assert (await reader.readexactly(4))[0] == 0x7F
        assert await asyncio.wait_for(reader.read(), 8.0) == b""  # the unjoined one: closed by hello_timeout
        writer.close()
        assert not ws.disconnected.done() and not rs.disconnected.done()
        counts = [await ws.call("wamp.session.count"), await rs.call("wamp.session.count")]
        await leave(ws, rs)
        return min(counts)

    assert run(scenario()) == 2
