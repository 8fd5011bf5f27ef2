"""Mutual TLS end to end: client certificates from ``wampnode cert`` and the router's ``tls`` auth."""
from __future__ import annotations

import asyncio
import ssl
from typing import Dict, Optional

import pytest
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.types import ComponentConfig

from conftest import free_port, router_config, run_cli, tcp
from wampclient import SERIALIZERS, TIMEOUT, ClientSession, leave, run


def cli_ok(*args: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def mtls_node(tmp_path, node_factory) -> Dict:
    """A node whose wss transport requires a client certificate and authenticates by it."""
    ca, node_dir = tmp_path / "ca", tmp_path / "node"
    cli_ok("cert", "ca", "--dir", str(ca))
    cli_ok("cert", "issue", "--ca", str(ca), "--host", "localhost", "--dir", str(node_dir))
    cli_ok("cert", "issue", "--ca", str(ca), "--client", "--host", "alice", "--name", "alice",
           "--dir", str(tmp_path / "clients"))
    port = free_port()
    realm = {"name": "realm1", "roles": [{"name": "device", "permissions": [
        {"uri": "", "match": "prefix", "allow": {"call": True, "register": True,
                                                 "publish": True, "subscribe": True}}]}]}
    node_factory(router_config([{
        "type": "websocket",
        "endpoint": tcp(port, {"key": "server.key", "certificate": "server.crt",
                               "ca_certificates": [str(ca / "ca.crt")], "verify_client": "required"}),
        "auth": {"tls": {"type": "static", "role": "device"}},
    }], realms=[realm]), node_dir)
    return {"port": port, "ca": str(ca / "ca.crt"), "client": tmp_path / "clients"}


async def join(port: int, cafile: str, cert: Optional[str], key: Optional[str]) -> ClientSession:
    context = ssl.create_default_context(cafile=cafile)
    if cert:
        context.load_cert_chain(cert, key)
    session = ClientSession(ComponentConfig(realm="realm1"), ["tls"])
    url = f"wss://localhost:{port}/"
    factory = WampWebSocketClientFactory(lambda: session, url=url,
                                         serializers=[SERIALIZERS["json"]()])
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.create_connection(factory, "127.0.0.1", port, ssl=context,
                                                  server_hostname="localhost"), TIMEOUT)
    await asyncio.wait_for(asyncio.shield(session.joined), TIMEOUT)
    return session


def test_client_certificate_names_the_principal(mtls_node):
    """A client certificate from the CA connects, and the router's tls auth sees CN=alice."""
    async def scenario() -> None:
        client = mtls_node["client"]
        session = await join(mtls_node["port"], mtls_node["ca"], str(client / "alice.crt"),
                             str(client / "alice.key"))
        details = await session.joined
        assert (details.authid, details.authrole, details.authmethod) == ("alice", "device", "tls")
        await leave(session)

    run(scenario())


def test_no_client_certificate_is_refused(mtls_node):
    """Without a client certificate the server ends the handshake with certificate_required."""
    import socket

    context = ssl.create_default_context(cafile=mtls_node["ca"])
    with socket.create_connection(("127.0.0.1", mtls_node["port"]), timeout=TIMEOUT) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            # TLS 1.3: the client finishes first; the server's alert comes with the next read.
            tls.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            with pytest.raises(ssl.SSLError) as caught:
                tls.recv(1024)
    assert "CERTIFICATE_REQUIRED" in str(caught.value)
