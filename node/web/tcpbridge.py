"""``tcpbridge`` paths: a WebSocket endpoint that carries one TCP (or Unix) connection each.

The protocol lives in :mod:`node.bridge`; this is the web tree's builder.
"""
from __future__ import annotations

from typing import Any

from autobahn.twisted.resource import WebSocketResource

from node.bridge.server import bridge_factory
from node.config.model import TcpBridgePath


def tcpbridge_resource(config: TcpBridgePath) -> Any:
    return WebSocketResource(bridge_factory(config))
