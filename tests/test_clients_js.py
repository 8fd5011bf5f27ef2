"""Third-party JavaScript clients against a running node: npm ``autobahn`` 22 and ``wampy`` 8.

Each test starts a node and runs one script from tests/js under Node.js; the script opens two
sessions that subscribe/publish/register/call between each other (tests/js/harness.mjs) and
exits non-zero on any deviation. ``tests/run.sh`` installs the packages (``npm install``).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from conftest import free_port, router_config, tcp
from pki import make_pki

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPTS = {"autobahn": "autobahn_client.mjs", "wampy": "wampy_client.mjs"}
SERIALIZERS = ["json", "msgpack", "cbor"]


def run_js(library: str, url: str, serializer: str, prefix: str, cafile: Optional[Path] = None,
           credentials: Optional[List[Dict[str, str]]] = None, script: Optional[str] = None) -> Dict[str, Any]:
    """Run one client script (``script``, else the library's harness script); returns its JSON
    summary, fails the test with its stderr."""
    node = shutil.which("node")
    assert node, "Node.js (node) is not installed: tests/run.sh expects it on the machine"
    assert (JS_DIR / "node_modules" / library).is_dir(), \
        f"tests/js/node_modules/{library} missing: run `npm install` in tests/js (tests/run.sh does)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAMP_", "NODE_"))}
    env.update(WAMP_URL=url, WAMP_SERIALIZER=serializer, WAMP_PREFIX=prefix)
    if cafile is not None:
        env["WAMP_CA"] = str(cafile)
    if credentials is not None:
        env["WAMP_CREDENTIALS"] = json.dumps(credentials)
    proc = subprocess.run([node, script or SCRIPTS[library]], cwd=JS_DIR, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, f"{library} exited {proc.returncode}:\n{proc.stderr}\n{proc.stdout}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_clean(node) -> None:
    output = node.output()
    assert node.proc.poll() is None and "Traceback" not in output, output


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("library", sorted(SCRIPTS))
def test_ws(node_factory, library, serializer):
    """Two sessions of the library route events and calls (args, kwargs, errors) over ws://."""
    port = free_port()
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port),
                                        "serializers": SERIALIZERS}]))
    summary = run_js(library, f"ws://127.0.0.1:{port}/ws", serializer, f"com.js.{library}.{serializer}")
    assert summary["events"] == 2 and summary["calls"] == 4
    caller, callee = summary["sessions"]
    assert caller["session"] != callee["session"]
    assert caller["authrole"] == "anonymous" and caller["roles"] == ["broker", "dealer"]
    assert_clean(node)


@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("library", sorted(SCRIPTS))
def test_wss(tmp_path, node_factory, library, serializer):
    """The same over wss://, the client trusting only the test PKI's root CA."""
    pki = make_pki(tmp_path / "pki")
    port = free_port()
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.leaf_crt),
           "chain_certificates": [str(pki.intermediate_crt)]}
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port, tls=tls)}]))
    summary = run_js(library, f"wss://localhost:{port}/", serializer, f"com.js.{library}.tls",
                     cafile=pki.root_crt)
    assert summary["events"] == 2 and summary["calls"] == 4
    assert_clean(node)


@pytest.mark.parametrize("scheme", ["ws", "wss"])
def test_wampy_cbor_sends_back_large_ids_as_floats(tmp_path, node_factory, scheme):
    """wampy 8 with CBOR, unmodified, subscribes/unsubscribes and registers/unregisters four times.

    cbor-x encodes integers above 2^32 as float64, so the subscription and registration IDs
    (and the session ID in PUBLISH's ``eligible``) come back as integral floats: the node takes
    them as the IDs they are instead of closing the connection (issue 13, defect 1).
    """
    port = free_port()
    cafile = None
    endpoint = tcp(port)
    if scheme == "wss":
        pki = make_pki(tmp_path / "pki")
        cafile = pki.root_crt
        endpoint = tcp(port, tls={"key": str(pki.leaf_key), "certificate": str(pki.leaf_crt),
                                  "chain_certificates": [str(pki.intermediate_crt)]})
    node = node_factory(router_config([{"type": "websocket", "endpoint": endpoint, "serializers": ["cbor"]}]))
    host = "localhost" if scheme == "wss" else "127.0.0.1"
    summary = run_js("wampy", f"{scheme}://{host}:{port}/", "cbor", f"com.js.ids.{scheme}", cafile=cafile,
                     script="wampy_ids.mjs")
    ids = summary["ids"]
    assert summary["rounds"] == 4 and len(ids["subscriptions"]) == len(ids["registrations"]) == 4
    handed_out = ids["sessions"] + ids["subscriptions"] + ids["registrations"]
    assert all(1 <= i <= 2**53 for i in handed_out)
    # the scenario is real only if some IDs went back as floats: each exceeds 2^32 with
    # probability 1 - 2^-21, so all ten staying below would be a broken ID generator
    assert sum(i > 2**32 for i in handed_out) >= 5, handed_out
    assert "protocol violation" not in node.output().lower()
    assert_clean(node)


