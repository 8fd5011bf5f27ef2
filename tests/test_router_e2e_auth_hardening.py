"""Authentication hardening through a running node, with autobahn-python clients (issue 19).

- An anonymous session never gets the authid its HELLO names (finding 2).
- A testament is authorized as the PUBLISH it will become, by the dynamic authorizer too (finding 7).
- Unknown principals are answered like wrong secrets; every failure is logged in a shape
  fail2ban reads; answers to an address that failed often are late (finding 16).
"""
from __future__ import annotations

import asyncio
import binascii
import re
import shutil
import subprocess
import time
from typing import Any, List, Optional, Tuple

import pytest
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig, PublishOptions, RegisterOptions
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from conftest import REPO, free_port, router_config, start_node, tcp
from wampclient import SERIALIZERS, TIMEOUT, ClientSession, connect, leave, run

SERIAL = r"[345679ACEFGHJKLMNPQRSTUVWXY]{4}(-[345679ACEFGHJKLMNPQRSTUVWXY]{4}){5}"  # Crossbar.io's authids


def pubkey_of(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


ALICE_KEY = Ed25519PrivateKey.generate()


def perm(uri, match="exact", **allow):
    return {"uri": uri, "match": match, "allow": allow}


ALL = dict(call=True, register=True, publish=True, subscribe=True)
ROLES = [
    {"name": "backend", "permissions": [perm("", "prefix", **ALL)]},
    {"name": "user", "permissions": [perm("com.", "prefix", call=True, subscribe=True, publish=True)]},
    {"name": "limited", "permissions": [
        perm("com.", "prefix", call=True, subscribe=True),
        {"uri": "com.api.whoami", "allow": {"call": True}, "disclose": {"caller": True}}]},
    {"name": "dyn", "authorizer": "com.auth.authorize"},
]


def transports(ports):
    return [
        {"type": "websocket", "endpoint": tcp(ports["open"]),
         "auth": {"anonymous": {"type": "static", "role": "backend"}}},
        {"type": "websocket", "endpoint": tcp(ports["ticket"]),
         "auth": {"ticket": {"type": "static", "principals": {"carl": {"ticket": "carl-ticket", "role": "user"}}}}},
        {"type": "websocket", "endpoint": tcp(ports["anon"]),
         "auth": {"anonymous": {"type": "static", "role": "limited"}}},
        {"type": "websocket", "endpoint": tcp(ports["named"]),
         "auth": {"anonymous": {"type": "static", "role": "limited", "authid": "guest"}}},
        {"type": "websocket", "endpoint": tcp(ports["cra"]),
         "auth": {"wampcra": {"type": "static", "users": {
             "carl": {"secret": "carl-pw", "role": "user", "salt": "s4lt-s4lt", "iterations": 100, "keylen": 32}}}}},
        {"type": "websocket", "endpoint": tcp(ports["cryptosign"]),
         "auth": {"cryptosign": {"type": "static", "principals": {
             "alice": {"role": "user", "authorized_keys": [pubkey_of(ALICE_KEY)]}}}}},
        {"type": "websocket", "endpoint": tcp(ports["dyn"]),
         "auth": {"anonymous": {"type": "static", "role": "dyn"}}},
    ]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A node whose failures are never delayed (``free`` is large): the late answers have their own node."""
    ports = {name: free_port() for name in ("open", "ticket", "anon", "named", "cra", "cryptosign", "dyn")}
    config = router_config(transports(ports), [{"name": "realm1", "roles": ROLES}])
    config["workers"][0]["options"] = {"auth_failures": {"free": 1000}}
    node = start_node(config, tmp_path_factory.mktemp("auth-hardening"))
    node.ports = ports
    yield node
    node.stop()
    output = node.output()
    assert "Traceback" not in output and "carl-ticket" not in output and "carl-pw" not in output, output


def ws(port: int) -> str:
    return f"ws://127.0.0.1:{port}/"


class Attempt(ClientSession):
    """A join attempt that records the CHALLENGEs it got and how it ended."""

    def __init__(self, config: ComponentConfig, authmethods: Optional[List[str]], authid: Optional[str],
                 secret: Optional[str], authextra: Optional[dict] = None,
                 signer: Optional[Ed25519PrivateKey] = None) -> None:
        super().__init__(config, authmethods, authid, secret)
        self.hello_extra = authextra
        self.signer = signer
        self.challenges: List[Tuple[str, dict]] = []
        self.ended: Optional[Tuple[str, str]] = None

    def onConnect(self) -> None:
        self.join(self.config.realm, authmethods=self._authmethods, authid=self._authid, authextra=self.hello_extra)

    def onChallenge(self, challenge: Any) -> str:
        self.challenges.append((challenge.method, dict(challenge.extra)))
        if challenge.method == "cryptosign":
            data = binascii.a2b_hex(challenge.extra["challenge"])
            return (self.signer.sign(data) + data).hex()
        return super().onChallenge(challenge)

    def onLeave(self, details: Any) -> None:
        self.ended = (details.reason, details.message)
        super().onLeave(details)


async def attempt(port: int, authmethods: List[str], authid: Optional[str] = None, secret: Optional[str] = None,
                  authextra: Optional[dict] = None, signer: Optional[Ed25519PrivateKey] = None) -> Attempt:
    """One join attempt; returns the session (joined or not) when the router has answered."""
    loop = asyncio.get_event_loop()
    session = Attempt(ComponentConfig(realm="realm1"), authmethods, authid, secret, authextra, signer)
    factory = WampWebSocketClientFactory(lambda: session, url=ws(port), serializers=[SERIALIZERS["json"]()])
    await loop.create_connection(factory, "127.0.0.1", port)
    try:
        await asyncio.wait_for(asyncio.shield(session.joined), TIMEOUT)
    except ConnectionError:
        pass
    return session


async def collect(session: ClientSession, topic: str) -> List[Any]:
    got: List[Any] = []
    await session.subscribe(lambda value: got.append(value), topic)
    return got


async def until(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_event_loop().time() + timeout
    while not condition():
        assert asyncio.get_event_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_anonymous_session_cannot_take_a_principals_authid(node):
    """An anonymous client naming itself carl joins with a random authid (or the configured one):
    an eligible_authid ["carl"] publication reaches the real carl (ticket) only, and wamp.session.get
    and disclosed caller details show the router's authid."""
    ports = node.ports

    async def scenario():
        backend = await connect(ws(ports["open"]))
        carl = await connect(ws(ports["ticket"]), authmethods=["ticket"], authid="carl", secret="carl-ticket")
        impostor = await connect(ws(ports["anon"]), authid="carl")
        named = await connect(ws(ports["named"]), authid="carl")
        assert carl._authid == "carl"
        assert impostor._authid != "carl" and re.fullmatch(SERIAL, impostor._authid), impostor._authid
        assert named._authid == "guest"
        to_carl, to_impostor, to_named = [await collect(s, "com.news") for s in (carl, impostor, named)]
        await backend.publish("com.news", "for carl", options=PublishOptions(acknowledge=True, eligible_authid=["carl"]))
        await backend.publish("com.news", "for all", options=PublishOptions(acknowledge=True))
        await until(lambda: len(to_carl) == 2 and to_impostor and to_named)
        assert to_carl == ["for carl", "for all"] and to_impostor == to_named == ["for all"]
        info = await backend.call("wamp.session.get", impostor._session_id)
        assert info["authid"] == impostor._authid and info["authmethod"] == "anonymous"
        await backend.register(lambda details=None: details.caller_authid, "com.api.whoami",
                               options=RegisterOptions(details_arg="details"))
        assert await impostor.call("com.api.whoami") == impostor._authid
        await leave(impostor, named, carl, backend)

    run(scenario())


def test_testament_is_authorized_by_the_dynamic_authorizer(node):
    """A session whose authorizer denies publishing to com.secret.alerts cannot leave a testament
    there (not_authorized, nothing delivered when it goes); an allowed topic still works."""
    ports = node.ports

    async def scenario():
        backend = await connect(ws(ports["open"]))
        asked = []

        def authorize(session, uri, action, options):
            asked.append((uri, action))
            return uri != "com.secret.alerts"

        await backend.register(authorize, "com.auth.authorize")
        secret, public = await collect(backend, "com.secret.alerts"), await collect(backend, "com.public.alerts")
        dying = await connect(ws(ports["dyn"]))
        with pytest.raises(ApplicationError) as info:
            await dying.call("wamp.session.add_testament", "com.secret.alerts", ["leaked"], {})
        assert info.value.error == "wamp.error.not_authorized"
        await dying.call("wamp.session.add_testament", "com.public.alerts", ["gone"], {})
        assert ("com.secret.alerts", "publish") in asked and ("com.public.alerts", "publish") in asked
        dying._transport.close()
        await until(lambda: public)
        assert public == ["gone"] and secret == []  # a testament to secret would have come first
        await leave(backend)

    run(scenario())


def same_shape(first: Attempt, second: Attempt, first_id: str, second_id: str) -> None:
    """Both attempts were refused with the same error URI and message (up to the authid they named)."""
    assert first.ended is not None and second.ended is not None
    assert first.ended[0] == second.ended[0] == "wamp.error.not_authorized"
    assert first.ended[1].replace(first_id, "<authid>") == second.ended[1].replace(second_id, "<authid>")


def test_unknown_principals_are_answered_like_wrong_secrets(node):
    """ticket, wampcra and cryptosign: an unknown principal gets a CHALLENGE like a known one's and
    then the ABORT a wrong secret or signature gets; a wampcra decoy salt is stable per authid.
    Each failure is logged with peer address, method, realm, authid and reason."""
    ports = node.ports

    async def scenario():
        unknown = await attempt(ports["ticket"], ["ticket"], "mallory", "guess")
        known = await attempt(ports["ticket"], ["ticket"], "carl", "guess")
        assert unknown.challenges == known.challenges == [("ticket", {})]
        same_shape(unknown, known, "mallory", "carl")

        unknown = await attempt(ports["cra"], ["wampcra"], "mallory", "guess")
        again = await attempt(ports["cra"], ["wampcra"], "mallory", "guess")
        known = await attempt(ports["cra"], ["wampcra"], "carl", "guess")
        (u_method, u_extra), (k_method, k_extra) = unknown.challenges[0], known.challenges[0]
        assert u_method == k_method == "wampcra" and set(u_extra) == set(k_extra)
        assert (u_extra["iterations"], u_extra["keylen"], len(u_extra["salt"])) == (100, 32, len("s4lt-s4lt"))
        assert again.challenges[0][1]["salt"] == u_extra["salt"]
        same_shape(unknown, known, "mallory", "carl")

        stranger = Ed25519PrivateKey.generate()
        unknown = await attempt(ports["cryptosign"], ["cryptosign"], authextra={"pubkey": pubkey_of(stranger)},
                                signer=stranger)
        known = await attempt(ports["cryptosign"], ["cryptosign"], authextra={"pubkey": pubkey_of(ALICE_KEY)},
                              signer=stranger)
        assert [m for m, _ in unknown.challenges] == [m for m, _ in known.challenges] == ["cryptosign"]
        assert unknown.ended == known.ended

    run(scenario())
    for method, authid in (("ticket", "'mallory'"), ("ticket", "'carl'"), ("wampcra", "'mallory'"),
                           ("cryptosign", "-")):
        line = (f"[warn] authentication failed: peer=127.0.0.1 method={method} realm='realm1' authid={authid} "
                "reason=wamp.error.not_authorized")
        assert node.wait_for(line), node.output()


def readme_fail2ban_filter() -> str:
    """The fail2ban filter the README documents (the ``ini`` block after "filter.d/wampnode.conf")."""
    text = (REPO / "README.md").read_text()
    start = text.index("# /etc/fail2ban/filter.d/wampnode.conf")
    return text[start:text.index("```", start)]


def test_readme_fail2ban_filter_matches_the_failure_lines(node, tmp_path):
    """fail2ban-regex, with the README's filter, finds the peer address in each failure line of the
    node's log and in no other line."""
    tool = shutil.which("fail2ban-regex")
    assert tool, "fail2ban-regex missing: tests/run.sh installs fail2ban (tests/apt-packages.txt)"

    async def scenario():
        await attempt(node.ports["ticket"], ["ticket"], "fail2ban-probe", "guess")

    run(scenario())
    assert node.wait_for("authid='fail2ban-probe'")
    log = tmp_path / "node.log"
    log.write_text(node.output())
    failures = [line for line in node.output().splitlines() if "authentication failed: " in line]
    (tmp_path / "wampnode.conf").write_text(readme_fail2ban_filter())
    found = subprocess.run([tool, "-o", "ip", str(log), str(tmp_path / "wampnode.conf")],
                           capture_output=True, text=True, timeout=60)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["127.0.0.1"] * len(failures) and failures, found.stdout


def test_answers_to_an_address_that_failed_often_are_late(tmp_path):
    """With free 2, delay 0.5 s: two wrong tickets are answered at once, the next ones after 0.5 s,
    then 1 s, and a right ticket after 2 s; meanwhile a joined session is served (the wait is a
    timer, not a blocked reactor)."""
    ports = {name: free_port() for name in ("open", "ticket", "anon", "named", "cra", "cryptosign", "dyn")}
    config = router_config(transports(ports)[:2], [{"name": "realm1", "roles": ROLES}])
    config["workers"][0]["options"] = {"auth_failures": {"free": 2, "delay": 0.5, "max_delay": 10, "window": 60}}
    node = start_node(config, tmp_path / "node")

    async def timed(secret: str) -> Tuple[float, Attempt]:
        started = time.monotonic()
        session = await attempt(ports["ticket"], ["ticket"], "carl", secret)
        return time.monotonic() - started, session

    async def scenario():
        backend = await connect(ws(ports["open"]))
        free = [await timed("guess") for _ in range(2)]
        third = await timed("guess")
        fourth = asyncio.ensure_future(timed("guess"))
        assert await backend.call("wamp.session.count") == 1
        assert not fourth.done()  # served while the fourth answer is held
        fourth = await fourth
        right = await timed("carl-ticket")
        for _, session in free + [third, fourth]:
            assert session.ended[0] == "wamp.error.not_authorized"
        assert right[1]._authid == "carl" and right[1].is_attached()
        assert third[0] >= 0.5 and fourth[0] >= 1.0 and right[0] >= 2.0, (free, third, fourth, right)
        assert max(t for t, _ in free) < 1.0, free
        await leave(right[1], backend)

    try:
        run(scenario())
        assert node.output().count("authentication failed: peer=127.0.0.1 method=ticket") == 4
    finally:
        node.stop()
    assert "Traceback" not in node.output()
