"""The ``tcpbridge`` web path against real processes: a node and TCP echo servers.

Clients: autobahn-python (asyncio) for ordinary use, and :mod:`wsraw` for frames
built by hand (Tor's WebSocket pluggable transport examples, unmasked frames,
fragmented base64, pings) and to see exactly which frames the server sends.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import select
import signal
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

import pytest

from bridgekit import EchoServer, bridge_config, bridge_path, tcp_target, wait_until
from conftest import free_port, run_cli, start_node
from wsraw import RawWebSocket, fast_frame, frame

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: Any):
    """One node with a bridge path per behaviour, and the echo servers behind them."""
    directory = tmp_path_factory.mktemp("bridge")
    servers = {
        "echo": EchoServer(),
        "unix": EchoServer("--unix", str(directory / "echo.sock")),
        "greet": EchoServer("--greet", "bye"),
        "pause": EchoServer("--pause", "3"),
        "flood": EchoServer("--flood", str(48 * MIB)),
        "silent": EchoServer("--pause", "60"),
    }
    port = free_port()
    echo = tcp_target(servers["echo"].port)
    paths = {
        "echo": bridge_path(echo),
        "small": bridge_path(echo, max_message_size=2026),
        "bigsend": bridge_path(echo, send_message_size=65536),
        "origin": bridge_path(echo, allowed_origins=["https://good.example:*"]),
        "unix": bridge_path({"type": "unix", "path": str(directory / "echo.sock")}),
        "greet": bridge_path(tcp_target(servers["greet"].port)),
        "pause": bridge_path(tcp_target(servers["pause"].port)),
        "flood": bridge_path(tcp_target(servers["flood"].port)),
        "dead": bridge_path(tcp_target(free_port())),
        "stall": bridge_path(tcp_target(servers["silent"].port, tls={}), connect_timeout=1),
    }
    node = start_node(bridge_config(port, paths), directory / "node")
    yield port, servers, node
    node.stop()
    for server in servers.values():
        server.stop()


# --- autobahn-python client (asyncio) ---------------------------------------------


async def _autobahn_exchange(port: int, path: str, messages: Sequence[bytes], is_binary: bool,
                             protocols: Sequence[str] = (), expect_octets: Optional[int] = None) -> Tuple[Optional[str], List[bytes]]:
    """Send ``messages`` with autobahn's client; return (negotiated protocol, messages received)."""
    from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

    loop = asyncio.get_running_loop()
    done: asyncio.Future = loop.create_future()
    received: List[bytes] = []
    wanted = expect_octets if expect_octets is not None else sum(len(m) for m in messages)

    class Client(WebSocketClientProtocol):
        def onOpen(self) -> None:
            for message in messages:
                self.sendMessage(message, isBinary=is_binary)

        def onMessage(self, payload: bytes, isBinary: bool) -> None:
            received.append(payload)
            if sum(len(p) for p in received) >= wanted and not done.done():
                done.set_result(self.websocket_protocol_in_use)
                self.sendClose(1000)

        def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:
            if not done.done():
                done.set_exception(ConnectionError(f"closed {code} {reason}"))

    factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}/{path}", protocols=list(protocols) or None)
    factory.protocol = Client
    factory.setProtocolOptions(maxMessagePayloadSize=0, autoFragmentSize=65536)
    transport, _ = await loop.create_connection(factory, "127.0.0.1", port)
    try:
        protocol = await asyncio.wait_for(done, 60)
    finally:
        transport.close()
    return protocol, received


def test_binary_echo_with_autobahn_client(bridge: Any) -> None:
    """Binary messages from autobahn's client come back as binary messages with the same bytes."""
    port, _, _ = bridge
    protocol, received = asyncio.run(_autobahn_exchange(port, "echo", [b"hello", b"\x00\xff" * 100], True))
    assert protocol is None
    assert b"".join(received) == b"hello" + b"\x00\xff" * 100


