"""Shared fixtures: free ports, a node started from the CLI, CLI runs.

Every node a test starts is a real ``python -m node start`` process on 127.0.0.1;
the fixture stops it (SIGTERM, then SIGKILL) when the test ends, pass or fail.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest
import txaio

txaio.use_asyncio()  # in-process clients are asyncio; must precede autobahn.wamp.serializer

from ports import free_port  # noqa: F401 (tests import it from here)

REPO = Path(__file__).resolve().parent.parent
READY_LINE = "Node ready:"


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` s have passed; returns whether it became true.

    Tests wait for a condition with this (or :func:`await_until`), never with a bare
    sleep: it returns as soon as the condition holds, and a condition that never holds
    makes the test fail instead of racing a guessed delay.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)  # the polling interval
    return True


async def await_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> bool:
    """:func:`wait_until` for asyncio code: the event loop keeps running between polls."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)  # the polling interval
    return True


def node_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("NOTIFY_SOCKET", None)
    env.update(extra or {})
    return env


def run_cli(*args: str, cwd: Any = None, env: Optional[Dict[str, str]] = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    """Run ``python -m node ARGS`` to completion; stdout/stderr captured as text."""
    return subprocess.run([sys.executable, "-m", "node", *args], cwd=cwd, env=node_env(env),
                          capture_output=True, text=True, timeout=timeout)


class RunningNode:
    """A node process started by :func:`start_node`."""

    def __init__(self, proc: subprocess.Popen, cbdir: Path, log_path: Path) -> None:
        self.proc = proc
        self.cbdir = cbdir
        self.log_path = log_path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 10.0) -> bool:
        """Whether ``text`` appears in the log within ``timeout`` s (False at once if the node exited without it)."""
        wait_until(lambda: text in self.output() or self.proc.poll() is not None, timeout)
        return text in self.output()

    def signal(self, signum: int) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not exit. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def start_node(config: Optional[Dict[str, Any]], cbdir: Path, args: List[str] = (),
               env: Optional[Dict[str, str]] = None, wait: bool = True, timeout: float = 15.0) -> RunningNode:
    """Write ``config`` (if given) to ``cbdir/config.json`` and start a node there."""
    cbdir.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (cbdir / "config.json").write_text(json.dumps(config, indent=2))
    log_path = cbdir / f"node-{time.monotonic_ns()}.log"
    log_file = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "node", "start", "--cbdir", str(cbdir), *args],
                            stdout=log_file, stderr=subprocess.STDOUT, env=node_env(env), cwd=str(cbdir))
    log_file.close()
    node = RunningNode(proc, cbdir, log_path)
    if wait and not node.wait_for(READY_LINE, timeout):
        node.stop()
        raise AssertionError(f"node did not become ready:\n{node.output()}")
    return node


@pytest.fixture
def node_factory(tmp_path: Path):
    """``node_factory(config, cbdir=None, args=(), env=None, wait=True) -> RunningNode``."""
    nodes: List[RunningNode] = []

    def factory(config: Optional[Dict[str, Any]], cbdir: Optional[Path] = None, args: List[str] = (),
                env: Optional[Dict[str, str]] = None, wait: bool = True) -> RunningNode:
        node = start_node(config, cbdir or (tmp_path / f"node{len(nodes)}"), list(args), env, wait)
        nodes.append(node)
        return node

    yield factory
    for node in nodes:
        node.stop()


def router_config(transports: List[Dict[str, Any]], realms: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """A one-worker config with ``realm1`` (no roles: everything allowed) by default."""
    return {"version": 2, "workers": [{"type": "router",
                                       "realms": realms if realms is not None else [{"name": "realm1", "roles": []}],
                                       "transports": transports}]}


def tcp(port: int, tls: Optional[Dict[str, Any]] = None, interface: str = "127.0.0.1", version: int = 4) -> Dict[str, Any]:
    endpoint: Dict[str, Any] = {"type": "tcp", "port": port, "interface": interface}
    if version == 6:
        endpoint["version"] = 6
    if tls is not None:
        endpoint["tls"] = tls
    return endpoint


@pytest.fixture
def nats_server():
    """A nats-server of its own on a free port of 127.0.0.1, stopped when the test ends."""
    nats = shutil.which("nats-server")
    assert nats, "nats-server is missing (tests/run.sh installs it)"
    port = free_port()
    proc = subprocess.Popen([nats, "-a", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    assert wait_until(listening, 10), "nats-server did not start"
    yield f"nats://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)
