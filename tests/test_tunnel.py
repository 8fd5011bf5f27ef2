"""``wampnode tunnel`` against real processes: our bridge, a real Squid, a redirecting server.

Each tunnel is a ``python -m node tunnel`` process; the node, the echo server,
Squid (Debian package, started per test with its own directory) and the HTTP
server that redirects are processes too. Everything listens on 127.0.0.1.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import pytest

from bridgekit import (
    EchoServer,
    TunnelProcess,
    bridge_config,
    bridge_path,
    run_stdio_tunnel,
    tcp_target,
    tunnel_env,
    wait_until,
)
from conftest import REPO, free_port, start_node
from pki import make_pki
from squid import Squid


SMALL_LIMIT = 4096  # a tcpbridge path's max_message_size, far below the tunnel's own 65536


@pytest.fixture(scope="module")
def plain_node(tmp_path_factory: Any) -> Iterator[Any]:
    """A node on ws:// with a bridge to an echo server."""
    echo = EchoServer()
    port = free_port()
    node = start_node(bridge_config(port, {"echo": bridge_path(tcp_target(echo.port))}),
                      tmp_path_factory.mktemp("plain") / "node")
    yield port, node
    node.stop()
    echo.stop()


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: Any) -> Iterator[Any]:
    """A node on wss:// (certificate from a test CA) with a bridge to an echo server."""
    directory = tmp_path_factory.mktemp("tls")
    pki = make_pki(directory / "pki")
    echo = EchoServer()
    port = free_port()
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.leaf_crt),
           "chain_certificates": [str(pki.intermediate_crt)]}
    paths = {"echo": bridge_path(tcp_target(echo.port)),
             "small": bridge_path(tcp_target(echo.port), max_message_size=SMALL_LIMIT)}
    node = start_node(bridge_config(port, paths, tls=tls), directory / "node")
    yield port, pki, node
    node.stop()
    echo.stop()


@pytest.fixture
def tunnels() -> Iterator[Any]:
    started = []

    def start(url: str, *args: str, env: Optional[Dict[str, str]] = None) -> TunnelProcess:
        tunnel = TunnelProcess(url, *args, env=env)
        started.append(tunnel)
        return tunnel

    yield start
    for tunnel in started:
        tunnel.stop()


@pytest.fixture
def squids() -> Iterator[Any]:
    started = []

    def start(connect_ports: Any, user: Optional[str] = None, password: Optional[str] = None) -> Squid:
        squid = Squid(free_port(), connect_ports, user, password)
        started.append(squid)
        return squid

    yield start
    for squid in started:
        squid.stop()


def one_line(stderr: bytes) -> str:
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {lines}"
    return lines[0]


@pytest.mark.parametrize("use_base64", [False, True], ids=["binary", "base64"])
def test_local_port_through_our_bridge(plain_node: Any, tunnels: Any, use_base64: bool) -> None:
    """A local TCP connection is carried over the bridge and back, in binary or base64 frames."""
    port, node = plain_node
    tunnel = tunnels(f"ws://127.0.0.1:{port}/echo", *(["--base64"] if use_base64 else []))
    data = os.urandom(2 * 1024 * 1024)
    assert hashlib.sha256(tunnel.exchange(data)).digest() == hashlib.sha256(data).digest()
    if use_base64:
        assert wait_until(lambda: "open (base64)" in node.output())