def test_base64_echo_with_autobahn_client(bridge: Any) -> None:
    """A client offering base64 gets exactly `base64` back, and text messages carry base64 both ways."""
    port, _, _ = bridge
    data = os.urandom(3000)
    sent = [base64.b64encode(data[:1000]), base64.b64encode(data[1000:])]
    protocol, received = asyncio.run(_autobahn_exchange(port, "echo", sent, False, ["chat", "base64"],
                                                        expect_octets=4000))
    assert protocol == "base64"
    assert b"".join(base64.b64decode(m) for m in received) == data


@pytest.mark.parametrize("use_base64", [False, True], ids=["binary", "base64"])
def test_ten_mib_with_autobahn_client(bridge: Any, use_base64: bool) -> None:
    """10 MiB sent by autobahn's client in 48 KiB messages come back intact."""
    port, _, _ = bridge
    data = os.urandom(10 * MIB)
    chunks = [data[i:i + 49152] for i in range(0, len(data), 49152)]
    if use_base64:
        chunks = [base64.b64encode(c) for c in chunks]
    protocol, received = asyncio.run(_autobahn_exchange(
        port, "echo", chunks, not use_base64, ["base64"] if use_base64 else (),
        expect_octets=sum(len(c) for c in chunks) if use_base64 else len(data)))
    echoed = b"".join(base64.b64decode(m) for m in received) if use_base64 else b"".join(received)
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(data).digest()


# --- hand-built frames --------------------------------------------------------------


def test_seed_examples_of_the_base64_subprotocol(bridge: Any) -> None:
    """The specification's frames (one frame, two fragments, its masked bytes) each deliver "Hello"."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/echo", ["base64"])
    assert ws.status == 101 and ws.protocol == "base64"
    ws.send(frame(1, b"SGVsbG8="))  # 0x81 0x08 "SGVsbG8=" (masked, as a client must)
    ws.send(frame(1, b"SG", fin=False) + frame(0, b"VsbG8="))  # 0x01 0x02 "SG" 0x81 0x06 "sbG8="
    ws.send(bytes([0x81, 0x88, 0x12, 0x34, 0x56, 0x78, 0x41, 0x73, 0x00, 0x0b, 0x70, 0x73, 0x6e, 0x45]))
    received = b""
    while len(received) < 15:
        fin, opcode, payload = ws.read_frame()
        assert fin and opcode == 1
        received += base64.b64decode(payload)
    assert received == b"Hello" * 3
    ws.close()
    ws.shutdown()


@pytest.mark.parametrize("use_base64", [False, True], ids=["binary", "base64"])
def test_ten_mib_with_raw_frames(bridge: Any, use_base64: bool) -> None:
    """10 MiB in hand-built masked frames come back intact, each server message a single frame."""
    port, _, _ = bridge
    data = os.urandom(10 * MIB)
    ws = RawWebSocket(port, "/echo", ["base64"] if use_base64 else ())
    step = 49152

    def send() -> None:
        for i in range(0, len(data), step):
            chunk = data[i:i + step]
            ws.send(fast_frame(1, base64.b64encode(chunk)) if use_base64 else fast_frame(2, chunk))

    sender = threading.Thread(target=send)
    sender.start()
    received = bytearray()
    while len(received) < len(data):
        fin, opcode, payload = ws.read_frame()
        assert fin and opcode == (1 if use_base64 else 2) and len(payload) <= 65536
        received += base64.b64decode(payload) if use_base64 else payload
    sender.join()
    assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()
    ws.close()
    ws.shutdown()


@pytest.mark.parametrize("use_base64", [False, True], ids=["binary", "base64"])
def test_server_messages_are_single_frames_within_the_limit(bridge: Any, use_base64: bool) -> None:
    """With max_message_size 2026 every message the server sends is one frame of at most 2026 octets."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/small", ["base64"] if use_base64 else ())
    data = os.urandom(20000)
    step = 1500
    for i in range(0, len(data), step):
        chunk = data[i:i + step]
        ws.send(frame(1, base64.b64encode(chunk)) if use_base64 else frame(2, chunk))
    received = b""
    while len(received) < len(data):
        fin, opcode, payload = ws.read_frame()
        assert fin and len(payload) <= 2026
        assert opcode == (1 if use_base64 else 2)
        received += base64.b64decode(payload, validate=True) if use_base64 else payload
    assert received == data
    ws.shutdown()


