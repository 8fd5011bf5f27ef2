"""Interop with websockify (Debian package), the reference WebSocket-to-TCP bridge.

Both directions: ``wampnode tunnel`` against a websockify server, and
websockify's own client (``websockify.websocket.WebSocket``, run by websockify's
interpreter) against our ``tcpbridge`` path.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from bridgekit import EchoServer, TunnelProcess, bridge_config, bridge_path, tcp_target, wait_until
from conftest import free_port, start_node
from pki import make_pki


def websockify_python() -> str:
    """The interpreter of the installed ``websockify`` script (its shebang)."""
    script = shutil.which("websockify")
    if script is None:
        raise AssertionError("websockify is not installed: run tests/run.sh (it installs tests/apt-packages.txt)")
    first = Path(script).read_text(errors="replace").splitlines()[0]
    return first[2:].strip().split()[0]


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.stop()


@pytest.fixture
def websockify_server(echo: EchoServer, tmp_path: Path) -> Iterator[Any]:
    """``websockify 127.0.0.1:PORT 127.0.0.1:ECHO`` with a test-CA certificate (ws and wss on one port).

    ``--record`` writes each message a client sends to ``tmp_path/record.N`` (N per connection)."""
    pki = make_pki(tmp_path / "pki")
    port = free_port()
    log = open(tmp_path / "websockify.log", "w")
    proc = subprocess.Popen(["websockify", "--cert", str(pki.chain_crt), "--key", str(pki.leaf_key),
                             "--record", str(tmp_path / "record"),
                             f"127.0.0.1:{port}", f"127.0.0.1:{echo.port}"], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    import socket

    def ready() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False

    assert wait_until(ready), (tmp_path / "websockify.log").read_text()
    yield port, pki
    proc.kill()
    proc.wait(5)


@pytest.fixture
def tunnels() -> Iterator[Any]:
    started: List[TunnelProcess] = []

    def start(*args: str) -> TunnelProcess:
        tunnel = TunnelProcess(*args)
        started.append(tunnel)
        return tunnel

    yield start
    for tunnel in started:
        tunnel.stop()


def test_our_tunnel_against_websockify_ws(websockify_server: Any, tunnels: Any) -> None:
    """wampnode tunnel carries 1 MiB through a websockify server (binary frames) and back."""
    port, _ = websockify_server
    tunnel = tunnels(f"ws://127.0.0.1:{port}/")
    data = os.urandom(1024 * 1024)
    assert hashlib.sha256(tunnel.exchange(data)).digest() == hashlib.sha256(data).digest()


def recorded_client_messages(record: Path) -> List[bytes]:
    """The client's messages from a websockify ``--record`` file (lines ``'}MS}ESCAPED',``)."""
    messages = []
    for line in record.read_text(encoding="ascii").splitlines():
        if line.startswith("'}") and line.endswith("',"):  # a complete line
            escaped = line[2:].split("}", 1)[1][:-2]
            messages.append(escaped.encode("ascii").decode("unicode_escape").encode("latin-1"))
    return messages


def test_our_tunnel_through_squid_to_websockify_sends_1500_octet_messages(websockify_server: Any, tunnels: Any,
                                                                           tmp_path: Path) -> None:
    """tunnel -> Squid -> websockify: 1 MB comes back intact, and every message websockify received from the
    tunnel carried at most 1500 octets (what every server must accept), not the tunnel's 64 KiB limit."""
    from squid import Squid

    port, _ = websockify_server
    squid = Squid(free_port(), [port])
    try:
        tunnel = tunnels(f"ws://127.0.0.1:{port}/", "--proxy", squid.url)
        data = os.urandom(1000 * 1000)
        assert hashlib.sha256(tunnel.exchange(data)).digest() == hashlib.sha256(data).digest()
        assert wait_until(lambda: f"CONNECT 127.0.0.1:{port}" in squid.access_log())
    finally:
        squid.stop()
    records = list(tmp_path.glob("record.*"))
    assert len(records) == 1
    # websockify's handler writes the file as messages come; wait until all of them are in
    assert wait_until(lambda: sum(map(len, recorded_client_messages(records[0]))) >= len(data))
    messages = recorded_client_messages(records[0])
    assert b"".join(messages) == data
    assert max(len(m) for m in messages) <= 1500


def test_our_tunnel_against_websockify_wss(websockify_server: Any, tunnels: Any) -> None:
    """Over wss, the tunnel verifies websockify's certificate with --cafile and carries data."""
    port, pki = websockify_server
    tunnel = tunnels(f"wss://localhost:{port}/", "--cafile", str(pki.root_crt))
    assert tunnel.exchange(b"tls to websockify") == b"tls to websockify"


def test_base64_offer_falls_back_to_binary_with_websockify(websockify_server: Any, tunnels: Any) -> None:
    """websockify (0.10+) speaks binary only: a --base64 tunnel (offering base64, binary) says so and uses binary."""
    port, _ = websockify_server
    tunnel = tunnels(f"ws://127.0.0.1:{port}/", "--base64")
    assert tunnel.exchange(b"fallback") == b"fallback"
    assert wait_until(lambda: "did not accept the base64 subprotocol; using binary frames" in tunnel.output())


WEBSOCKIFY_CLIENT = textwrap.dedent("""
    import os, sys
    from websockify.websocket import WebSocket, WebSocketWantReadError, WebSocketWantWriteError

    class Client(WebSocket):
        def _sendmsg(self, opcode, msg):
            # websockify 0.10 (Debian 12) builds the client mask as bytes += int and
            # fails; the same call with a proper 4-octet mask
            return self._send(self._encode_hybi(opcode, msg, os.urandom(4)))

    url, protocols = sys.argv[1], sys.argv[2:]
    ws = Client()
    ws.connect(url, protocols=protocols)
    print("protocol", ws.protocol, flush=True)
    data = os.urandom(200000)
    chunks = [data[i:i + 50000] for i in range(0, len(data), 50000)]
    for chunk in chunks:
        while True:  # socket-like API: "call again with the same arguments"
            try:
                ws.sendmsg(chunk)
                break
            except WebSocketWantWriteError:
                continue
    received = b""
    while len(received) < len(data):
        try:
            message = ws.recvmsg()
        except WebSocketWantReadError:
            continue
        if message is None:
            break
        received += message
    print("echo", "ok" if received == data else "MISMATCH", len(received), flush=True)
    ws.shutdown(1000)
""")


@pytest.mark.parametrize("protocols", [[], ["binary"]], ids=["no-subprotocol", "binary"])
def test_websockify_client_against_our_bridge(tmp_path: Path, echo: EchoServer, protocols: List[str]) -> None:
    """websockify's WebSocket client sends 200 kB through our tcpbridge and reads the echo back."""
    port = free_port()
    node = start_node(bridge_config(port, {"tcp": bridge_path(tcp_target(echo.port))}), tmp_path / "node")
    try:
        script = tmp_path / "client.py"
        script.write_text(WEBSOCKIFY_CLIENT)
        result = subprocess.run([websockify_python(), str(script), f"ws://127.0.0.1:{port}/tcp", *protocols],
                                capture_output=True, text=True, timeout=30)
    finally:
        node.stop()
    assert result.returncode == 0, result.stderr
    assert f"protocol {protocols[0] if protocols else None}" in result.stdout
    assert "echo ok 200000" in result.stdout
