"""WebSocket transports under hostile peers: huge opening handshakes, invalid close frames, origins.

A real node, raw sockets (tests/wsraw.py) that send exactly the octets a test builds.
"""
from __future__ import annotations

import socket
import struct
import time
from typing import Optional

import pytest

from conftest import free_port, router_config, tcp
from wsraw import RawWebSocket, frame


def send_head(port: int, head: bytes, filler: int = 0, timeout: float = 10.0) -> bytes:
    """Send ``head`` (then ``filler`` more octets of one header, if the server still reads), and
    return the answer's head; b"" if the connection ended without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
        try:
            for _ in range(filler // len(line)):
                sock.sendall(line)
        except OSError:
            pass  # refused and closed: the answer may still be readable
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            pass
        return data


UPGRADE = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           b"Sec-WebSocket-Protocol: wamp.2.json\r\n")


@pytest.fixture
def ws_node(node_factory):
    """A websocket transport (port 0 of the tuple), a web transport with /ws, and a testee transport."""
    ports = free_port(), free_port(), free_port()
    node = node_factory(router_config([
        {"type": "websocket", "endpoint": tcp(ports[0])},
        {"type": "web", "endpoint": tcp(ports[1]), "paths": {"ws": {"type": "websocket"}}},
        {"type": "websocket.testee", "endpoint": tcp(ports[2])}]))
    return ports, node


def test_huge_opening_handshake_is_refused_with_431(ws_node):
    """10 MB of headers on a websocket (and testee) transport: 431 after 64 KiB, connection closed."""
    (ws, _, testee), node = ws_node
    for port in (ws, testee):
        started = time.monotonic()
        answer = send_head(port, UPGRADE, filler=10_000_000)
        assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), answer
        assert time.monotonic() - started < 8
    long_line = b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n"
    assert send_head(ws, long_line).startswith(b"HTTP/1.1 414 URI Too Long\r\n")
    assert send_head(ws, UPGRADE + b"X-Big: " + b"a" * 17000 + b"\r\n\r\n").startswith(b"HTTP/1.1 431 ")
    assert RawWebSocket(ws, "/", ["wamp.2.json"]).status == 101  # the node still serves
    assert "Refused a WebSocket opening handshake from tcp4:127.0.0.1:" in node.output()
    assert "request head over the limit (65536 octets, 16384 per line): 431" in node.output()


def test_max_request_head_option_of_a_websocket_transport(node_factory):
    """`max_request_head` 4096: a 5 KB handshake is refused, a small one still opens."""
    port = free_port()
    node_factory(router_config([{"type": "websocket", "endpoint": tcp(port),
                                 "options": {"max_request_head": 4096}}]))
    big = UPGRADE + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(5)) + b"\r\n"
    assert send_head(port, big).startswith(b"HTTP/1.1 431 ")
    assert RawWebSocket(port, "/", ["wamp.2.json"]).status == 101


def close_answer(port: int, path: str, payload: bytes) -> Optional[int]:
    """Open, send a close frame with ``payload``; the server's close code. Fails on a reset."""
    ws = RawWebSocket(port, path, ["wamp.2.json"])
    try:
        ws.send(frame(8, payload))
        code, _, _ = ws.read_close()
        assert ws.sock.recv(16) == b""  # then an orderly close (FIN), not a reset
        return code
    finally:
        ws.sock.close()


@pytest.mark.parametrize("payload, code", [(struct.pack("!H", 999), 1002), (b"\x03", 1002),
                                           (struct.pack("!H", 1004), 1002), (struct.pack("!H", 5000), 1002),
                                           (struct.pack("!H", 1000) + b"\xff", 1007)],
                         ids=["code-999", "1-octet", "code-1004", "code-5000", "reason-not-utf8"])
def test_invalid_close_frame_gets_a_close_frame_not_a_reset(ws_node, payload, code):
    """RFC 6455 7.4: an invalid close frame is answered with 1002 (1007: bad UTF-8) that reaches the peer."""
    (ws, web, testee), node = ws_node
    assert close_answer(ws, "/", payload) == code
    assert close_answer(web, "/ws", payload) == code
    assert close_answer(testee, "/", payload) == code
    assert "Traceback" not in node.output()


def test_valid_close_frames_are_still_echoed(ws_node):
    """A normal close (1000, 3000, no payload) still gets the normal answer."""
    (ws, _, _), _ = ws_node
    assert close_answer(ws, "/", struct.pack("!H", 1000)) == 1000
    assert close_answer(ws, "/", struct.pack("!H", 3000) + "bye ✓".encode()) == 1000
    assert close_answer(ws, "/", b"") == 1000


def handshake_status(port: int, path: str, origin: str, protocols=("wamp.2.json",)) -> int:
    ws = RawWebSocket(port, path, list(protocols), origin=origin)
    ws.sock.close()
    return ws.status


def test_allowed_origins_match_default_ports(tmp_path, node_factory):
    """`https://good.example` lets that origin in (autobahn compares it as https://good.example:443)."""
    ws, web = free_port(), free_port()
    options = {"allowed_origins": ["https://good.example", "http://plain.example", "https://*.wild.example"]}
    node_factory(router_config([
        {"type": "websocket", "endpoint": tcp(ws), "options": options},
        {"type": "web", "endpoint": tcp(web), "paths": {
            "ws": {"type": "websocket", "options": options},
            "bridge": {"type": "tcpbridge", "target": {"type": "tcp", "host": "127.0.0.1", "port": free_port()},
                       "allowed_origins": ["https://good.example"]}}}]))
    for port, path in ((ws, "/"), (web, "/ws")):
        assert handshake_status(port, path, "https://good.example") == 101
        assert handshake_status(port, path, "https://good.example:443") == 101
        assert handshake_status(port, path, "http://plain.example") == 101
        assert handshake_status(port, path, "https://a.wild.example") == 101
        for refused in ("https://evil.example", "https://good.example:8443", "http://good.example",
                        "https://good.example.evil.example"):
            assert handshake_status(port, path, refused) != 101, (path, refused)
    assert handshake_status(web, "/bridge", "https://good.example", ("binary",)) == 101
    assert handshake_status(web, "/bridge", "https://evil.example", ("binary",)) != 101