def test_stdio_mode_for_ssh_proxycommand(plain_node: Any) -> None:
    """--stdio carries stdin to the bridge and the answer to stdout, and exits 0 at end of input."""
    port, _ = plain_node
    proc = subprocess.Popen([sys.executable, "-m", "node", "tunnel", "--stdio", f"ws://127.0.0.1:{port}/echo"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tunnel_env())
    try:
        proc.stdin.write(b"SSH-2.0-test\r\n")
        proc.stdin.flush()
        assert proc.stdout.read(14) == b"SSH-2.0-test\r\n"
        proc.stdin.close()
        assert proc.wait(15) == 0
        assert proc.stderr.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_wss_through_squid_with_cafile(tls_node: Any, squids: Any, tunnels: Any) -> None:
    """Through a real Squid (CONNECT), TLS to the node verifies its name and test CA, and data flows."""
    port, pki, _ = tls_node
    squid = squids([port])
    tunnel = tunnels(f"wss://localhost:{port}/echo", "--proxy", squid.url, "--cafile", str(pki.root_crt))
    assert tunnel.exchange(b"through squid" * 1000) == b"through squid" * 1000
    assert wait_until(lambda: f"CONNECT localhost:{port}" in squid.access_log())


def test_https_proxy_from_environment_with_basic_auth(tls_node: Any, squids: Any, tunnels: Any) -> None:
    """HTTPS_PROXY with user:password is used without --proxy, and Squid sees the authenticated user."""
    port, pki, _ = tls_node
    squid = squids([port], user="alice", password="s3cr:t")
    proxy = f"http://alice:s3cr%3At@127.0.0.1:{squid.port}"
    tunnel = tunnels(f"wss://127.0.0.1:{port}/echo", "--cafile", str(pki.root_crt), env={"HTTPS_PROXY": proxy})
    assert tunnel.exchange(b"authenticated") == b"authenticated"
    assert wait_until(lambda: " alice " in squid.access_log())


def test_no_proxy_skips_the_proxy(tls_node: Any) -> None:
    """A host matched by NO_PROXY is reached directly even when HTTPS_PROXY names a dead proxy."""
    port, pki, _ = tls_node
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    result = run_stdio_tunnel(f"wss://localhost:{port}/echo", "--cafile", str(pki.root_crt),
                              env={"HTTPS_PROXY": dead_proxy, "NO_PROXY": "example.org,localhost"})
    assert result.returncode == 0, result.stderr
    result = run_stdio_tunnel(f"wss://localhost:{port}/echo", "--cafile", str(pki.root_crt),
                              env={"HTTPS_PROXY": dead_proxy})
    assert result.returncode == 1
    assert f"proxy {dead_proxy}: cannot connect: connection refused" in one_line(result.stderr)


def test_proxy_refusing_connect_gives_one_line_naming_proxy_and_status(tls_node: Any, squids: Any) -> None:
    """A proxy answering 403 to CONNECT makes the tunnel fail with one line naming the proxy and the status."""
    port, pki, _ = tls_node
    squid = squids([port + 1 if port < 65535 else port - 1])
    result = run_stdio_tunnel(f"wss://localhost:{port}/echo", "--proxy", squid.url, "--cafile", str(pki.root_crt))
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith(f"proxy {squid.url}: refused CONNECT to localhost:{port}: HTTP/1.1 403 Forbidden")
    assert result.stdout == b""


def test_proxy_wanting_credentials_says_407(tls_node: Any, squids: Any) -> None:
    """A proxy that requires authentication, asked without credentials, fails with its 407 and the fix."""
    port, pki, _ = tls_node
    squid = squids([port], user="alice", password="secret")
    result = run_stdio_tunnel(f"wss://localhost:{port}/echo", "--proxy", squid.url, "--cafile", str(pki.root_crt))
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "407 Proxy Authentication Required" in line and "user:password@" in line


def test_redirect_is_refused_and_not_followed(tmp_path: Path) -> None:
    """A 301 answer to the WebSocket upgrade is an error saying redirects are not followed; no second request."""
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "http_answer.py"), "301",
                             "ws://127.0.0.1:1/moved"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split()[1])
        result = run_stdio_tunnel(f"ws://127.0.0.1:{port}/old")
        assert result.returncode == 1
        line = one_line(result.stderr)
        assert "answered HTTP/1.1 301 Moved Permanently (a redirect to ws://127.0.0.1:1/moved)" in line
        assert "never follows redirects" in line
    finally:
        proc.kill()
        out, _ = proc.communicate(timeout=5)
    assert out.count("request ") == 1


def test_other_status_is_an_error_naming_it(plain_node: Any) -> None:
    """Any non-101 answer (here 404 for a path that does not exist) names the status."""
    port, _ = plain_node
    result = run_stdio_tunnel(f"ws://127.0.0.1:{port}/nothing-here")
    assert result.returncode == 1
    assert "answered HTTP/1.1 404 Not Found instead of 101 Switching Protocols" in one_line(result.stderr)


def test_default_trust_refuses_the_test_ca_with_diagnosis(tls_node: Any) -> None:
    """Without --cafile the node's test CA is not trusted; the one-line error names the missing CA and the fix."""
    port, _, _ = tls_node
    result = run_stdio_tunnel(f"wss://localhost:{port}/echo")
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert line.startswith(f"TLS to localhost:{port}: certificate not trusted")
    assert "missing issuer 'CN=wampnode test root CA,O=wampnode tests' (AKID " in line
    assert line.endswith("to --cafile, a PEM file")


def test_pinned_key_is_accepted_and_another_refused(tls_node: Any) -> None:
    """--pin-sha256 with the server's SPKI hash connects without any CA; another pin is refused."""
    from cryptography import x509

    from node.tls.certinfo import spki_sha256

    port, pki, _ = tls_node
    pin = spki_sha256(x509.load_pem_x509_certificate(pki.leaf_crt.read_bytes()))
    assert run_stdio_tunnel(f"wss://localhost:{port}/echo", "--pin-sha256", pin).returncode == 0
    other = base64.b64encode(b"\1" * 32).decode()
    result = run_stdio_tunnel(f"wss://localhost:{port}/echo", "--pin-sha256", other)
    assert result.returncode == 1
    assert f"the server's key (pin_sha256 {pin}) matches no pin" in one_line(result.stderr)


def test_listen_mode_reports_each_failure_and_keeps_serving(tunnels: Any) -> None:
    """With --listen, a connection whose WebSocket cannot open is closed and logged in one line; the tunnel stays up."""
    import socket

    dead = free_port()
    tunnel = tunnels(f"ws://127.0.0.1:{dead}/x")
    for attempt in (1, 2):
        with socket.create_connection(("127.0.0.1", tunnel.port), timeout=10) as s:
            s.sendall(b"hello")
            assert s.recv(10) == b""  # closed without data
        expected = f"127.0.0.1:{dead}: cannot connect: connection refused"
        assert wait_until(lambda: tunnel.output().count(expected) == attempt)
    assert tunnel.proc.poll() is None
    assert "[error] " + expected in tunnel.output()


