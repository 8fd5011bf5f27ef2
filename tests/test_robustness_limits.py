"""Limits that hold under abuse: handshake timeouts, max_connections, stalled readers.

Every test starts a real node and misbehaves against it with plain sockets on
127.0.0.1, the way a hostile or broken client would.
"""
from __future__ import annotations

import asyncio
import json
import socket
import ssl
import struct
import time
from typing import Any, List, Optional

import psutil
from autobahn.wamp.types import PublishOptions
from conftest import await_until, free_port, router_config, tcp, wait_until
from pki import make_pki
from stack import PYPY
from wampclient import connect, leave, run
from wsraw import RawWebSocket, frame


def ws_transport(port: int, **options: Any) -> dict:
    return {"type": "websocket", "endpoint": tcp(port), "options": options}


def closed_within(sock: socket.socket, seconds: float, trickle: Optional[bytes] = None) -> Optional[float]:
    """Seconds until the peer closed ``sock`` (sending ``trickle`` a byte at a time meanwhile), or None."""
    start = time.monotonic()
    sock.settimeout(0.2)
    sent = 0
    while time.monotonic() - start < seconds:
        try:
            if not sock.recv(4096):
                return time.monotonic() - start
        except socket.timeout:
            if trickle and sent < len(trickle):
                try:
                    sock.send(trickle[sent:sent + 1])
                except OSError:
                    return time.monotonic() - start
                sent += 1
        except OSError:  # reset: dropped with abort
            return time.monotonic() - start
    return None


# --- slow opening handshakes ------------------------------------------------------


def test_websocket_slow_handshake_dropped_after_open_handshake_timeout(node_factory: Any) -> None:
    """A client trickling its WebSocket opening handshake is dropped after open_handshake_timeout."""
    port = free_port()
    node_factory(router_config([ws_transport(port, open_handshake_timeout=2000)]))
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    elapsed = closed_within(sock, 6.0, trickle=b"Upgrade: websocket\r\nConnection: Upgrade\r\n" * 4)
    # autobahn's timers are txaio's batched timers, which round the deadline down to
    # a whole second: a 2000 ms timeout fires after 1 to 2 s.
    assert elapsed is not None and 0.9 < elapsed < 3.5


def test_rawsocket_missing_handshake_dropped_after_open_handshake_timeout(node_factory: Any) -> None:
    """A RawSocket client that sends only part of its 4-octet handshake is dropped after the timeout."""
    port = free_port()
    node_factory(router_config([{"type": "rawsocket", "endpoint": tcp(port),
                                 "options": {"open_handshake_timeout": 1000}}]))
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"\x7f")
    elapsed = closed_within(sock, 6.0)
    assert elapsed is not None and 0.8 < elapsed < 3.0


def test_rawsocket_completed_handshake_is_not_timed_out(node_factory: Any) -> None:
    """A RawSocket client that finished its handshake stays connected past open_handshake_timeout."""
    port = free_port()
    node_factory(router_config([{"type": "rawsocket", "endpoint": tcp(port),
                                 "options": {"open_handshake_timeout": 500}}]))
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"\x7f\xf1\x00\x00")
    assert sock.recv(4)[0] == 0x7F
    assert closed_within(sock, 1.5) is None


# --- max_connections ---------------------------------------------------------------


def websocket_status(port: int, path: str = "/") -> int:
    """The HTTP status a new WebSocket opening handshake gets (the connection is closed again)."""
    ws = RawWebSocket(port, path=path, protocols=["wamp.2.json"])
    ws.shutdown()
    return ws.status


def test_websocket_max_connections_refused_with_503(node_factory: Any) -> None:
    """Beyond a websocket transport's max_connections the opening handshake gets HTTP 503."""
    port = free_port()
    node_factory(router_config([ws_transport(port, max_connections=2)]))
    open_ = [RawWebSocket(port, protocols=["wamp.2.json"]) for _ in range(2)]
    assert [c.status for c in open_] == [101, 101]
    assert websocket_status(port) == 503
    open_[0].shutdown()
    assert wait_until(lambda: websocket_status(port) == 101, 5), "the closed connection's place was never freed"


def http_get(port: int, path: str = "/info") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def test_web_max_connections_refused_with_503(node_factory: Any) -> None:
    """A web transport answers connections beyond max_connections (WebSocket ones included) with 503."""
    port = free_port()
    node_factory(router_config([{"type": "web", "endpoint": tcp(port), "options": {"max_connections": 2},
                                 "paths": {"info": {"type": "nodeinfo"}, "ws": {"type": "websocket"}}}]))
    websocket = RawWebSocket(port, path="/ws", protocols=["wamp.2.json"])
    assert websocket.status == 101
    idle = socket.create_connection(("127.0.0.1", port))
    answers: List[bytes] = []

    def third_refused() -> bool:  # once the node has accepted the idle connection
        answers.append(http_get(port))
        return answers[-1].startswith(b"HTTP/1.1 503")

    assert wait_until(third_refused, 5), answers[-1][:200]
    assert b"Retry-After" in answers[-1]
    websocket.shutdown()
    assert wait_until(lambda: http_get(port).startswith(b"HTTP/1.1 200"), 5), "the closed WebSocket's place was never freed"
    idle.close()


