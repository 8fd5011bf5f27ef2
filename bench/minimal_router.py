#!/usr/bin/env python3
"""A deliberately minimal WAMP router on wampnode's stack, to measure the stack's floor.

    python3 bench/minimal_router.py WS_PORT WSS_PORT CBDIR {stock,quiet,node}

It does only what the benchmark clients need: HELLO -> WELCOME, GOODBYE ->
GOODBYE, REGISTER -> REGISTERED, CALL -> INVOCATION and YIELD -> RESULT on
exact URIs; no roles, no auth, no meta API, no checks. WebSocket, messages and
JSON are autobahn's (``WebSocketServerProtocol``, ``autobahn.wamp.message``,
``JsonSerializer``), with the same WebSocket options the routers under test get
(``targets.OPTIONS``), TLS from ``CBDIR/server.key`` and ``server.crt`` with
``prime256v1`` like wampnode's default. This is how issue 8 derived its CPU
targets ("what the stack allows"); ``floor.py`` measures it beside the real
routers, in the same run, so that the targets can be checked against it.

Variants:
- ``stock``: Twisted's reactor and ports, autobahn as installed;
- ``quiet``: autobahn's debug strings are not formatted while debug is off
  (``node.fastpath.quiet_autobahn``), the first technique issue 8 names;
- ``node``: also wampnode's reactor and ports (writes sent once per reactor turn).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Dict, Tuple

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

VARIANTS = ("stock", "quiet", "node")


def main() -> None:
    ws_port, wss_port, cbdir, variant = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    if variant not in VARIANTS:
        raise SystemExit(f"minimal_router.py: variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    if variant == "node":
        from node.fastpath.reactor import install

        install()
    if variant in ("quiet", "node"):
        from node.fastpath.quiet_autobahn import quiet_autobahn

        quiet_autobahn()
    from twisted.internet import reactor

    factory = _factory()
    tls = _tls_context_factory(cbdir)
    if variant == "node":
        from node.transports.endpoints import TCPServerEndpoint, TLSServerEndpoint

        TCPServerEndpoint(reactor, ws_port, "127.0.0.1", 50).listen(factory)
        TLSServerEndpoint(TCPServerEndpoint(reactor, wss_port, "127.0.0.1", 50), tls).listen(factory)
    else:
        reactor.listenTCP(ws_port, factory, interface="127.0.0.1")
        reactor.listenSSL(wss_port, factory, tls, interface="127.0.0.1")
    reactor.run()


def _factory() -> Any:
    from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
    from autobahn.wamp import message
    from autobahn.wamp.role import RoleBrokerFeatures, RoleDealerFeatures
    from autobahn.wamp.serializer import JsonSerializer

    import targets

    serializer = JsonSerializer()
    roles = {"broker": RoleBrokerFeatures(), "dealer": RoleDealerFeatures()}
    registrations: Dict[str, Tuple[int, Any]] = {}  # procedure -> (registration id, callee)
    invocations: Dict[int, Tuple[Any, int]] = {}  # invocation id -> (caller, call request id)
    counter = [0]

    def next_id() -> int:
        counter[0] += 1
        return counter[0]

    class MinimalRouterProtocol(WebSocketServerProtocol):
        def onConnect(self, request: Any) -> str:
            return "wamp.2.json"

        def onMessage(self, payload: bytes, is_binary: bool) -> None:
            for msg in serializer.unserialize(payload, is_binary):
                if isinstance(msg, message.Call):
                    registration, callee = registrations[msg.procedure]
                    invocation = next_id()
                    invocations[invocation] = (self, msg.request)
                    callee.send(message.Invocation(invocation, registration, args=msg.args, kwargs=msg.kwargs))
                elif isinstance(msg, message.Yield):
                    caller, request = invocations.pop(msg.request)
                    caller.send(message.Result(request, args=msg.args, kwargs=msg.kwargs))
                elif isinstance(msg, message.Hello):
                    session = int.from_bytes(os.urandom(7), "big") >> 3
                    self.send(message.Welcome(session, roles, authid=str(session), authrole="anonymous",
                                              authmethod="anonymous"))
                elif isinstance(msg, message.Register):
                    registration = next_id()
                    registrations[msg.procedure] = (registration, self)
                    self.send(message.Registered(msg.request, registration))
                elif isinstance(msg, message.Goodbye):
                    self.send(message.Goodbye())

        def send(self, msg: Any) -> None:
            payload, is_binary = serializer.serialize(msg)
            self.sendMessage(payload, is_binary)

    factory = WebSocketServerFactory()
    factory.protocol = MinimalRouterProtocol
    options = targets.OPTIONS
    factory.setProtocolOptions(
        maxMessagePayloadSize=options["max_message_size"], maxFramePayloadSize=options["max_frame_size"],
        autoPingInterval=options["auto_ping_interval"] / 1000, autoPingTimeout=options["auto_ping_timeout"] / 1000,
        openHandshakeTimeout=options["open_handshake_timeout"] / 1000,
        closeHandshakeTimeout=options["close_handshake_timeout"] / 1000)
    return factory


def tls_context(key: str, certificate: str) -> Any:
    """An OpenSSL context with wampnode's floor: TLS 1.2 and up, group prime256v1 alone."""
    from OpenSSL import SSL

    from node.tls.context import set_groups

    context = SSL.Context(SSL.TLS_SERVER_METHOD)
    context.set_min_proto_version(SSL.TLS1_2_VERSION)
    context.use_privatekey_file(key)
    context.use_certificate_file(certificate)
    set_groups(context, "prime256v1")
    return context


def _tls_context_factory(cbdir: Path) -> Any:
    context = tls_context(str(cbdir / "server.key"), str(cbdir / "server.crt"))

    class ContextFactory:
        def getContext(self) -> Any:
            return context

    return ContextFactory()


if __name__ == "__main__":
    main()
