"""WAMP traffic over every transport kind, serializer and TLS, with autobahn-python clients."""
from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest
from autobahn.wamp.types import PublishOptions

from conftest import free_port, router_config, tcp
from pki import make_pki
from wampclient import connect, leave, raw_websocket, run

REFERENCE = Path(__file__).resolve().parent / "data"  # copies of shared/reference/crossbar-configs


async def pubsub_and_rpc(url: str, serializer: str = "json", cafile: str = None) -> None:
    """Two sessions: one subscribes and registers, the other publishes and calls."""
    a = await connect(url, serializer=serializer, cafile=cafile)
    b = await connect(url, serializer=serializer, cafile=cafile)
    got = asyncio.get_event_loop().create_future()
    await a.subscribe(lambda *args, **kwargs: got.done() or got.set_result((args, kwargs)), "com.example.topic")
    await a.register(lambda x, y: x + y, "com.example.add")
    await b.publish("com.example.topic", 1, "two", key=[3], options=PublishOptions(acknowledge=True))
    assert await asyncio.wait_for(got, 5) == ((1, "two"), {"key": [3]})
    assert await b.call("com.example.add", 20, 22) == 42
    await leave(a, b)


@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
def test_websocket_transport(node_factory, serializer):
    """A `websocket` transport routes pub/sub and RPC between two sessions."""
    port = free_port()
    node_factory(router_config([{"type": "websocket", "endpoint": tcp(port)}]))
    run(pubsub_and_rpc(f"ws://127.0.0.1:{port}/", serializer))


@pytest.mark.parametrize("serializer", ["json", "msgpack", "cbor"])
def test_rawsocket_transport(node_factory, serializer):
    """A `rawsocket` transport routes pub/sub and RPC between two sessions."""
    port = free_port()
    node_factory(router_config([{"type": "rawsocket", "endpoint": tcp(port)}]))
    run(pubsub_and_rpc(f"rs://127.0.0.1:{port}", serializer))


def test_web_transport_ws_path_and_wss(tmp_path, node_factory):
    """The `ws` path of a web transport carries WAMP over ws and, on a TLS endpoint, over wss."""
    pki = make_pki(tmp_path / "pki")
    plain, secure = free_port(), free_port()
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.leaf_crt),
           "chain_certificates": [str(pki.intermediate_crt)]}
    paths = {"ws": {"type": "websocket"}, "info": {"type": "nodeinfo"}}
    node_factory(router_config([{"type": "web", "endpoint": tcp(plain), "paths": paths},
                                {"type": "web", "endpoint": tcp(secure, tls=tls), "paths": paths}]))
    run(pubsub_and_rpc(f"ws://127.0.0.1:{plain}/ws", "msgpack"))
    run(pubsub_and_rpc(f"wss://localhost:{secure}/ws", "cbor", cafile=str(pki.root_crt)))


def test_wss_on_ipv6(tmp_path, node_factory):
    """TLS works on an IPv6 endpoint (Crossbar.io cannot do that)."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    pki = make_pki(tmp_path / "pki")
    port = free_port("::1")
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt)}
    node_factory(router_config([{"type": "websocket", "endpoint": tcp(port, tls=tls, interface="::1", version=6)}]))
    run(pubsub_and_rpc(f"wss://[::1]:{port}/", "json", cafile=str(pki.root_crt)))


def test_universal_transport(tmp_path, node_factory):
    """One `universal` port serves RawSocket, WebSocket and static web."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("universal hello")
    port = free_port()
    node_factory(router_config([{"type": "universal", "endpoint": tcp(port),
                                 "rawsocket": {"serializers": ["json", "msgpack"]},
                                 "websocket": {"ws": {"type": "websocket"}},
                                 "web": {"paths": {"/": {"type": "static", "directory": str(www)}}}}]))
    run(pubsub_and_rpc(f"rs://127.0.0.1:{port}", "msgpack"))
    run(pubsub_and_rpc(f"ws://127.0.0.1:{port}/ws", "json"))
    import urllib.request

    assert b"universal hello" in urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).read()


def test_crossbar_init_config_runs_unchanged(tmp_path, node_factory):
    """The config Crossbar.io 26.10's `crossbar init` writes starts unchanged; both transports work."""
    source = REFERENCE / "crossbar-init-26.10.json"
    web_port, raw_port = free_port(), free_port()
    text = source.read_text().replace('"port": 8080', f'"port": {web_port}').replace('"port": 8081', f'"port": {raw_port}')
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("crossbar app")
    cbdir = tmp_path / ".crossbar"
    cbdir.mkdir()
    (cbdir / "config.json").write_text(text)
    node_factory(None, cbdir=cbdir)
    run(pubsub_and_rpc(f"ws://127.0.0.1:{web_port}/ws", "cbor"))
    run(pubsub_and_rpc(f"rs://127.0.0.1:{raw_port}", "json"))
    import urllib.request

    assert b"crossbar app" in urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=5).read()
    info = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/info", timeout=5).read()
    assert b"wampnode" in info


def test_oversize_message_closes_1009(node_factory):
    """A message above max_message_size closes that connection with 1009; others stay up."""
    port = free_port()
    node_factory(router_config([{"type": "websocket", "endpoint": tcp(port),
                                 "options": {"max_message_size": 4096}}]))

    async def scenario():
        bystander = await connect(f"ws://127.0.0.1:{port}/")
        protocol, factory = await raw_websocket(f"ws://127.0.0.1:{port}/", ["wamp.2.json"])
        protocol.sendMessage(json.dumps([1, "realm1", {"x": "y" * 10000}]).encode())
        code, _ = await asyncio.wait_for(factory.closed, 5)
        assert code == 1009
        # the bystander is still served, and the oversize HELLO never became a session
        assert await bystander.call("wamp.session.count") == 1
        await leave(bystander)

    run(scenario())


def test_malformed_wamp_message_aborts_only_that_peer(node_factory):
    """Undecodable bytes get ABORT wamp.error.protocol_violation and a close; others are unaffected."""
    port = free_port()
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port)}]))

    async def scenario():
        good = await connect(f"ws://127.0.0.1:{port}/")
        got = asyncio.get_event_loop().create_future()
        await good.subscribe(lambda v: got.done() or got.set_result(v), "com.t")
        for junk in (b"{not json", b"[1, 2", json.dumps({"a": 1}).encode(), b"[999]"):
            protocol, factory = await raw_websocket(f"ws://127.0.0.1:{port}/", ["wamp.2.json"])
            protocol.sendMessage(junk)
            code, _ = await asyncio.wait_for(factory.closed, 5)
            assert code in (1002, 1000, None), code
            assert any(b"wamp.error.protocol_violation" in m for m in factory.messages), (junk, factory.messages)
        other = await connect(f"ws://127.0.0.1:{port}/")
        await other.publish("com.t", "still routing", options=PublishOptions(acknowledge=True))
        assert await asyncio.wait_for(got, 5) == "still routing"
        await leave(good, other)

    run(scenario())
    assert "Traceback" not in node.output()
    assert "WAMP protocol violation" in node.output()


def test_sigterm_closes_sessions_with_1001(node_factory, tmp_path):
    """SIGTERM: connected clients see close code 1001, the node exits 0 and removes its pidfile."""
    port = free_port()
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port)}]))

    async def scenario():
        protocol, factory = await raw_websocket(f"ws://127.0.0.1:{port}/", ["wamp.2.json"])
        node.signal(15)
        code, _ = await asyncio.wait_for(factory.closed, 10)
        return code

    assert run(scenario()) == 1001
    assert node.proc.wait(10) == 0
    assert not (node.cbdir / "node.pid").exists()
