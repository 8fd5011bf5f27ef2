"""WebSocket timeouts fall due when configured, never before (node.fastpath.timeouts).

autobahn's own timer filed each timeout under the whole second before its deadline:
a 1 s closing-handshake timeout fell due anywhere from microseconds to 1 s after the
close frame, and a client that sent HELLO to a missing realm now and then got a TCP
reset instead of its ABORT (one CI failure in a few hundred runs).
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from conftest import free_port, router_config, tcp
from wsraw import RawWebSocket, frame

HERE = Path(__file__).resolve().parent
TEXT, CLOSE, PING = 1, 8, 9
BUCKET = 0.1  # node.fastpath.timeouts.BUCKET (importing it would choose Twisted for this process)


def seconds_until_dropped(ws: RawWebSocket, seen: Callable[[int], bool]) -> float:
    """Read frames until one ``seen(opcode)`` says True, then how long the node took to end
    the connection after that frame (the client neither answers nor closes)."""
    while True:
        _, opcode, _ = ws.read_frame()
        if seen(opcode):
            break
    start = time.monotonic()
    ws.sock.settimeout(10)
    try:
        while ws.sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def test_closing_handshake_timeout_falls_due_when_configured(node_factory: Any) -> None:
    """After the node's close frame (ABORT no_such_realm, then close), a client that never
    answers is dropped ``close_handshake_timeout`` later, not earlier (the old timer cut
    each short by a part of a second: all three lasting 0.98 s had a chance of 1 in 10^5)."""
    port = free_port()
    node_factory(router_config([{"type": "websocket", "endpoint": tcp(port),
                                 "options": {"close_handshake_timeout": 1000}}]))
    waits = []
    for _ in range(3):
        ws = RawWebSocket(port, protocols=["wamp.2.json"])
        ws.send(frame(TEXT, b'[1, "no.such.realm", {"roles": {"caller": {}}}]'))
        waits.append(seconds_until_dropped(ws, lambda opcode: opcode == CLOSE))
        ws.shutdown()
    assert all(0.98 <= wait <= 1.0 + BUCKET + 0.5 for wait in waits), waits


def test_auto_ping_timeout_falls_due_when_configured(node_factory: Any) -> None:
    """A client that never answers the node's ping is dropped ``auto_ping_timeout`` after it."""
    port = free_port()
    node_factory(router_config([{"type": "websocket", "endpoint": tcp(port),
                                 "options": {"auto_ping_interval": 300, "auto_ping_timeout": 1000}}]))
    waits = []
    for _ in range(3):
        ws = RawWebSocket(port, protocols=["wamp.2.json"])
        waits.append(seconds_until_dropped(ws, lambda opcode: opcode == PING))
        ws.shutdown()
    assert all(0.98 <= wait <= 1.0 + BUCKET + 0.5 for wait in waits), waits


def test_abort_reaches_a_client_every_time(node_factory: Any) -> None:
    """200 HELLOs to a missing realm each get their ABORT and close frame, never a reset,
    with the shortest closing-handshake timeout there is."""
    port = free_port()
    node_factory(router_config([{"type": "websocket", "endpoint": tcp(port),
                                 "options": {"close_handshake_timeout": 1}}]))
    for _ in range(200):
        ws = RawWebSocket(port, protocols=["wamp.2.json"])
        ws.send(frame(TEXT, b'[1, "no.such.realm", {"roles": {"caller": {}}}]'))
        code, _, frames = ws.read_close()
        assert code == 1000 and b"wamp.error.no_such_realm" in frames[0][2], (code, frames)
        ws.shutdown()


@pytest.mark.parametrize("check", ["rounded_up_timer_never_runs_a_call_early",
                                   "rounded_up_timer_runs_a_crowded_bucket_over_several_turns"])
def test_rounded_up_timer(check: str) -> None:
    """The timer's contract, on a Twisted clock (in a process of its own: this one chose asyncio)."""
    result = subprocess.run([sys.executable, str(HERE / "twisted_checks.py"), check],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stderr[-3000:]
