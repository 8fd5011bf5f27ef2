"""Transport edge cases: unix sockets, compression, malformed WebSocket frames, --config."""
from __future__ import annotations

import asyncio
import json
import socket

from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateResponse, \
    PerMessageDeflateResponseAccept

from conftest import await_until, free_port, router_config, start_node, tcp
from wampclient import connect, leave, run


def test_unix_socket_websocket_transport(tmp_path, node_factory):
    """A websocket transport on a unix socket carries WAMP; the socket file is created."""
    path = tmp_path / "node.sock"
    node_factory(router_config([{"type": "websocket", "endpoint": {"type": "unix", "path": str(path)}}]))
    assert path.exists()

    async def scenario():
        from autobahn.asyncio.websocket import WampWebSocketClientFactory
        from autobahn.wamp.serializer import JsonSerializer
        from autobahn.wamp.types import ComponentConfig
        from wampclient import ClientSession

        session = ClientSession(ComponentConfig(realm="realm1"))
        factory = WampWebSocketClientFactory(lambda: session, url="ws://localhost/", serializers=[JsonSerializer()])
        await asyncio.get_event_loop().create_unix_connection(factory, str(path))
        details = await asyncio.wait_for(session.joined, 5)
        assert details.realm == "realm1"
        await leave(session)

    run(scenario())


def test_stale_unix_socket_is_replaced(tmp_path, node_factory):
    """A socket file left by a dead process does not stop the node from listening."""
    path = tmp_path / "stale.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()
    node_factory(router_config([{"type": "rawsocket", "endpoint": {"type": "unix", "path": str(path)}}]))
    probe = socket.socket(socket.AF_UNIX)
    probe.settimeout(5)
    probe.connect(str(path))  # refused if the stale file were still there
    probe.sendall(b"\x7f\xf1\x00\x00")
    assert probe.recv(4)[0] == 0x7F  # the node's RawSocket handshake reply
    probe.close()


def test_permessage_deflate_is_negotiated(node_factory):
    """With `compression.deflate` configured, a client's permessage-deflate offer is accepted."""
    port = free_port()
    node_factory(router_config([{"type": "websocket", "endpoint": tcp(port),
                                 "options": {"compression": {"deflate": {"max_window_bits": 13, "memory_level": 5}}}}]))

    async def scenario():
        from autobahn.asyncio.websocket import WebSocketClientFactory
        from wampclient import RecordingProtocol

        loop = asyncio.get_event_loop()
        factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}/", protocols=["wamp.2.json"])
        factory.protocol = RecordingProtocol
        factory.opened, factory.closed, factory.messages = loop.create_future(), loop.create_future(), []
        factory.setProtocolOptions(perMessageCompressionOffers=[PerMessageDeflateOffer()],
                                   perMessageCompressionAccept=lambda r: PerMessageDeflateResponseAccept(r)
                                   if isinstance(r, PerMessageDeflateResponse) else None)
        await loop.create_connection(factory, "127.0.0.1", port)
        protocol = await asyncio.wait_for(factory.opened, 5)
        assert protocol._perMessageCompress is not None
        assert protocol._perMessageCompress.EXTENSION_NAME == "permessage-deflate"
        protocol.sendMessage(json.dumps([1, "realm1", {"roles": {"subscriber": {}}}]).encode())
        assert await await_until(lambda: protocol.factory.messages, 2.5)
        assert json.loads(protocol.factory.messages[0])[0] == 2  # WELCOME, compressed and inflated
        protocol.sendClose(1000)

    run(scenario())


def test_malformed_websocket_frame_closes_1002_only_that_peer(node_factory):
    """An unmasked client frame (RFC 6455 5.1) closes that connection with 1002; others keep working."""
    port = free_port()
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port)}]))

    async def scenario():
        good = await connect(f"ws://127.0.0.1:{port}/")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n").encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        writer.write(b"\x81\x02[]")  # text frame, not masked
        data = await asyncio.wait_for(reader.read(100), 5)
        assert data[:2] == b"\x88" + bytes([len(data) - 2]) and int.from_bytes(data[2:4], "big") == 1002
        writer.close()
        assert await good.call("wamp.session.count") == 1
        await leave(good)

    run(scenario())
    assert "Traceback" not in node.output()


def test_config_option_and_ignored_crossbar_keys(tmp_path):
    """--config FILE is used instead of CBDIR/config.json; unused Crossbar.io keys are named in the log."""
    port = free_port()
    config = router_config([{"type": "websocket", "endpoint": tcp(port)}])
    config["controller"] = {"id": "node1"}
    other = tmp_path / "elsewhere.json"
    other.write_text(json.dumps(config))
    (tmp_path / "cbdir").mkdir()
    node = start_node(None, tmp_path / "cbdir", args=["--config", str(other)])
    try:
        assert "Accepted but not used by wampnode (Crossbar.io keys): controller.id" in node.output()
    finally:
        assert node.stop() == 0
