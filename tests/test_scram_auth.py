"""WAMP-SCRAM through a running node with autobahn-python's client (``AuthScram``):
each KDF, right and wrong password, unknown user, dynamic principals, failed-login log
line and slowdown.

autobahn's ``AuthScram`` needs argon2-cffi and passlib (``autobahn[scram]``; the test
extras install them). Its PBKDF2 branch passes the base64 salt *string* to autobahn's
``pbkdf2``, which only takes bytes, so it cannot log in with PBKDF2 at all; the
``pbkdf2_fixed`` fixture gives it the decoded salt (as its Argon2id branch does).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any, Dict, Optional

import pytest

auth = pytest.importorskip("autobahn.wamp.auth")
if not auth.HAS_ARGON:  # the client side only: the router needs no Argon2 library
    pytest.skip("autobahn's AuthScram needs argon2-cffi and passlib (pip install -e .[test])",
                allow_module_level=True)

from argon2.low_level import Type, hash_secret  # noqa: E402
from autobahn.wamp.types import ComponentConfig  # noqa: E402

from conftest import free_port, router_config, start_node, tcp, wait_until  # noqa: E402
from wampclient import SERIALIZERS, TIMEOUT, ClientSession, leave, run  # noqa: E402

ROLES = [{"name": name, "permissions": [{"uri": "com.", "match": "prefix", "allow": {
    "call": True, "register": True, "publish": True, "subscribe": True}}]} for name in ("frontend", "backend")]


def salted_password(kdf: str, password: str, salt: bytes, iterations: int, memory: int) -> bytes:
    """SaltedPassword as autobahn's client derives it: for argon2id-13 the base64 text
    (unpadded) of the 32-octet hash, for pbkdf2 the 32 octets of PBKDF2-HMAC-SHA256."""
    if kdf == "argon2id-13":
        encoded = hash_secret(password.encode("utf8"), salt, time_cost=iterations, memory_cost=memory,
                              parallelism=1, hash_len=32, type=Type.ID, version=19)
        return encoded.split(b"$")[-1]
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf8"), salt, iterations, 32)


def credential(kdf: str, password: str, role: str, iterations: int, memory: int = 512,
               salt: Optional[bytes] = None) -> Dict[str, Any]:
    """A principal's config entry, as autobahn's ``derive_scram_credential`` writes it."""
    salt = salt or hashlib.sha256(password.encode("utf8")).digest()[:16]
    key = salted_password(kdf, password, salt, iterations, memory)
    client_key = hmac.new(key, b"Client Key", hashlib.sha256).digest()
    entry = {"kdf": kdf, "iterations": iterations, "salt": salt.hex(), "role": role,
             "stored-key": hashlib.sha256(client_key).hexdigest(),
             "server-key": hmac.new(key, b"Server Key", hashlib.sha256).hexdigest()}
    if kdf == "argon2id-13":
        entry["memory"] = memory
    return entry


PRINCIPALS = {
    "alice": credential("argon2id-13", "alice-pw", "frontend", iterations=2, memory=512),
    "bob": credential("pbkdf2", "bob-pw", "backend", iterations=1000),
}
DYNAMIC = {"dora": credential("pbkdf2", "dora-pw", "backend", iterations=500)}


class ScramSession(ClientSession):
    """Joins with autobahn's ``AuthScram`` and records the CHALLENGE it got."""

    def __init__(self, config: ComponentConfig, authid: str, password: str) -> None:
        super().__init__(config, ["scram"], authid)
        self.scram = auth.AuthScram(authid=authid, password=password)
        self.challenge: Any = None

    def onConnect(self) -> None:
        self.join(self.config.realm, authmethods=["scram"], authid=self._authid, authextra=self.scram.authextra)

    def onChallenge(self, challenge: Any) -> str:
        self.challenge = challenge
        proof = self.scram.on_challenge(self, challenge)
        return proof.decode("ascii")


async def scram_join(port: int, authid: str, password: str) -> ScramSession:
    return await scram_join_url(f"ws://127.0.0.1:{port}/", authid, password)


