"""An echoing WebSocket service for conformance testing (Crossbar.io's "testee").

The Autobahn WebSocket test suite (``wstest -m fuzzingclient``, or ``kosoku``)
drives a server that echoes every message back. This one is the stack a WAMP
connection gets: autobahn's WebSocket protocol with wampnode's receive and send
path (:class:`~node.fastpath.websocket_frames.FramedDelivery`) and exactly the options a
WAMP transport of the same config gets (the same ``protocol_options`` mapping), so
a conformance run measures what the router serves, not a stock autobahn echo server.

Crossbar.io names it ``websocket.testee`` as a transport type; wampnode also
offers it as a ``websocket-testee`` path of a ``web`` transport.
"""
from __future__ import annotations

from typing import Any, Set

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol

from node.config.model import WebSocketOptions
from node.fastpath.timeouts import round_up_timeouts
from node.fastpath.websocket_frames import FramedDelivery
from node.transports.websocket import CLOSE_GOING_AWAY, protocol_options
from node.transports.websocket_guards import RequestHeadLimit, StrictCloseFrames


class TesteeProtocol(RequestHeadLimit, StrictCloseFrames, FramedDelivery, WebSocketServerProtocol):
    """Echoes each message with the opcode (text or binary) it came with."""

    def connectionMade(self) -> None:
        super().connectionMade()
        self.factory.connections.add(self)

    def connectionLost(self, reason: Any) -> None:
        self.factory.connections.discard(self)
        super().connectionLost(reason)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        if self.state == self.STATE_OPEN:  # a message may still arrive while we close
            self.send_payload(payload, isBinary)

    def close_with(self, code: int, reason: str) -> None:
        if self.state == self.STATE_OPEN:
            self.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8"), isReply=False)


class TesteeFactory(WebSocketServerFactory):
    protocol = TesteeProtocol

    def __init__(self, options: WebSocketOptions, is_secure: bool) -> None:
        super().__init__(url="wss://localhost" if is_secure else "ws://localhost", server="wampnode")
        round_up_timeouts(self)
        self.setProtocolOptions(**protocol_options(options))
        self.connections: Set[TesteeProtocol] = set()
        self.max_request_head = options.max_request_head
        self.noisy = False

    def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "node shutting down") -> None:
        for connection in list(self.connections):
            connection.close_with(code, reason)


def testee_factory(options: WebSocketOptions, is_secure: bool) -> TesteeFactory:
    return TesteeFactory(options, is_secure)