@pytest.mark.parametrize("use_base64", [False, True], ids=["binary", "base64"])
def test_server_messages_are_at_most_1500_octets_by_default(bridge: Any, use_base64: bool) -> None:
    """Whatever max_message_size is (65536 here), the bridge sends messages of at most 1500 octets, which every
    conforming client accepts; 1 MiB sent in 48 KiB messages comes back intact in such messages."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/echo", ["base64"] if use_base64 else ())
    data = os.urandom(MIB)
    step = 49152

    def send() -> None:
        for i in range(0, len(data), step):
            chunk = data[i:i + step]
            ws.send(fast_frame(1, base64.b64encode(chunk)) if use_base64 else fast_frame(2, chunk))

    sender = threading.Thread(target=send)
    sender.start()
    received = bytearray()
    sizes = []
    while len(received) < len(data):
        fin, opcode, payload = ws.read_frame()
        assert fin and opcode == (1 if use_base64 else 2)
        sizes.append(len(payload))
        received += base64.b64decode(payload, validate=True) if use_base64 else payload
    sender.join()
    assert max(sizes) <= 1500
    assert hashlib.sha256(received).digest() == hashlib.sha256(data).digest()
    ws.shutdown()


def test_send_message_size_raises_the_size_of_messages_sent(bridge: Any) -> None:
    """send_message_size 65536: the bridge's messages grow past 1500 octets, up to 65536."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/bigsend")
    data = os.urandom(MIB)
    sender = threading.Thread(target=lambda: [ws.send(fast_frame(2, data[i:i + 49152]))
                                              for i in range(0, len(data), 49152)])
    sender.start()
    received = bytearray()
    sizes = []
    while len(received) < len(data):
        fin, opcode, payload = ws.read_frame()
        assert fin and opcode == 2
        sizes.append(len(payload))
        received += payload
    sender.join()
    assert 1500 < max(sizes) <= 65536
    assert received == data
    ws.shutdown()


def test_smallest_limit_still_takes_1500_octets_and_2026_octet_messages(bridge: Any) -> None:
    """At the lowest max_message_size, 1500 data octets as base64 and a 2026-octet binary message pass."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/small", ["base64"])
    data = os.urandom(1500)
    ws.send(frame(1, base64.b64encode(data)))
    assert base64.b64decode(ws.read_data(2000)[0]) == data
    ws.shutdown()
    ws = RawWebSocket(port, "/small")
    data = os.urandom(2026)
    ws.send(frame(2, data))
    assert ws.read_data(2026)[0] == data
    ws.shutdown()


def test_schema_refuses_a_limit_below_2026(tmp_path: Path) -> None:
    """max_message_size below 2026 is a configuration error naming the option."""
    (tmp_path / "config.json").write_text(json.dumps(
        bridge_config(free_port(), {"b": bridge_path(tcp_target(1), max_message_size=2025)})))
    result = run_cli("check", "--cbdir", str(tmp_path))
    assert result.returncode == 2
    assert "paths.b.max_message_size: 2025 is less than the minimum of 2026" in result.stderr


@pytest.mark.parametrize("frames", [
    [frame(2, b"x" * 65537)],
    [frame(2, b"x" * 40000, fin=False), frame(0, b"x" * 30000)],
], ids=["one-frame", "fragmented"])
def test_message_over_the_limit_closes_1009(bridge: Any, frames: List[bytes]) -> None:
    """A message larger than max_message_size closes the connection with 1009."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/echo")
    ws.send(b"".join(frames))
    code, _, _ = ws.read_close()
    assert code == 1009
    ws.shutdown()


