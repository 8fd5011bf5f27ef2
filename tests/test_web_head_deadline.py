"""`options.request_head_timeout` of web transports: a request head trickled in too slowly gets 408 and is closed."""
from __future__ import annotations

import socket
import time

import pytest

from conftest import free_port, router_config, start_node, tcp
from wsraw import RawWebSocket, frame


@pytest.fixture(scope="module")
def ports(tmp_path_factory):
    """One node: web and universal transports with request_head_timeout 1 s (client_timeout 60 s)."""
    web_port, universal_port = free_port(), free_port()
    paths = {"info": {"type": "nodeinfo"}, "ws": {"type": "websocket-testee"}}
    options = {"request_head_timeout": 1}
    config = router_config([
        {"type": "web", "endpoint": tcp(web_port), "paths": paths, "options": options},
        {"type": "universal", "endpoint": tcp(universal_port), "web": {"paths": paths, "options": options}},
    ])
    node = start_node(config, tmp_path_factory.mktemp("head-deadline"))
    yield {"web": web_port, "universal": universal_port}
    assert "Traceback" not in node.output()
    node.stop()


def trickle(port: int, head: bytes, every: float, limit: float = 6.0):
    """Send ``head`` a byte at a time; return (seconds until the node closed, what it answered)."""
    answer = b""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(every)
        for byte in head:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            try:
                chunk = sock.recv(4096)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            answer += chunk
            if not chunk:
                break
            if time.monotonic() - started > limit:
                break
        return time.monotonic() - started, answer


@pytest.mark.parametrize("kind", ["web", "universal"])
def test_trickled_request_head_gets_408_after_the_deadline(ports, kind):
    """A head sent one byte every 0.2 s is answered 408 and closed about 1 s after its first byte."""
    head = b"GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
    elapsed, answer = trickle(ports[kind], head, every=0.2)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer
    assert 0.8 < elapsed < 3, elapsed


def test_second_request_head_on_a_kept_alive_connection_has_its_own_deadline(ports):
    """A quick first request is answered; a slow second head on the same connection gets 408."""
    with socket.create_connection(("127.0.0.1", ports["web"])) as sock:
        sock.settimeout(5)
        # The behaviour under test: idle past the 1 s head deadline before the first request
        # (idle between requests is client_timeout's business, not the head deadline's).
        time.sleep(1.5)
        sock.sendall(b"GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first[:100]
        started = time.monotonic()
        sock.sendall(b"GET /info HTTP/1.1\r\n")
        answer = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        assert b"HTTP/1.1 408" in answer and 0.8 < time.monotonic() - started < 3


@pytest.mark.parametrize("kind", ["web", "universal"])
def test_open_websocket_outlives_the_head_deadline(ports, kind):
    """A WebSocket opened through a web path keeps working long after the head deadline passed."""
    ws = RawWebSocket(ports[kind], path="/ws")
    assert ws.status == 101
    time.sleep(1.5)  # the behaviour under test: idle past the 1 s head deadline, nothing to poll for
    ws.send(frame(1, b"still here"))
    assert ws.read_frame() == (True, 1, b"still here")
    ws.close()
    assert ws.read_close()[0] == 1000
