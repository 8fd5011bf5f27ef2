"""sd_notify as systemd sees it: a unix datagram socket bound by the test (no systemd needed)."""
from __future__ import annotations

import os
import signal
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from conftest import RunningNode, free_port, router_config, start_node, tcp
from pki import issue, make_pki

from node.process.systemd import Notifier


class NotifySocket:
    """What systemd binds for a ``Type=notify`` service: one datagram per state change."""

    def __init__(self, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"wampnode-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
            self.directory: Optional[str] = None
        else:  # a short directory: socket paths are limited to 107 bytes
            self.directory = tempfile.mkdtemp(prefix="sdn-", dir="/tmp")
            self.address = os.path.join(self.directory, "notify")
            self.sock.bind(self.address)
        self.messages: List[Dict[str, str]] = []

    def env(self, **extra: str) -> Dict[str, str]:
        return {"NOTIFY_SOCKET": self.address, **extra}

    def receive(self, timeout: float) -> Optional[Dict[str, str]]:
        """The next datagram as ``{"READY": "1", "STATUS": ...}``, or None after ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        self.messages.append(fields)
        return fields

    def wait_for(self, key: str, node: Optional[RunningNode] = None, timeout: float = 30.0) -> Dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fields = self.receive(max(0.01, deadline - time.monotonic()))
            if fields is not None and key in fields:
                return fields
        log = node.output() if node is not None else ""
        raise AssertionError(f"no {key} within {timeout} s; received {self.messages}\n{log}")

    def drain(self, seconds: float) -> List[Dict[str, str]]:
        """Everything that arrives within ``seconds``."""
        got = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            fields = self.receive(max(0.01, deadline - time.monotonic()))
            if fields is not None:
                got.append(fields)
        return got

    def close(self) -> None:
        self.sock.close()
        if self.directory:
            os.unlink(self.address)
            os.rmdir(self.directory)


@pytest.fixture
def notify_socket():
    sock = NotifySocket()
    yield sock
    sock.close()


def connects(address: object, family: int = socket.AF_INET) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(address)
            return True
        except OSError:
            return False


def three_transports(tmp_path: Path) -> tuple:
    web, raw = free_port(), free_port()
    sock_path = str(tmp_path / "node.sock")
    config = router_config([
        {"type": "web", "endpoint": tcp(web), "paths": {"info": {"type": "nodeinfo"}}},
        {"type": "rawsocket", "endpoint": tcp(raw)},
        {"type": "websocket", "endpoint": {"type": "unix", "path": sock_path}},
    ])
    return config, web, raw, sock_path


def test_ready_only_after_every_transport_accepts(tmp_path, notify_socket):
    """READY=1 (with STATUS and MAINPID) arrives when TCP and unix transports already accept connections."""
    config, web, raw, sock_path = three_transports(tmp_path)
    node = start_node(config, tmp_path / "node", env=notify_socket.env(), wait=False)
    try:
        ready = notify_socket.wait_for("READY", node)
        assert connects(("127.0.0.1", web)) and connects(("127.0.0.1", raw))
        assert connects(sock_path, socket.AF_UNIX)
        assert ready["READY"] == "1"
        assert ready["MAINPID"] == str(node.proc.pid)
        assert ready["STATUS"] == "3 transport(s) listening, 1 realm(s)"
        assert node.output().count("Listening:") == 3
        assert [m for m in notify_socket.messages if "READY" in m] == [ready]
    finally:
        node.stop()


def test_ready_only_after_router_components_joined(tmp_path, notify_socket):
    """A router component whose onJoin takes a second: READY=1 comes after it, when the
    procedure it registers at the end of onJoin already answers; one that fails stops the
    start without READY=1."""
    from test_router_components import backend, component_config
    from wampclient import connect, leave, run

    port = free_port()
    config = component_config(port, backend(classname="rc_app.SlowJoin"))
    node = start_node(config, tmp_path / "node", env=notify_socket.env(), wait=False)
    try:
        ready = notify_socket.wait_for("READY", node)
        assert ready["READY"] == "1"

        async def slow_answers() -> str:
            client = await connect(f"ws://127.0.0.1:{port}/")
            try:
                return await client.call("com.test.slow")
            finally:
                await leave(client)

        assert run(slow_answers()) == "slow but there"
        assert "joined realm realm1" in node.output()
    finally:
        node.stop()
    failing = start_node(component_config(free_port(), backend(classname="rc_app.FailingJoin")),
                         tmp_path / "failing", env=notify_socket.env(), wait=False)
    assert failing.proc.wait(30) == 1
    assert not any("READY" in m for m in notify_socket.drain(0.2))


def test_no_ready_when_a_port_cannot_be_opened(tmp_path, notify_socket):
    """A node that cannot listen on one of its ports exits 1 without ever sending READY=1."""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        config = router_config([
            {"type": "rawsocket", "endpoint": tcp(free_port())},
            {"type": "rawsocket", "endpoint": tcp(port)},
        ])
        node = start_node(config, tmp_path, env=notify_socket.env(), wait=False)
        assert node.proc.wait(30) == 1
        assert not any("READY" in m for m in notify_socket.messages + notify_socket.drain(0.2))
    finally:
        busy.close()


def test_sighup_sends_reloading_then_ready(tmp_path, notify_socket):
    """SIGHUP sends RELOADING=1 (with MONOTONIC_USEC) then READY=1, also when the new key is refused."""
    pki = make_pki(tmp_path / "pki")
    port = free_port()
    config = router_config([{"type": "rawsocket", "endpoint": tcp(port, tls={
        "key": str(pki.leaf_key), "certificate": str(pki.leaf_crt)})}])
    node = start_node(config, tmp_path / "node", env=notify_socket.env(), wait=False)
    try:
        notify_socket.wait_for("READY", node)
        for renewal in ("good", "broken"):
            if renewal == "good":
                key, crt = issue(pki, "renewed")
                os.replace(key, pki.leaf_key)
                os.replace(crt, pki.leaf_crt)
            else:
                pki.leaf_key.write_text("not a key\n")
            before = time.monotonic()
            node.signal(signal.SIGHUP)
            reloading = notify_socket.wait_for("RELOADING", node)
            assert reloading["RELOADING"] == "1"
            # MONOTONIC_USEC is CLOCK_MONOTONIC, the clock of time.monotonic() on Linux.
            assert before * 1e6 <= int(reloading["MONOTONIC_USEC"]) <= time.monotonic() * 1e6
            ready = notify_socket.wait_for("READY", node)
            expected = "reloaded" if renewal == "good" else "reload refused, old certificate in use"
            assert ready["READY"] == "1" and ready["STATUS"] == f"1 transport(s) listening, 1 realm(s); {expected}"
            assert "READY" not in reloading and "RELOADING" not in ready
        assert "Reload refused" in node.output()
        assert node.proc.poll() is None
    finally:
        node.stop()


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_sigterm_sends_stopping_then_exits_0(tmp_path, abstract):
    """SIGTERM sends STOPPING=1 and then the node exits 0 (path and abstract-namespace sockets)."""
    notify = NotifySocket(abstract=abstract)
    try:
        node = start_node(router_config([{"type": "rawsocket", "endpoint": tcp(free_port())}]), tmp_path,
                          env=notify.env(), wait=False)
        try:
            notify.wait_for("READY", node)
            node.signal(signal.SIGTERM)
            stopping = notify.wait_for("STOPPING", node)
            assert stopping["STOPPING"] == "1"
            assert node.proc.wait(10) == 0
        finally:
            node.stop()
    finally:
        notify.close()


def test_watchdog_pings_at_half_the_interval(tmp_path, notify_socket):
    """With WATCHDOG_USEC=1000000 the node sends WATCHDOG=1 every 0.5 s (half the interval) after READY=1."""
    node = start_node(router_config([{"type": "rawsocket", "endpoint": tcp(free_port())}]), tmp_path,
                      env=notify_socket.env(WATCHDOG_USEC="1000000"), wait=False)
    try:
        notify_socket.wait_for("READY", node)
        times = []
        deadline = time.monotonic() + 10
        while len(times) < 5 and time.monotonic() < deadline:
            fields = notify_socket.receive(deadline - time.monotonic())
            if fields is not None and fields.get("WATCHDOG") == "1":
                times.append(time.monotonic())
        assert len(times) == 5, notify_socket.messages
        gaps = [b - a for a, b in zip(times, times[1:])]
        mean = (times[-1] - times[0]) / 4
        assert 0.4 <= mean <= 0.75 and min(gaps) > 0.1, gaps  # ~0.5 s apart: well inside the 1 s interval
    finally:
        node.stop()


def test_watchdog_for_another_pid_is_ignored(tmp_path, notify_socket):
    """WATCHDOG_PID naming another process (a parent's watchdog) means no WATCHDOG=1 from the node."""
    node = start_node(router_config([{"type": "rawsocket", "endpoint": tcp(free_port())}]), tmp_path,
                      env=notify_socket.env(WATCHDOG_USEC="100000", WATCHDOG_PID="1"), wait=False)
    try:
        notify_socket.wait_for("READY", node)
        assert not [m for m in notify_socket.drain(0.5) if "WATCHDOG" in m]
    finally:
        node.stop()


def test_notifier_outside_systemd_sends_nothing():
    """Without NOTIFY_SOCKET, or with a socket nobody listens on, notify() returns False and raises nothing."""
    assert Notifier.from_environment({}).notify("READY=1") is False
    gone = Notifier.from_environment({"NOTIFY_SOCKET": "/nonexistent/notify"})
    assert gone.notify("READY=1") is False
    assert Notifier.from_environment({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "soon"}).watchdog_usec is None
