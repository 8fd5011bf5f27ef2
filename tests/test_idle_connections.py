"""10,000 idle WAMP sessions held by one node, with the node's memory per session measured.

The clients are plain non-blocking sockets in this process: each sends the WebSocket
opening handshake and a HELLO in one write and waits for WELCOME, so opening them
costs the router, not the test. The test raises this process's open-files limit;
the node inherits it.
"""
from __future__ import annotations

import resource
import selectors
import socket
import time
from typing import Any, Dict, List

import psutil
import pytest
from conftest import free_port, router_config, tcp
from wampclient import connect, leave, run
from wsraw import frame

SESSIONS = 10_000
BATCH = 250

REQUEST = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           b"Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n")
HELLO = frame(1, b'[1,"realm1",{"roles":{"subscriber":{}}}]')


def raise_open_files_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft >= needed, f"open-files limit {soft} < {needed}: raise the hard limit (ulimit -Hn)"


def open_sessions(port: int, count: int) -> List[socket.socket]:
    """``count`` joined sessions, opened ``BATCH`` at a time."""
    sockets: List[socket.socket] = []
    selector = selectors.DefaultSelector()
    while len(sockets) < count:
        pending: Dict[socket.socket, bytes] = {}
        for _ in range(min(BATCH, count - len(sockets))):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(REQUEST + HELLO)
            sock.setblocking(False)
            pending[sock] = b""
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + 30
        while pending and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=1.0):
                sock = key.fileobj
                data = sock.recv(4096)
                assert data, "the node closed a connection while opening sessions"
                pending[sock] += data
                if b"\x81" in pending[sock] and b"[2," in pending[sock]:  # WELCOME arrived
                    del pending[sock]
                    selector.unregister(sock)
                    sockets.append(sock)
        assert not pending, f"{len(pending)} sessions got no WELCOME in time"
    selector.close()
    return sockets


@pytest.mark.slow  # 20-35 s on 2 cores, most of it the node accepting 10,000 sessions
def test_node_holds_ten_thousand_idle_sessions(node_factory: Any, record_property: Any) -> None:
    """The node holds 10,000 idle WebSocket sessions, still serves a new one, and its RSS per session is small."""
    raise_open_files_limit(SESSIONS + 1000)
    port = free_port()
    transport = {"type": "websocket", "endpoint": dict(tcp(port), backlog=1024)}
    node = node_factory(router_config([transport]))
    process = psutil.Process(node.proc.pid)
    before = process.memory_info().rss
    started = time.monotonic()
    sockets = open_sessions(port, SESSIONS)
    opened_in = time.monotonic() - started
    try:
        async def count() -> int:
            session = await connect(f"ws://127.0.0.1:{port}")
            n = await session.call("wamp.session.count")
            await leave(session)
            return n

        # A new session is served (the answer comes after the node handled everything
        # the 10,000 sent before): then the RSS they cost is measured.
        assert run(count()) >= SESSIONS
        after = process.memory_info().rss
        per_session = (after - before) / SESSIONS
        print(f"\n{SESSIONS} idle sessions opened in {opened_in:.1f} s; node RSS {before / 2**20:.0f} MiB "
              f"-> {after / 2**20:.0f} MiB, {per_session / 1024:.1f} KiB per session")
        record_property("kib_per_idle_session", round(per_session / 1024, 1))
        assert per_session < 40 * 1024
        assert node.proc.poll() is None
    finally:
        for sock in sockets:
            sock.close()
