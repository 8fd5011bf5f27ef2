"""TLS client-certificate authentication and cryptosign channel binding through a running node.

autobahn-python (asyncio) clients over wss with the test PKI: the ``tls`` method names the
principal by certificate fingerprint or by CN; cryptosign with ``channel_binding:
"tls-unique"`` signs the challenge XOR the TLS channel id (SHA-256 of tls-unique), so a signature made for another
TLS connection is refused.
"""
from __future__ import annotations

import asyncio
import hashlib
import ssl
from typing import Any, Optional, Tuple

import pytest
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.types import ComponentConfig
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from conftest import free_port, router_config, start_node, tcp
from pki import issue, make_pki
from wampclient import SERIALIZERS, TIMEOUT, ClientSession, leave, run

CLIENT_KEY = Ed25519PrivateKey.generate()
CLIENT_PUB = CLIENT_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
ROLES = [{"name": name, "permissions": [{"uri": "com.", "match": "prefix", "allow": {"call": True, "register": True}}]}
         for name in ("backend", "device")]


def fingerprint(cert_path) -> str:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A node with three wss transports: tls auth by fingerprint, tls auth by CN, cryptosign."""
    directory = tmp_path_factory.mktemp("tls-auth")
    pki = make_pki(directory / "pki")
    clients = {}
    for name in ("device-7", "sensor-9"):
        key, crt = issue(pki, name, hosts=[], client=True)
        chain = pki.directory / f"{name}-chain.crt"
        chain.write_bytes(crt.read_bytes() + pki.intermediate_crt.read_bytes())
        clients[name] = (key, chain, crt)
    ports = {name: free_port() for name in ("by_fingerprint", "by_name", "cryptosign", "mixed")}
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt),
           "ca_certificates": [str(pki.root_crt)], "verify_client": "optional"}
    transports = [
        {"type": "websocket", "endpoint": tcp(ports["by_fingerprint"], tls=tls), "auth": {"tls": {
            "type": "static", "principals": {
                "dev7": {"certificate-sha256": fingerprint(clients["device-7"][2]), "role": "backend"}}}}},
        {"type": "websocket", "endpoint": tcp(ports["by_name"], tls=tls),
         "auth": {"tls": {"type": "static", "role": "device"}}},
        {"type": "websocket", "endpoint": tcp(ports["cryptosign"], tls=tls), "auth": {"cryptosign": {
            "type": "static", "principals": {
                "alice": {"realm": "realm1", "role": "backend", "authorized_keys": [CLIENT_PUB]}}}}},
        {"type": "websocket", "endpoint": tcp(ports["mixed"], tls=tls), "auth": {
            "tls": {"type": "static", "principals": {
                "dev7": {"certificate-sha256": fingerprint(clients["device-7"][2]), "role": "backend"}}},
            "anonymous": {"type": "static", "role": "device"}}},
    ]
    node = start_node(router_config(transports, [{"name": "realm1", "roles": ROLES}]), directory / "node")
    yield pki, clients, ports
    node.stop()
    assert "Traceback" not in node.output(), node.output()


def client_tls(pki, cert: Optional[Tuple[Any, Any]] = None, tls12: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.root_crt))
    if cert is not None:
        context.load_cert_chain(str(cert[1]), str(cert[0]))
    if tls12:
        context.maximum_version = ssl.TLSVersion.TLSv1_2  # tls-unique exists only up to TLS 1.2
    return context


class BoundCryptosignSession(ClientSession):
    """Cryptosign with channel binding: signs challenge XOR the channel id (or a wrong one).

    The channel id is SHA-256 of the tls-unique value (the first Finished message), as
    autobahn computes it on both Twisted and asyncio."""

    def __init__(self, config: ComponentConfig, wrong_binding: bool = False) -> None:
        super().__init__(config)
        self.wrong_binding = wrong_binding

    def onConnect(self) -> None:
        self.join(self.config.realm, authmethods=["cryptosign"],
                  authextra={"pubkey": CLIENT_PUB, "channel_binding": "tls-unique"})

    def onChallenge(self, challenge: Any) -> str:
        ssl_object = self._transport.transport.get_extra_info("ssl_object")
        binding = hashlib.sha256(ssl_object.get_channel_binding("tls-unique")).digest()
        if self.wrong_binding:
            binding = bytes(32)
        data = bytes.fromhex(challenge.extra["challenge"])
        signed = bytes(a ^ b for a, b in zip(data, binding))
        return (CLIENT_KEY.sign(signed) + signed).hex()


async def open_session(port: int, context: ssl.SSLContext, session: ClientSession,
                       serializer: str = "json") -> ClientSession:
    url = f"wss://localhost:{port}/"
    factory = WampWebSocketClientFactory(lambda: session, url=url, serializers=[SERIALIZERS[serializer]()])
    await asyncio.wait_for(asyncio.get_event_loop().create_connection(
        factory, "localhost", port, ssl=context, server_hostname="localhost"), TIMEOUT)
    await asyncio.wait_for(asyncio.shield(session.joined), TIMEOUT)
    return session


def tls_session() -> ClientSession:
    return ClientSession(ComponentConfig(realm="realm1"), authmethods=["tls"])


def test_tls_principal_by_fingerprint_routes(setup):
    """A client certificate whose SHA-256 is a principal's joins as that principal and can call."""
    pki, clients, ports = setup

    async def scenario():
        callee = await open_session(ports["by_fingerprint"], client_tls(pki, clients["device-7"]), tls_session())
        caller = await open_session(ports["by_fingerprint"], client_tls(pki, clients["device-7"]), tls_session(),
                                    "msgpack")
        await callee.register(lambda x: x + 1, "com.tls.inc")
        result = await caller.call("com.tls.inc", 41)
        details = (caller._authid, caller._authrole, caller._authmethod)
        await leave(callee, caller)
        return result, details

    assert run(scenario()) == (42, ("dev7", "backend", "tls"))