def accepted(reply: bytes) -> bool:
    """A RawSocket handshake reply accepting JSON (serializer 1; any length limit)."""
    return len(reply) == 4 and reply[0] == 0x7F and reply[1] & 0x0F == 1


def rawsocket_handshake(port: int) -> bytes:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"\x7f\xf1\x00\x00")
    reply = sock.recv(4)
    sock.close()
    return reply


def test_rawsocket_max_connections_refused_with_handshake_error(node_factory: Any) -> None:
    """Beyond max_connections a RawSocket client gets the 'maximum connection count reached' reply."""
    port = free_port()
    node_factory(router_config([{"type": "rawsocket", "endpoint": tcp(port), "options": {"max_connections": 1}}]))
    held = socket.create_connection(("127.0.0.1", port))
    held.sendall(b"\x7f\xf1\x00\x00")
    assert accepted(held.recv(4))
    assert rawsocket_handshake(port) == b"\x7f\x40\x00\x00"
    held.close()
    assert wait_until(lambda: accepted(rawsocket_handshake(port)), 5), "the closed connection's place was never freed"


def test_universal_max_connections_per_protocol(node_factory: Any) -> None:
    """A universal transport limits its RawSocket and its web part each by their own max_connections."""
    port = free_port()
    node_factory(router_config([{"type": "universal", "endpoint": tcp(port),
                                 "rawsocket": {"options": {"max_connections": 1}},
                                 "web": {"options": {"max_connections": 1},
                                         "paths": {"/": {"type": "nodeinfo"}}}}]))
    raw = socket.create_connection(("127.0.0.1", port))
    raw.sendall(b"\x7f\xf1\x00\x00")
    assert accepted(raw.recv(4))
    assert http_get(port, "/").startswith(b"HTTP/1.1 200")  # the web part has its own count
    web = socket.create_connection(("127.0.0.1", port))
    web.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert web.recv(12) == b"HTTP/1.1 200"
    assert rawsocket_handshake(port) == b"\x7f\x40\x00\x00"
    assert http_get(port, "/").startswith(b"HTTP/1.1 503")
    raw.close()
    web.close()


# --- a peer that stops reading ------------------------------------------------------

EVENT_SIZE = 64 * 1024
EVENTS = 256  # 16 MiB published in all


def stalled_websocket_subscriber(port: int) -> socket.socket:
    """A WAMP subscriber on raw sockets that subscribes to ``big`` and then never reads."""
    client = RawWebSocket(port, protocols=["wamp.2.json"])
    client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    client.send(frame(1, json.dumps([1, "realm1", {"roles": {"subscriber": {}}}]).encode()))
    assert json.loads(client.read_frame()[2])[0] == 2
    client.send(frame(1, json.dumps([32, 1, {}, "big"]).encode()))
    assert json.loads(client.read_frame()[2])[0] == 33
    return client.sock