async def scram_join_url(url: str, authid: str, password: str) -> ScramSession:
    from autobahn.asyncio.websocket import WampWebSocketClientFactory

    loop = asyncio.get_event_loop()
    port = int(url.split(":")[2].split("/")[0])
    session = ScramSession(ComponentConfig(realm="realm1"), authid, password)
    factory = WampWebSocketClientFactory(lambda: session, url=url, serializers=[SERIALIZERS["json"]()])
    await asyncio.wait_for(loop.create_connection(factory, "127.0.0.1", port), TIMEOUT)
    try:
        await asyncio.wait_for(asyncio.shield(session.joined), TIMEOUT)
    except ConnectionError:
        pass
    await leave(session)
    return session


def refusal(session: ScramSession) -> str:
    exc = session.joined.exception() if session.joined.done() else None
    assert exc is not None, "joined"
    return str(exc)


@pytest.fixture
def pbkdf2_fixed(monkeypatch):
    """autobahn's AuthScram with its PBKDF2 branch given the salt octets (see the module doc)."""
    monkeypatch.setattr(auth, "_hash_pbkdf2_secret",
                        lambda password, salt, iterations: auth.pbkdf2(password, base64.b64decode(salt),
                                                                       iterations, keylen=32))


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    ports = {"static": free_port(), "dynamic": free_port(), "backend": free_port()}
    transports = [
        {"type": "websocket", "endpoint": tcp(ports["static"]),
         "auth": {"scram": {"type": "static", "principals": PRINCIPALS}}},
        {"type": "websocket", "endpoint": tcp(ports["dynamic"]),
         "auth": {"scram": {"type": "dynamic", "authenticator": "com.auth.scram"}}},
        {"type": "websocket", "endpoint": tcp(ports["backend"]),
         "auth": {"anonymous": {"type": "static", "role": "backend"}}},
    ]
    config = router_config(transports, [{"name": "realm1", "roles": ROLES}])
    config["workers"][0]["options"] = {"auth_failures": {"free": 1000}}
    running = start_node(config, tmp_path_factory.mktemp("scram"))
    yield ports, running
    running.stop()
    output = running.output()
    assert "Traceback" not in output and "alice-pw" not in output, output


@pytest.mark.parametrize("authid,password,role,kdf", [("alice", "alice-pw", "frontend", "argon2id-13"),
                                                      ("bob", "bob-pw", "backend", "pbkdf2")])
def test_right_password_joins_and_the_server_proves_itself(node, pbkdf2_fixed, authid, password, role, kdf):
    ports, _ = node
    session = run(scram_join(ports["static"], authid, password))
    details = session.joined.result()
    assert (details.authid, details.authrole, details.authmethod) == (authid, role, "scram")
    assert session.challenge.extra["kdf"] == kdf
    assert ("memory" in session.challenge.extra) == (kdf == "argon2id-13")
    assert session.scram.on_welcome(session, details.authextra) is None  # scram_server_signature checks out


@pytest.mark.parametrize("authid", ["alice", "bob"])
def test_wrong_password_is_refused(node, pbkdf2_fixed, authid):
    ports, running = node
    session = run(scram_join(ports["static"], authid, "wrong"))
    assert "wamp.error.not_authorized" in refusal(session)
    assert wait_until(lambda: f"method=scram realm='realm1' authid='{authid}' reason=wamp.error.not_authorized"
                      in running.output())


def test_unknown_user_looks_like_a_wrong_password(node, pbkdf2_fixed):
    ports, _ = node
    known = run(scram_join(ports["static"], "bob", "wrong"))
    unknown = [run(scram_join(ports["static"], "mallory", "guess")) for _ in range(2)]
    assert refusal(unknown[0]).replace("mallory", "X") == refusal(known).replace("bob", "X")
    shapes = [(sorted(s.challenge.extra), s.challenge.extra["kdf"], s.challenge.extra["iterations"],
               s.challenge.extra.get("memory"), len(base64.b64decode(s.challenge.extra["salt"])))
              for s in (known, *unknown)]
    configured = {(p["kdf"], p["iterations"], p.get("memory")) for p in PRINCIPALS.values()}
    assert shapes[1][1:4] in configured and shapes[1] == shapes[2]
    assert shapes[1][0] == sorted(["nonce", "kdf", "salt", "iterations"]
                                  + (["memory"] if shapes[1][1] == "argon2id-13" else []))
    assert shapes[1][4] == 16  # as long as the configured principals' salts
    # the same salt for every attempt of the unknown authid, as a real principal's
    assert unknown[0].challenge.extra["salt"] == unknown[1].challenge.extra["salt"]


