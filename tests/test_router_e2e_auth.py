"""Roles, permissions and authentication through a running node, with autobahn-python clients."""
from __future__ import annotations

import asyncio
import binascii

import pytest
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import ComponentConfig, PublishOptions
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from conftest import free_port, router_config, start_node, tcp
from wampclient import SERIALIZERS, TIMEOUT, ClientSession, connect, leave, run

CLIENT_KEY = Ed25519PrivateKey.generate()
CLIENT_PUB = CLIENT_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def perm(uri, match="exact", **allow):
    return {"uri": uri, "match": match, "allow": allow}


ROLES = [
    {"name": "backend", "permissions": [
        perm("com.", "prefix", call=True, register=True, publish=True, subscribe=True),
        {"uri": "wamp.", "match": "prefix", "allow": {"call": True, "subscribe": True}}]},
    {"name": "frontend", "permissions": [
        perm("com.pub.", "prefix", subscribe=True),
        perm("com.api.", "prefix", call=True),
        perm("com.api.admin", "exact"),  # exact beats the prefix: denied
        {"uri": "com.api.disclosed", "allow": {"call": True}, "disclose": {"caller": True}}]},
    {"name": "dyn", "authorizer": "com.auth.authorize"},
]


@pytest.fixture(scope="module")
def ports(tmp_path_factory):
    ports = {name: free_port() for name in ("open", "ticket", "cra", "cryptosign", "dynamic", "anon")}
    transports = [
        {"type": "websocket", "endpoint": tcp(ports["open"]),
         "auth": {"anonymous": {"type": "static", "role": "backend"}}},
        {"type": "websocket", "endpoint": tcp(ports["ticket"]),
         "auth": {"ticket": {"type": "static", "principals": {"joe": {"ticket": "${E2E_TICKET}", "role": "frontend"}}}}},
        {"type": "websocket", "endpoint": tcp(ports["cra"]),
         "auth": {"wampcra": {"type": "static", "users": {
             "carl": {"secret": "pw", "role": "backend", "salt": "s4lt", "iterations": 50, "keylen": 32}}}}},
        {"type": "websocket", "endpoint": tcp(ports["cryptosign"]),
         "auth": {"cryptosign": {"type": "static", "principals": {
             "alice": {"realm": "realm1", "role": "frontend", "authorized_keys": [CLIENT_PUB]}}}}},
        {"type": "websocket", "endpoint": tcp(ports["dynamic"]),
         "auth": {"ticket": {"type": "dynamic", "authenticator": "com.auth.ticket"}}},
        {"type": "websocket", "endpoint": tcp(ports["anon"]),
         "auth": {"anonymous": {"type": "static", "role": "dyn"}}},
    ]
    node = start_node(router_config(transports, [{"name": "realm1", "roles": ROLES}]),
                      tmp_path_factory.mktemp("router-auth"), env={"E2E_TICKET": "t1cket"})
    yield ports
    node.stop()
    output = node.output()
    assert "Traceback" not in output and "t1cket" not in output, output


def ws(port):
    return f"ws://127.0.0.1:{port}/"


class CryptosignSession(ClientSession):
    """Signs the cryptosign challenge with CLIENT_KEY (no PyNaCl needed)."""

    def onConnect(self):
        self.join(self.config.realm, authmethods=["cryptosign"], authextra={"pubkey": CLIENT_PUB})

    def onChallenge(self, challenge):
        data = binascii.a2b_hex(challenge.extra["challenge"])
        return (CLIENT_KEY.sign(data) + data).hex()


async def connect_cryptosign(url, serializer):
    loop = asyncio.get_event_loop()
    session = CryptosignSession(ComponentConfig(realm="realm1"))
    factory = WampWebSocketClientFactory(lambda: session, url=url, serializers=[SERIALIZERS[serializer]()])
    await loop.create_connection(factory, "127.0.0.1", int(url.rsplit(":", 1)[1].strip("/")))
    await asyncio.wait_for(asyncio.shield(session.joined), TIMEOUT)
    return session