def stalled_rawsocket_subscriber(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(b"\x7f\xf1\x00\x00")
    assert accepted(sock.recv(4))

    def send(message: List[Any]) -> None:
        data = json.dumps(message).encode()
        sock.sendall(struct.pack("!I", len(data)) + data)

    def receive() -> List[Any]:
        head = b""
        while len(head) < 4:
            head += sock.recv(4 - len(head))
        size = struct.unpack("!I", head)[0] & 0xFFFFFF
        body = b""
        while len(body) < size:
            body += sock.recv(size - len(body))
        return json.loads(body)

    send([1, "realm1", {"roles": {"subscriber": {}}}])
    assert receive()[0] == 2
    send([32, 1, {}, "big"])
    assert receive()[0] == 33
    return sock


def publish_to_stalled(node: Any, url: str, stalled: socket.socket) -> int:
    """Publish 30 MiB while a reading subscriber and the stalled one listen; returns the
    reading subscriber's event count. Asserts the node's memory did not follow."""
    process = psutil.Process(node.proc.pid)
    before = process.memory_info().rss
    payload = "x" * EVENT_SIZE

    async def scenario() -> int:
        publisher = await connect(url)
        reader = await connect(url)
        got: List[int] = []
        await reader.subscribe(lambda n, _: got.append(n), "big")
        # a batch at a time, once the reader has the one before: the reader (in this process,
        # sharing its event loop with the publisher) is never more than one batch (512 KiB)
        # behind, well within max_outgoing_buffer, however slowly this process is scheduled
        for start in range(0, EVENTS, 8):
            await await_until(lambda: len(got) >= start, 10)
            await asyncio.gather(*[publisher.publish("big", i, payload, options=PublishOptions(acknowledge=True))
                                   for i in range(start, start + 8)])
        await await_until(lambda: len(got) >= EVENTS, 10)
        await leave(publisher, reader)
        return len(got)

    received = run(scenario())
    growth = process.memory_info().rss - before
    if not PYPY:  # PyPy's GC returns memory at major collections only: RSS there shows its policy
        assert growth < 8 * 1024 * 1024, f"node RSS grew by {growth // 1024} KiB"
    assert node.wait_for("max_outgoing_buffer", 5)
    assert closed_within(stalled, 2.0) is not None
    return received


def test_stalled_websocket_subscriber_dropped_at_max_outgoing_buffer(node_factory: Any) -> None:
    """A WebSocket subscriber that stops reading is dropped at max_outgoing_buffer; others get every event."""
    port = free_port()
    node = node_factory(router_config([ws_transport(port, max_outgoing_buffer=1048576)]))
    stalled = stalled_websocket_subscriber(port)
    assert publish_to_stalled(node, f"ws://127.0.0.1:{port}", stalled) == EVENTS
    assert "Dropping" in node.output()


def test_node_stops_reading_from_a_peer_that_does_not_read(node_factory: Any) -> None:
    """While the events a subscriber does not read wait in the node (below
    max_outgoing_buffer, so it is not dropped), the node reads nothing from it: its own
    sending stalls. (Each 64 KiB event pauses the connection as it is written; reading
    stops only if the same turn's flush cannot send it all, as here.) The other sessions
    go on meanwhile."""
    port = free_port()
    node = node_factory(router_config([ws_transport(port, max_outgoing_buffer=64 * 1048576)]))
    url = f"ws://127.0.0.1:{port}"
    stalled = stalled_websocket_subscriber(port)
    payload = "x" * EVENT_SIZE
    most = 2000  # 128 MiB of PUBLISH: far more than the kernel's buffers on both sides hold

    def flood() -> int:
        """PUBLISH to a topic nobody subscribed to, without acknowledgement: nothing
        comes back, so only the node's not reading can stop it."""
        stalled.settimeout(3.0)
        data = frame(1, json.dumps([16, 1, {}, "nowhere", [payload]]).encode())
        sent = 0
        try:
            for _ in range(most):
                stalled.sendall(data)
                sent += 1
        except socket.timeout:
            pass
        return sent

    async def scenario() -> int:
        publisher = await connect(url)
        for i in range(128):  # 8 MiB for the subscriber that does not read
            await publisher.publish("big", i, payload, options=PublishOptions(acknowledge=True))
        sent = await asyncio.get_event_loop().run_in_executor(None, flood)
        for i in range(3):
            await publisher.publish("big", i, "small", options=PublishOptions(acknowledge=True))
        await leave(publisher)
        return sent

    sent = run(scenario())
    assert sent < most, sent
    assert "Dropping" not in node.output()


def test_stalled_wss_subscriber_of_large_events_dropped_at_max_outgoing_buffer(node_factory: Any,
                                                                               tmp_path: Any) -> None:
    """Over TLS a large message is encrypted as the socket takes it (node.tls.handshake_protocol):
    what waits unencrypted counts towards max_outgoing_buffer like what waits encrypted, so
    a subscriber over wss that stops reading 4 MiB events is dropped; a reading one gets them all."""
    pki = make_pki(tmp_path / "pki")
    port = free_port()
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt)}
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port, tls=tls), "options": {
        "max_message_size": 16 * 1048576, "max_outgoing_buffer": 4 * 1048576}}]))
    context = ssl.create_default_context(cafile=str(pki.root_crt))
    stalled = RawWebSocket(port, protocols=["wamp.2.json"], tls=context)
    stalled.send(frame(1, json.dumps([1, "realm1", {"roles": {"subscriber": {}}}]).encode()))
    assert json.loads(stalled.read_frame()[2])[0] == 2
    stalled.send(frame(1, json.dumps([32, 1, {}, "big"]).encode()))
    assert json.loads(stalled.read_frame()[2])[0] == 33
    payload = "y" * (4 * 1048576)
    count = 6

    async def scenario() -> int:
        url = f"wss://127.0.0.1:{port}"
        publisher = await connect(url, cafile=str(pki.root_crt))
        reader = await connect(url, cafile=str(pki.root_crt))
        got: List[int] = []
        await reader.subscribe(lambda n, text: got.append(n) if text == payload else None, "big")
        for i in range(count):
            await asyncio.wait_for(publisher.publish("big", i, payload, options=PublishOptions(acknowledge=True)), 20)
            await await_until(lambda: len(got) > i, 20)
        await leave(publisher, reader)
        return len(got)

    try:
        assert run(scenario()) == count
        assert node.wait_for("max_outgoing_buffer", 10), node.output()
        assert closed_within(stalled.sock, 5.0) is not None
    finally:
        stalled.shutdown()


def test_stalled_rawsocket_subscriber_dropped_at_max_outgoing_buffer(node_factory: Any) -> None:
    """A RawSocket subscriber that stops reading is dropped at max_outgoing_buffer; others get every event."""
    port = free_port()
    node = node_factory(router_config([{"type": "rawsocket", "endpoint": tcp(port),
                                        "options": {"max_outgoing_buffer": 1048576}}]))
    stalled = stalled_rawsocket_subscriber(port)
    assert publish_to_stalled(node, f"rs://127.0.0.1:{port}", stalled) == EVENTS