def test_tls_certificate_of_no_principal_is_refused(setup):
    """A valid client certificate matching no principal's fingerprint is refused."""
    pki, clients, ports = setup

    async def scenario():
        with pytest.raises(ConnectionError, match="no_such_principal"):
            await open_session(ports["by_fingerprint"], client_tls(pki, clients["sensor-9"]), tls_session())

    run(scenario())


def test_tls_authid_from_common_name(setup):
    """Without principals the authid is the certificate's CN and the role is the method's role."""
    pki, clients, ports = setup

    async def scenario():
        session = await open_session(ports["by_name"], client_tls(pki, clients["sensor-9"]), tls_session(), "cbor")
        details = (session._authid, session._authrole, session._authmethod)
        await leave(session)
        return details

    assert run(scenario()) == ("sensor-9", "device", "tls")


def test_tls_without_client_certificate_is_refused(setup):
    """A client that presents no certificate cannot use the tls method."""
    pki, _, ports = setup

    async def scenario():
        with pytest.raises(ConnectionError, match="no_auth_method"):
            await open_session(ports["by_name"], client_tls(pki), tls_session())

    run(scenario())


def test_cryptosign_channel_binding(setup):
    """cryptosign with tls-unique joins when signed over this connection's channel id, not otherwise."""
    pki, _, ports = setup

    async def scenario():
        good = await open_session(ports["cryptosign"], client_tls(pki, tls12=True),
                                  BoundCryptosignSession(ComponentConfig(realm="realm1")))
        details = (good._authid, good._authmethod)
        await leave(good)
        with pytest.raises(ConnectionError, match="wamp.error.not_authorized"):  # a bad signature
            await open_session(ports["cryptosign"], client_tls(pki, tls12=True),
                               BoundCryptosignSession(ComponentConfig(realm="realm1"), wrong_binding=True))
        return details

    assert run(scenario()) == ("alice", "cryptosign")


def test_anonymous_session_cannot_name_itself_after_a_certificate_principal(setup):
    """Beside tls, an anonymous session naming the certificate principal dev7 in HELLO (with a
    certificate of no principal) joins with a random authid; dev7's certificate still makes dev7."""
    pki, clients, ports = setup

    async def scenario():
        impostor = await open_session(ports["mixed"], client_tls(pki, clients["sensor-9"]), ClientSession(
            ComponentConfig(realm="realm1"), authmethods=["anonymous"], authid="dev7"))
        real = await open_session(ports["mixed"], client_tls(pki, clients["device-7"]), tls_session())
        details = [(s._authid, s._authrole, s._authmethod) for s in (impostor, real)]
        await leave(impostor, real)
        return details

    (impostor_id, *impostor), real = run(scenario())
    assert impostor_id != "dev7" and impostor == ["device", "anonymous"] and real == ("dev7", "backend", "tls")