def test_wss_untrusted_certificate_is_refused(tmp_path, node_factory):
    """Without the test CA the client refuses the node's certificate: wss is really verified."""
    pki = make_pki(tmp_path / "pki")
    port = free_port()
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt)}
    node_factory(router_config([{"type": "websocket", "endpoint": tcp(port, tls=tls)}]))
    with pytest.raises(AssertionError, match="exited 1"):
        run_js("wampy", f"wss://localhost:{port}/", "json", "com.js.untrusted")


def ed25519_pair() -> Dict[str, str]:
    key = Ed25519PrivateKey.generate()
    return {"private_key": key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex(),
            "public_key": key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()}


AUTH_ROLES = [{"name": "js-user", "permissions": [
    {"uri": "com.js.", "match": "prefix",
     "allow": {"call": True, "register": True, "publish": True, "subscribe": True}}]}]


@pytest.fixture
def auth_node(node_factory):
    """A node whose transport offers wampcra (salted and plain) and cryptosign; returns (url, keys)."""
    port = free_port()
    keys = [ed25519_pair(), ed25519_pair()]
    auth = {
        "wampcra": {"type": "static", "users": {
            "carl": {"secret": "${JS_CRA_SECRET}", "role": "js-user", "salt": "s4lt", "iterations": 100,
                     "keylen": 32},
            "cora": {"secret": "plain-secret", "role": "js-user"}}},
        "cryptosign": {"type": "static", "principals": {
            "alice": {"realm": "realm1", "role": "js-user", "authorized_keys": [keys[0]["public_key"]]},
            "bob": {"realm": "realm1", "role": "js-user", "authorized_keys": [keys[1]["public_key"]]}}},
    }
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port), "auth": auth}],
                                      [{"name": "realm1", "roles": AUTH_ROLES}]),
                        env={"JS_CRA_SECRET": "salted-s3cret"})
    yield f"ws://127.0.0.1:{port}/", keys
    output = node.output()
    assert "salted-s3cret" not in output and "plain-secret" not in output
    assert_clean(node)


@pytest.mark.parametrize("library", sorted(SCRIPTS))
def test_wampcra_login(auth_node, library):
    """The library's WAMP-CRA helper logs in (salted PBKDF2 key and plain secret); both sessions route."""
    url, _ = auth_node
    credentials = [{"authmethod": "wampcra", "authid": "carl", "secret": "salted-s3cret"},
                   {"authmethod": "wampcra", "authid": "cora", "secret": "plain-secret"}]
    summary = run_js(library, url, "json", f"com.js.{library}.cra", credentials=credentials)
    assert [(s["authid"], s["authrole"], s["authmethod"]) for s in summary["sessions"]] == [
        ("carl", "js-user", "wampcra"), ("cora", "js-user", "wampcra")]


@pytest.mark.parametrize("library", sorted(SCRIPTS))
def test_cryptosign_login(auth_node, library):
    """The library's cryptosign helper signs the challenge with an Ed25519 key; both sessions route."""
    url, keys = auth_node
    credentials = [dict(keys[0], authmethod="cryptosign", authid="alice"),
                   dict(keys[1], authmethod="cryptosign", authid="bob")]
    summary = run_js(library, url, "msgpack", f"com.js.{library}.cs", credentials=credentials)
    assert [(s["authid"], s["authrole"], s["authmethod"]) for s in summary["sessions"]] == [
        ("alice", "js-user", "cryptosign"), ("bob", "js-user", "cryptosign")]


@pytest.mark.parametrize("library", sorted(SCRIPTS))
def test_wrong_secret_is_refused(auth_node, library):
    """A wrong WAMP-CRA secret makes the login fail: the script exits non-zero."""
    url, _ = auth_node
    credentials = [{"authmethod": "wampcra", "authid": "carl", "secret": "wrong"}] * 2
    with pytest.raises(AssertionError, match="exited 1"):
        run_js(library, url, "json", f"com.js.{library}.bad", credentials=credentials)
