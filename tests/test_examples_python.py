"""The Python example apps run against the repository's default node (.crossbar) and exit 0 in bounded time."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from typing import Dict, Optional

import pytest

from conftest import REPO, free_port, node_env, start_node

APPS = REPO / "examples" / "python"
APP_TIMEOUT = 30  # seconds: each app gives up after its own --timeout (10 s default) long before


@pytest.fixture(scope="module")
def default_node(tmp_path_factory):
    """The repository's .crossbar node directory, copied, with its ports 8080/8081 moved to free ones."""
    cbdir = tmp_path_factory.mktemp("default-node") / ".crossbar"
    shutil.copytree(REPO / ".crossbar", cbdir, ignore=shutil.ignore_patterns("node.pid", "*.log"))
    config = json.loads((cbdir / "config.json").read_text())
    ports = {}
    for transport in config["workers"][0]["transports"]:
        ports[transport["endpoint"]["port"]] = transport["endpoint"]["port"] = free_port()
        transport["endpoint"]["interface"] = "127.0.0.1"
    assert sorted(ports) == [8080, 8081], "the default node is web on 8080 and RawSocket on 8081"
    node = start_node(config, cbdir)
    yield {"ws": f"ws://127.0.0.1:{ports[8080]}/ws", "rs": f"rs://127.0.0.1:{ports[8081]}"}
    node.stop()
    assert "Traceback" not in node.output(), node.output()


def run_app(app: str, *args: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(APPS / app), *args], capture_output=True, text=True,
                          timeout=APP_TIMEOUT, env=node_env(env))


@pytest.mark.parametrize("transport", ["ws", "rs"])
def test_pubsub_app(default_node, transport):
    """pubsub.py receives all five events it published, in order, and exits 0 (WebSocket and RawSocket)."""
    result = run_app("pubsub.py", "--url", default_node[transport])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "received 5 of 5 events, in order: True" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("transport", ["ws", "rs"])
def test_rpc_app(default_node, transport):
    """rpc.py gets 2 + 3 = 5 and the application error for a bad argument, then exits 0."""
    result = run_app("rpc.py", env={"WAMP_URL": default_node[transport], "WAMP_REALM": "realm1"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "com.example.rpc.add2(2, 3) = 5" in result.stdout
    assert "failed as it should: com.example.error.invalid_argument" in result.stdout
    assert "(role 'anonymous', auth anonymous)" in result.stdout


def test_apps_fail_fast_without_a_node():
    """With nothing listening, each app exits 1 within seconds and says it cannot connect."""
    url = f"ws://127.0.0.1:{free_port()}/ws"
    for app in ("pubsub.py", "rpc.py"):
        started = time.monotonic()
        result = run_app(app, "--url", url)
        assert result.returncode == 1, result.stdout + result.stderr
        assert time.monotonic() - started < 15
        assert f"{app}: failed ({url}, realm realm1): cannot connect" in result.stderr
        assert "Traceback" not in result.stderr


def test_app_names_a_refused_realm(default_node):
    """Joining a realm the node does not have exits 1 naming wamp.error.no_such_realm."""
    result = run_app("pubsub.py", "--url", default_node["ws"], "--realm", "nosuchrealm")
    assert result.returncode == 1
    assert "wamp.error.no_such_realm" in result.stderr


def test_app_gives_up_after_its_timeout(tmp_path):
    """Against a port that accepts but never answers, the app gives up after --timeout and exits 1."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        started = time.monotonic()
        result = run_app("rpc.py", "--url", f"ws://127.0.0.1:{silent.getsockname()[1]}/ws", "--timeout", "1")
        assert result.returncode == 1
        assert "rpc.py: timed out after 1.0 s" in result.stderr
        assert time.monotonic() - started < 10
    finally:
        silent.close()
