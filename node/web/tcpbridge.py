"""``tcpbridge`` paths: a WebSocket endpoint that carries one TCP (or Unix) connection each.

The protocol lives in :mod:`node.bridge`; this is the web tree's builder. Its
``allowed_origins`` entries are matched with default ports (:mod:`node.web.origins`).
"""
from __future__ import annotations

from typing import Any

from autobahn.twisted.resource import WebSocketResource

from node.bridge.server import bridge_factory
from node.config.model import TcpBridgePath
from node.web.origins import with_default_ports


def tcpbridge_resource(config: TcpBridgePath) -> Any:
    factory = bridge_factory(config)
    factory.setProtocolOptions(allowedOrigins=with_default_ports(config.allowed_origins))
    return WebSocketResource(factory)
