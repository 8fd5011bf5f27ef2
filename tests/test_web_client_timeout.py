"""`options.client_timeout` of web transports (and of a universal transport's web part): idle HTTP clients are closed."""
from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from conftest import free_port, router_config, start_node, tcp
from node.config import load_config
from node.errors import ConfigErrors
from wsraw import RawWebSocket, frame

HALF_HEAD = b"GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\n"  # no blank line: the head never ends


@pytest.fixture(scope="module")
def ports(tmp_path_factory):
    """One node: a web transport and a universal transport, each with client_timeout 1 s."""
    web_port, universal_port = free_port(), free_port()
    paths = {"info": {"type": "nodeinfo"}, "ws": {"type": "websocket"}}
    config = router_config([
        {"type": "web", "endpoint": tcp(web_port), "paths": paths, "options": {"client_timeout": 1}},
        {"type": "universal", "endpoint": tcp(universal_port),
         "web": {"paths": paths, "options": {"client_timeout": 1}}},
    ])
    node = start_node(config, tmp_path_factory.mktemp("client-timeout"))
    yield {"web": web_port, "universal": universal_port}
    node.stop()


def seconds_until_closed(sock: socket.socket, limit: float = 10.0) -> float:
    """Time until the node closes ``sock`` (EOF or reset); fails after ``limit`` seconds."""
    started = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


@pytest.mark.parametrize("kind", ["web", "universal"])
def test_half_a_request_head_is_closed_after_client_timeout(ports, kind):
    """A client that sends half a request head and then nothing is disconnected after client_timeout (1 s)."""
    with socket.create_connection(("127.0.0.1", ports[kind])) as sock:
        sock.sendall(HALF_HEAD)
        elapsed = seconds_until_closed(sock)
    assert 0.8 < elapsed < 3, elapsed


@pytest.mark.parametrize("kind", ["web", "universal"])
def test_idle_keep_alive_connection_is_closed_after_client_timeout(ports, kind):
    """After a complete response, a kept-alive connection idle for client_timeout is closed."""
    with socket.create_connection(("127.0.0.1", ports[kind])) as sock:
        sock.sendall(b"GET /info HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        assert 0.5 < seconds_until_closed(sock) < 3


@pytest.mark.parametrize("kind", ["web", "universal"])
def test_open_websocket_outlives_client_timeout(ports, kind):
    """client_timeout bounds HTTP only: an open WebSocket idle for twice as long still answers a ping."""
    ws = RawWebSocket(ports[kind], "/ws", protocols=["wamp.2.json"])
    assert ws.status == 101
    time.sleep(2)  # the behaviour under test: idle for twice client_timeout, nothing to poll for
    ws.send(frame(9, b"still there?"))
    _, opcode, payload = ws.read_frame()
    assert (opcode, payload) == (10, b"still there?")
    ws.shutdown()


def write(tmp_path: Path, options: dict) -> str:
    config = router_config([{"type": "web", "endpoint": tcp(8080), "paths": {"info": {"type": "nodeinfo"}},
                             "options": options}])
    (tmp_path / "config.json").write_text(json.dumps(config))
    return str(tmp_path)


def test_client_timeout_schema_follows_crossbar(tmp_path):
    """client_timeout is whole seconds from 1 to 86400, or null for none (Crossbar.io's rule); the default is 60."""
    assert load_config(write(tmp_path, {}), environ={}).transports[0].web.options.client_timeout == 60
    assert load_config(write(tmp_path, {"client_timeout": None}), environ={}).transports[0].web.options.client_timeout is None
    assert load_config(write(tmp_path, {"client_timeout": 86400}), environ={})
    for bad in (0, 86401, 1.5, "10"):
        with pytest.raises(ConfigErrors) as info:
            load_config(write(tmp_path, {"client_timeout": bad}), environ={})
        (error,) = info.value.errors
        assert "workers[0].transports[0].options.client_timeout" in error.line(), error.line()
