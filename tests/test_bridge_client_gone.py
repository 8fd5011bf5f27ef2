"""A ``tcpbridge`` client that leaves while the target is still being connected: the dial is cancelled and the log says why."""
from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import List

import pytest

from bridgekit import bridge_config, bridge_path, tcp_target, wait_until
from conftest import free_port, start_node
from wsraw import RawWebSocket


class MuteTarget:
    """Accepts TCP connections, reads and discards, never answers (a TLS handshake there never completes)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self.closed = 0
        self.threads: List[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            thread = threading.Thread(target=self._drain, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _drain(self, conn: socket.socket) -> None:
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass
        finally:
            conn.close()
            self.closed += 1

    def stop(self) -> None:
        self.listener.close()


@pytest.fixture
def mute_bridge(tmp_path: Path):
    target = MuteTarget()
    port = free_port()
    paths = {"mute": bridge_path(tcp_target(target.port, tls={}), connect_timeout=30)}
    node = start_node(bridge_config(port, paths), tmp_path / "node")
    yield port, target, node
    node.stop()
    target.stop()


@pytest.mark.parametrize("goodbye", ["close frame", "tcp close"])
def test_client_leaving_while_connecting_cancels_the_dial(mute_bridge, goodbye: str) -> None:
    """The target connection is dropped within a second and the log says the client went away, not that the target timed out."""
    port, target, node = mute_bridge
    ws = RawWebSocket(port, "/mute")
    assert ws.status == 101
    assert wait_until(lambda: target.accepted == 1, 5), "the bridge never dialled the target"
    if goodbye == "close frame":
        ws.close(1000)
    ws.shutdown()
    assert wait_until(lambda: target.closed == 1, 3), "the pending target connection was not cancelled"
    assert wait_until(lambda: "went away" in node.output(), 3), node.output()
    log = node.output()
    line = next(line for line in log.splitlines() if "went away" in line)
    assert f"-> tls 127.0.0.1:{target.port}" in line, line
    assert "no connection within" not in log, log
    assert "Traceback" not in log, log


@pytest.fixture
def unanswered_bridge(tmp_path: Path):
    """A bridge to a TCP target whose accept queue is full, so the bridge's TCP connect stays pending."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    queued = []
    for _ in range(4):  # fill the accept queue (Linux holds backlog + 1); further SYNs get no answer
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(listener.getsockname())
        queued.append(s)
    port = free_port()
    paths = {"pending": bridge_path(tcp_target(listener.getsockname()[1]), connect_timeout=30)}
    node = start_node(bridge_config(port, paths), tmp_path / "node")
    yield port, node
    node.stop()
    for s in queued:
        s.close()
    listener.close()


def test_client_leaving_while_tcp_connect_is_pending_cancels_the_dial(unanswered_bridge) -> None:
    """Cancelling a TCP connect still in progress (Twisted reports ConnectingCancelledError) is a cancellation
    like any other: the log says the client went away, not that the target could not be connected."""
    port, node = unanswered_bridge
    ws = RawWebSocket(port, "/pending")
    assert ws.status == 101
    ws.close(1000)
    ws.shutdown()
    assert wait_until(lambda: "went away while the target was being connected" in node.output(), 5), node.output()
    assert "cannot connect" not in node.output(), node.output()