def test_text_without_base64_closes_1003(bridge: Any) -> None:
    """A text frame when base64 was not negotiated closes the connection (1003)."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/echo")
    assert ws.protocol is None
    ws.send(frame(1, b"SGVsbG8="))
    code, reason, data_frames = ws.read_close()
    assert (code, data_frames) == (1003, [])
    assert "base64" in reason
    ws.shutdown()


@pytest.mark.parametrize("frames", [
    [frame(1, b"SGV$bG8=")],
    [frame(1, b"SG==SGVs")],
    [frame(1, b"SGVsbG8")],
    [frame(1, b"SGU=", fin=False), frame(0, b"SGVs")],
], ids=["bad-character", "padding-inside", "length", "data-after-padding"])
def test_invalid_base64_closes_1007(bridge: Any, frames: List[bytes]) -> None:
    """A base64 message that does not decode closes the connection with 1007."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/echo", ["base64"])
    ws.send(b"".join(frames))
    code, reason, _ = ws.read_close()
    assert code == 1007 and "base64" in reason
    ws.shutdown()


def test_unmasked_client_frame_closes_1002(bridge: Any) -> None:
    """A client frame that is not masked closes the connection (1002, RFC 6455 section 5.1)."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/echo")
    ws.send(frame(2, b"hello", mask=None))
    code, _, data_frames = ws.read_close()
    assert (code, data_frames) == (1002, [])
    ws.shutdown()


def test_each_ping_gets_exactly_one_pong(bridge: Any) -> None:
    """Three pings get three pongs with their payloads, in order, and nothing else."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/echo")
    ws.send(frame(9, b"one") + frame(9, b"two") + frame(9, b"") + frame(2, b"end"))
    seen = []
    while True:
        fin, opcode, payload = ws.read_frame()
        seen.append((opcode, payload))
        if opcode == 2:
            break
    assert seen == [(10, b"one"), (10, b"two"), (10, b""), (2, b"end")]
    ws.shutdown()


def test_only_rfc6455_is_spoken(bridge: Any) -> None:
    """A hybi draft handshake (Sec-WebSocket-Version 8) is refused."""
    port, _, _ = bridge
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
        answer = s.recv(4096)
    assert answer.split(b"\r\n")[0].split()[1] != b"101"
    assert b"Sec-WebSocket-Version: 13" in answer


def test_origin_not_allowed_is_refused(bridge: Any) -> None:
    """allowed_origins refuses another Origin (autobahn answers 400) and accepts the listed one."""
    port, _, _ = bridge
    assert RawWebSocket(port, "/origin", origin="https://evil.example").status == 400
    ws = RawWebSocket(port, "/origin", origin="https://good.example")
    assert ws.status == 101
    ws.shutdown()


# --- closing and errors ------------------------------------------------------------------


def test_target_fin_closes_the_websocket_1000_after_its_data(bridge: Any) -> None:
    """When the target sends data and closes, the client gets the data, then close 1000."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/greet")
    code, _, data_frames = ws.read_close()
    assert code == 1000
    assert [(fin, opcode, payload) for fin, opcode, payload in data_frames] == [(True, 2, b"bye")]
    ws.shutdown()


def test_websocket_close_closes_the_target_connection(bridge: Any) -> None:
    """A WebSocket close ends the target TCP connection (the echo server sees EOF)."""
    port, servers, _ = bridge
    echo = servers["echo"]
    before = echo.count("eof")
    ws = RawWebSocket(port, "/echo")
    ws.send(frame(2, b"ping"))
    assert ws.read_data(4)[0] == b"ping"
    ws.close(1000)
    code, _, _ = ws.read_close()
    assert code == 1000
    assert echo.wait_for("eof", before + 1)
    ws.shutdown()


def test_a_received_close_is_logged_with_code_and_reason(bridge: Any) -> None:
    """The client's close frame is logged with its code and reason (a warning: not 1000 or 1001)."""
    port, _, node = bridge
    ws = RawWebSocket(port, "/echo")
    ws.send(frame(8, struct.pack("!H", 4000) + "custom goodbye é".encode()))
    code, _, _ = ws.read_close()
    assert code == 1000  # autobahn answers any close with 1000
    ws.shutdown()
    assert wait_until(lambda: 'the client closed the WebSocket with code 4000, reason "custom goodbye é"'
                      in node.output()), node.output()
    line = next(l for l in node.output().splitlines() if "custom goodbye" in l)
    assert "[warn]" in line and "Bridge " in line


