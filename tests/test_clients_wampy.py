"""PyPI ``wampy`` against a running node over ws json (tests/pywampy/wampy_client.py).

wampy 1.1.0 pins ``attrs==20.3.0`` (wampnode needs attrs>=23.1: pip reports
ResolutionImpossible), monkey-patches its process with gevent and brings a pytest
plugin, so it cannot share the test interpreter: tests/run.sh installs it into
``.venv-wampy`` and each test runs the client script there as a subprocess.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, Optional

from conftest import REPO, free_port, router_config, tcp

CLIENT = Path(__file__).resolve().parent / "pywampy" / "wampy_client.py"
WAMPY_PYTHON = REPO / ".venv-wampy" / "bin" / "python"


def run_wampy(url: str, topic: str, authid: Optional[str] = None, secret: Optional[str] = None) -> Dict[str, Any]:
    """Run the wampy client script; returns its JSON summary, fails the test with its stderr."""
    assert WAMPY_PYTHON.exists(), \
        f"{WAMPY_PYTHON} missing: tests/run.sh creates it (pip install -r tests/pywampy/requirements.txt)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAMP", "PYTHON"))}
    env.update(WAMP_URL=url, WAMP_TOPIC=topic)
    if authid is not None:
        env.update(WAMP_AUTHID=authid, WAMPYSECRET=secret)
    proc = subprocess.run([str(WAMPY_PYTHON), str(CLIENT)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"wampy exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_clean(node) -> None:
    output = node.output()
    assert node.proc.poll() is None and "Traceback" not in output, output


def test_wampy_pubsub_and_rpc(node_factory):
    """Two wampy sessions route events and calls, including wampy's ERROR-then-YIELD for a raising procedure."""
    port = free_port()
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port), "serializers": ["json"]}]))
    summary = run_wampy(f"ws://127.0.0.1:{port}/ws", "com.wampy.topic")
    assert summary["events"] == 2 and summary["calls"] == 5
    assert len(set(summary["sessions"])) == 2
    assert_clean(node)


def test_wampy_wampcra_login(node_factory):
    """wampy's WAMP-CRA (secret from WAMPYSECRET) logs in; a wrong secret is refused."""
    port = free_port()
    auth = {"wampcra": {"type": "static", "users": {"pat": {"secret": "${PAT_SECRET}", "role": "user"}}}}
    roles = [{"name": "user", "permissions": [
        {"uri": "", "match": "prefix", "allow": {"call": True, "register": True, "publish": True, "subscribe": True}}]}]
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port), "auth": auth}],
                                      [{"name": "realm1", "roles": roles}]), env={"PAT_SECRET": "pat-s3cret"})
    url = f"ws://127.0.0.1:{port}/"
    summary = run_wampy(url, "com.wampy.cra", authid="pat", secret="pat-s3cret")
    assert summary["events"] == 2
    try:
        run_wampy(url, "com.wampy.cra", authid="pat", secret="wrong")
    except AssertionError as e:
        assert "wamp.error.not_authorized" in str(e), e  # a wrong secret, as in Crossbar.io
    else:
        raise AssertionError("a wrong WAMP-CRA secret was accepted")
    assert "pat-s3cret" not in node.output()
    assert_clean(node)