def test_local_client_leaving_while_websocket_opens_cancels_the_opening(tunnels: Any) -> None:
    """A local client that resets its connection while the tunnel's WebSocket is still opening (a server
    that never answers the upgrade) gets the opening cancelled at once and logged, not finished for nobody.
    (A FIN alone is a half-close: what was sent is still delivered once the WebSocket opens.)"""
    import socket
    import struct
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    try:
        tunnel = tunnels(f"ws://127.0.0.1:{silent.getsockname()[1]}/x", "--connect-timeout", "30",
                         "--loglevel", "info")
        with socket.create_connection(("127.0.0.1", tunnel.port), timeout=10) as local:
            local.sendall(b"hello")
            silent.settimeout(10)
            upstream, _ = silent.accept()  # the tunnel's WebSocket connection, never answered
            local.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        started = time.monotonic()
        upstream.settimeout(10)
        try:
            while upstream.recv(4096):  # the upgrade request, then the close
                pass
        except ConnectionResetError:
            pass
        assert time.monotonic() - started < 3
        upstream.close()
        assert wait_until(lambda: "the local client went away while the WebSocket" in tunnel.output())
        assert tunnel.proc.poll() is None and "Traceback" not in tunnel.output()
    finally:
        silent.close()


@pytest.mark.parametrize("use_base64", [False, True], ids=["binary", "base64"])
def test_through_squid_to_a_bridge_with_a_small_message_limit(tls_node: Any, squids: Any, tunnels: Any,
                                                               use_base64: bool) -> None:
    """1 MB goes tunnel -> Squid -> a bridge whose max_message_size is 4096 and comes back intact: the tunnel
    sends messages no larger than what every peer accepts (1500 octets), not as large as its own limit."""
    port, pki, node = tls_node
    squid = squids([port])
    tunnel = tunnels(f"wss://localhost:{port}/small", "--proxy", squid.url, "--cafile", str(pki.root_crt),
                     *(["--base64"] if use_base64 else []))
    data = os.urandom(1000 * 1000)
    echoed = tunnel.exchange(data)
    assert len(echoed) == len(data), f"{len(echoed)} octets came back:\n{tunnel.output()}"
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(data).digest()
    for output in (tunnel.output(), node.output()):  # no close 1009 either way (a port such as 51009 is no code)
        assert not re.search(r"(?<!\d)1009(?!\d)", output) and "exceeds payload limit" not in output, output


def test_a_received_close_is_logged_with_code_and_reason(tls_node: Any, tunnels: Any) -> None:
    """A tunnel told to send 64 KiB messages to a bridge that takes 4096 gets closed 1009; its log says so,
    with the bridge's reason, instead of only a short octet count."""
    import socket

    port, pki, _ = tls_node
    tunnel = tunnels(f"wss://localhost:{port}/small", "--cafile", str(pki.root_crt), "--send-message-size", "65536")
    with socket.create_connection(("127.0.0.1", tunnel.port), timeout=10) as s:
        s.sendall(os.urandom(65536))
        assert s.recv(65536) == b""  # closed, nothing echoed
    expected = f" -> wss://localhost:{port}/small: the server closed the WebSocket with code 1009, " \
               f"reason \"received WebSocket"
    assert wait_until(lambda: expected in tunnel.output()), tunnel.output()
    line = next(line for line in tunnel.output().splitlines() if expected in line)
    assert "[warn] Tunnel 127.0.0.1:" in line and "exceeds payload limit of 4096 octets" in line


def test_send_message_size_below_1500_is_refused() -> None:
    """--send-message-size below what every peer accepts is a one-line error naming the option."""
    result = run_stdio_tunnel("ws://127.0.0.1:1/x", "--send-message-size", "1000")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith("--send-message-size: 1000 is not between 1500 and 16777216")


def test_local_client_leaving_while_tcp_connect_is_pending_is_no_error(tunnels: Any) -> None:
    """A local client that resets while the tunnel's TCP connect is still pending (the server's accept queue is
    full, so its SYNs go unanswered) is logged as gone: cancelling there is no connection error."""
    import socket
    import struct

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    queued = []
    try:
        for _ in range(4):  # fill the accept queue (Linux holds backlog + 1)
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(listener.getsockname())
            queued.append(s)
        tunnel = tunnels(f"ws://127.0.0.1:{listener.getsockname()[1]}/x", "--connect-timeout", "30")
        with socket.create_connection(("127.0.0.1", tunnel.port), timeout=10) as local:
            local.sendall(b"hello")
            local.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        assert wait_until(lambda: "the local client went away while the WebSocket" in tunnel.output())
        assert "[error]" not in tunnel.output(), tunnel.output()
    finally:
        for s in queued:
            s.close()
        listener.close()