def test_hello_without_nonce_is_refused(node):
    ports, _ = node

    async def main() -> str:
        from wampclient import connect

        session = await connect(f"ws://127.0.0.1:{ports['static']}/", authmethods=["scram"], authid="alice",
                                join=False)
        try:
            await asyncio.wait_for(asyncio.shield(session.joined), TIMEOUT)
        except ConnectionError as e:
            return str(e)
        finally:
            await leave(session)
        return "joined"

    assert "nonce" in run(main())


def test_dynamic_principals(node, pbkdf2_fixed):
    ports, _ = node

    async def main() -> None:
        from wampclient import connect

        backend = await connect(f"ws://127.0.0.1:{ports['backend']}/")
        await backend.register(lambda realm, authid, details: DYNAMIC.get(authid), "com.auth.scram")
        try:
            good = await scram_join(ports["dynamic"], "dora", "dora-pw")
            details = good.joined.result()
            assert (details.authid, details.authrole, details.authprovider) == ("dora", "backend", "dynamic")
            assert good.scram.on_welcome(good, details.authextra) is None
            bad = await scram_join(ports["dynamic"], "dora", "nope")
            assert "wamp.error.not_authorized" in refusal(bad)
            unknown = await scram_join(ports["dynamic"], "nobody", "nope")  # the authenticator returns None
            assert "wamp.error.not_authorized" in refusal(unknown)
        finally:
            await leave(backend)

    run(main())


def test_failed_scram_logins_are_slowed_down(tmp_path):
    port = free_port()
    config = router_config([{"type": "websocket", "endpoint": tcp(port),
                             "auth": {"scram": {"type": "static", "principals": PRINCIPALS}}}],
                           [{"name": "realm1", "roles": ROLES}])
    config["workers"][0]["options"] = {"auth_failures": {"free": 2, "delay": 0.5, "max_delay": 10, "window": 60}}
    node = start_node(config, tmp_path)
    try:
        for _ in range(2):
            started = time.monotonic()
            run(scram_join(port, "alice", "wrong"))
            assert time.monotonic() - started < 0.5
        started = time.monotonic()
        session = run(scram_join(port, "alice", "alice-pw"))  # even a success is late now
        assert time.monotonic() - started >= 0.5
        assert session.joined.result().authid == "alice"
        assert node.output().count("authentication failed: peer=127.0.0.1 method=scram") == 2
    finally:
        node.stop()


def test_scram_key_checks_are_config_errors(tmp_path):
    from conftest import run_cli

    bad = dict(PRINCIPALS["alice"], **{"stored-key": "zz"})
    del bad["memory"]
    config = router_config([{"type": "websocket", "endpoint": tcp(free_port()),
                             "auth": {"scram": {"type": "static", "principals": {"alice": bad}}}}])
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = run_cli("check", "--cbdir", str(tmp_path))
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "stored-key" in text and "memory" in text and "Traceback" not in text


def test_example_scram_config(tmp_path, pbkdf2_fixed, node_factory):
    """examples/configs/scram.json: alice (Argon2id) and bob (PBKDF2) with the passwords its README names."""
    from test_examples_configs import node_dir

    setup = node_dir("scram", tmp_path)
    node_factory(None, cbdir=setup["cbdir"])
    for authid, password, role in (("alice", "alice-example-pw", "frontend"), ("bob", "bob-example-pw", "backend")):
        session = run(scram_join_url(setup["url"], authid, password))
        assert session.joined.result().authrole == role
    assert "not_authorized" in refusal(run(scram_join_url(setup["url"], "alice", "bob-example-pw")))