def test_unreachable_target_closes_1011_with_a_reason(bridge: Any) -> None:
    """A target that refuses connections gets the WebSocket closed with 1011 and the cause."""
    port, _, node = bridge
    ws = RawWebSocket(port, "/dead")
    code, reason, _ = ws.read_close()
    assert code == 1011
    assert "unreachable" in reason and "refused" in reason
    assert wait_until(lambda: "connection refused" in node.output())
    ws.shutdown()


def test_connect_timeout_closes_1011(bridge: Any) -> None:
    """A target that never completes its (TLS) connection is given up after connect_timeout with 1011."""
    port, _, _ = bridge
    started = time.monotonic()
    ws = RawWebSocket(port, "/stall")
    code, reason, _ = ws.read_close()
    assert code == 1011 and "within 1 s" in reason
    assert 0.9 < time.monotonic() - started < 5
    ws.shutdown()


def test_unix_socket_target(bridge: Any) -> None:
    """A Unix socket target carries data both ways."""
    port, _, _ = bridge
    ws = RawWebSocket(port, "/unix")
    ws.send(frame(2, b"over unix"))
    assert ws.read_data(9)[0] == b"over unix"
    ws.close()
    ws.shutdown()


# --- backpressure --------------------------------------------------------------------------


def test_a_target_that_does_not_read_stops_the_client(bridge: Any) -> None:
    """While the target reads nothing, the node stops reading the WebSocket: the client's sending stalls."""
    port, servers, _ = bridge
    ws = RawWebSocket(port, "/pause")
    ws.sock.setblocking(False)
    block = fast_frame(2, b"\0" * 65536)
    sent = at_one_second = 0
    started = time.monotonic()
    pending = b""
    # The client sends for 2.5 s (the behaviour under test is that it stalls within
    # that window), blocking in select() whenever the node does not take more.
    while time.monotonic() - started < 2.5:
        if not pending:
            pending = block
        select.select([], [ws.sock], [], 0.1)
        try:
            n = ws.sock.send(pending)
            sent += n
            pending = pending[n:]
        except BlockingIOError:
            pass
        if time.monotonic() - started <= 1.0:
            at_one_second = sent
    assert sent - at_one_second < 1 * MIB, f"still sending: {at_one_second} -> {sent}"
    assert sent < 40 * MIB
    ws.shutdown()


def test_a_client_that_does_not_read_stops_the_target(bridge: Any) -> None:
    """While the WebSocket client reads nothing, the node stops reading the target: the target stalls."""
    port, servers, _ = bridge
    flood = servers["flood"]
    ws = RawWebSocket(port, "/flood")
    # For 2 s (the window under test) the target must not get its 48 MiB out; polling
    # fails the test as soon as it does.
    assert not wait_until(lambda: flood.count("flooded") > 0, 2.0), "the target sent 48 MiB although nobody read them"
    received = 0
    while received < 48 * MIB:
        fin, opcode, payload = ws.read_frame()
        if opcode == 8:
            break
        received += len(payload)
    assert received == 48 * MIB
    assert flood.wait_for("flooded")
    ws.shutdown()


def test_node_shutdown_closes_bridges_1001(tmp_path: Path) -> None:
    """Stopping the node closes each open bridge with 1001 (going away)."""
    echo = EchoServer()
    port = free_port()
    node = start_node(bridge_config(port, {"echo": bridge_path(tcp_target(echo.port))}), tmp_path / "node")
    try:
        ws = RawWebSocket(port, "/echo")
        ws.send(frame(2, b"up"))
        assert ws.read_data(2)[0] == b"up"
        node.signal(signal.SIGTERM)
        code, reason, _ = ws.read_close()
        assert (code, reason) == (1001, "node shutting down")
        ws.close(1001)
        assert echo.wait_for("eof")
        ws.shutdown()
    finally:
        node.stop()
        echo.stop()