@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
def test_permission_matrix_over_the_wire(ports, serializer):
    """A frontend (ticket) may subscribe com.pub.* and call com.api.*, nothing else; exact rules win."""
    async def scenario():
        backend = await connect(ws(ports["open"]), serializer=serializer)
        front = await connect(ws(ports["ticket"]), serializer=serializer, authmethods=["ticket"],
                              authid="joe", secret="t1cket")
        assert (front._authid, front._authrole) == ("joe", "frontend")
        await backend.register(lambda: "ok", f"com.api.hello.{serializer}")
        await backend.register(lambda: "secret", "com.api.admin") if serializer == "json" else None
        assert await front.call(f"com.api.hello.{serializer}") == "ok"
        denied = [
            front.call("com.api.admin"),
            front.register(lambda: 1, "com.api.mine"),
            front.subscribe(lambda: 1, "com.private.t"),
            front.publish("com.pub.t", 1, options=PublishOptions(acknowledge=True)),
            front.call("wamp.session.count"),
        ]
        for attempt in denied:
            with pytest.raises(ApplicationError) as info:
                await attempt
            assert info.value.error == "wamp.error.not_authorized"
        got = asyncio.get_event_loop().create_future()
        await front.subscribe(lambda v: got.done() or got.set_result(v), "com.pub.news")
        await backend.publish("com.pub.news", "hi", options=PublishOptions(acknowledge=True))
        assert await asyncio.wait_for(got, 5) == "hi"
        await leave(front, backend)

    run(scenario())


def test_wrong_ticket_is_refused(ports):
    """A wrong ticket ends in ABORT not_authorized (as in Crossbar.io; an unknown principal gets the
    same), before any join."""
    async def scenario():
        with pytest.raises(ConnectionError) as info:
            await connect(ws(ports["ticket"]), authmethods=["ticket"], authid="joe", secret="nope")
        assert "wamp.error.not_authorized" in str(info.value)

    run(scenario())


@pytest.mark.parametrize("serializer", ["json", "cbor"])
def test_wampcra_salted(ports, serializer):
    """A WAMP-CRA client with a salted (PBKDF2) secret joins as its configured role."""
    async def scenario():
        s = await connect(ws(ports["cra"]), serializer=serializer, authmethods=["wampcra"], authid="carl",
                          secret="pw")
        assert (s._authid, s._authrole, s._authmethod) == ("carl", "backend", "wampcra")
        assert await s.call("wamp.session.count") >= 1
        await leave(s)

    run(scenario())


@pytest.mark.parametrize("serializer", ["json", "msgpack"])
def test_cryptosign_and_caller_disclosure(ports, serializer):
    """A cryptosign client joins as alice; its calls on a disclose.caller URI carry its identity."""
    async def scenario():
        backend = await connect(ws(ports["open"]), serializer=serializer)
        from autobahn.wamp.types import RegisterOptions

        await backend.register(lambda details=None: [details.caller_authid, details.caller_authrole],
                               "com.api.disclosed", options=RegisterOptions(details_arg="details"))
        alice = await connect_cryptosign(ws(ports["cryptosign"]), serializer)
        assert (alice._authid, alice._authrole) == ("alice", "frontend")
        assert await alice.call("com.api.disclosed") == ["alice", "frontend"]
        await leave(alice, backend)

    run(scenario())


def test_dynamic_authenticator_and_authorizer(ports):
    """A dynamic ticket authenticator and a dynamic authorizer, both WAMP procedures, decide."""
    async def scenario():
        backend = await connect(ws(ports["open"]))
        asked = []

        def authenticate(realm, authid, details):
            if details.get("ticket") != "dyn-" + authid:
                raise ApplicationError("wamp.error.not_authorized", "bad ticket")
            return {"role": "backend", "extra": {"greeting": "hi " + authid}}

        def authorize(session, uri, action, options):
            asked.append((uri, action))
            return {"allow": uri.startswith("com.dyn."), "cache": True}

        await backend.register(authenticate, "com.auth.ticket")
        await backend.register(authorize, "com.auth.authorize")
        user = await connect(ws(ports["dynamic"]), authmethods=["ticket"], authid="pat", secret="dyn-pat")
        assert (user._authid, user._authrole) == ("pat", "backend")
        with pytest.raises(ConnectionError):
            await connect(ws(ports["dynamic"]), authmethods=["ticket"], authid="pat", secret="wrong")
        dyn = await connect(ws(ports["anon"]))
        await dyn.subscribe(lambda: None, "com.dyn.ok")
        await dyn.subscribe(lambda: None, "com.dyn.ok")
        with pytest.raises(ApplicationError) as info:
            await dyn.subscribe(lambda: None, "com.other")
        assert info.value.error == "wamp.error.not_authorized"
        assert asked == [("com.dyn.ok", "subscribe"), ("com.other", "subscribe")]
        await leave(dyn, user, backend)

    run(scenario())
