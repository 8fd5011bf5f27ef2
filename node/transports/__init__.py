"""Protocol factories for the configured transports (websocket, web, rawsocket, universal).

The endpoint a factory listens on is :mod:`node.transports.endpoints`' business; this module
only decides what speaks on it.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional

from twisted.internet.interfaces import IReactorTime

from node.config import model
from node.router.cookie_tracking import CookieTracker
from node.transports.counts import TransportCounts
from node.transports.limits import HttpRefusal, RawSocketRefusal, limit_connections
from node.transports.rawsocket import rawsocket_factory
from node.transports.testee import testee_factory
from node.transports.universal import UniversalFactory
from node.transports.websocket import websocket_factory
from node.transports.wsproxy import websocket_proxy_factory
from node.web.status import NodeStatus


class BuiltTransport:
    """A transport's listening factory plus the WAMP factories whose connections
    must be closed (WebSocket 1001) when the node stops."""

    def __init__(self, factory: Any, wamp_factories: List[Any], counts: Optional[TransportCounts] = None) -> None:
        self.factory = factory
        self.wamp_factories = wamp_factories
        self.counts = counts  # what metrics read about this transport

    def close_connections(self) -> None:
        for wamp_factory in self.wamp_factories:
            wamp_factory.close_all()

    def connection_count(self) -> int:
        return sum(len(f.connections) for f in self.wamp_factories)


def build_transport(transport: model.Transport, router: Any, status: NodeStatus,
                    reactor: IReactorTime) -> BuiltTransport:
    is_secure = transport.endpoint.tls is not None
    wamp_factories: List[Any] = []
    counts = TransportCounts(transport.id, tls=is_secure, sent=router.counts.sent)
    status.transport_counts.append(counts)

    def websocket(service: model.WampWebSocket) -> Any:
        cookies = CookieTracker(service.cookie) if service.cookie is not None else None
        session_factory = router.session_factory(service.auth, service.options.hello_timeout / 1000.0,
                                                 transport.id, "websocket",
                                                 cookies=cookies.store if cookies is not None else None)
        factory = websocket_factory(session_factory, service, is_secure, counts, cookies)
        wamp_factories.append(factory)
        return factory

    def testee(options: model.WebSocketOptions) -> Any:
        factory = testee_factory(options, is_secure)
        wamp_factories.append(factory)
        return factory

    def websocket_resource(service: Any) -> Any:
        """A WAMP ``websocket`` path, a ``websocket-testee`` echo path, a ``websocket-reverseproxy`` path,
        or a WAMP ``longpoll`` path."""
        if isinstance(service, model.LongPollPath):
            return longpoll(service)
        # start-up: twisted.web loads only when a transport serves HTTP (see site below)
        from autobahn.twisted.resource import WebSocketResource

        if isinstance(service, model.WebSocketTesteePath):
            return WebSocketResource(testee(service.options))
        if isinstance(service, model.WebSocketReverseProxyPath):
            factory = websocket_proxy_factory(service, reactor, is_secure)
            wamp_factories.append(factory)
            return WebSocketResource(factory)
        return WebSocketResource(websocket(service))

    def longpoll(service: model.LongPollPath) -> Any:
        # start-up: twisted.web loads only when a transport serves HTTP (see site below)
        from node.transports.longpoll import longpoll_resource

        cookies = CookieTracker(service.cookie) if service.cookie is not None else None
        session_factory = router.session_factory(service.auth, service.options.hello_timeout / 1000.0,
                                                 transport.id, "longpoll",
                                                 cookies=cookies.store if cookies is not None else None)
        built = longpoll_resource(session_factory, service, reactor, counts, cookies)
        wamp_factories.append(built)  # its transports end when the node stops, and are counted
        return built

    def rawsocket(service: Optional[model.RawSocketService]) -> Any:
        if service is None:
            return None
        factory = rawsocket_factory(router.session_factory(service.auth, service.hello_timeout / 1000.0,
                                                           transport.id, "rawsocket"),
                                    service, reactor, counts)
        wamp_factories.append(factory)
        return limit_connections(factory, service.max_connections, RawSocketRefusal, "RawSocket", reactor,
                                 counts)

    def site(web: Optional[model.WebService], extra_websockets: Any = None) -> Any:
        if web is None and not extra_websockets:
            return None
        # start-up: node.web.tree brings twisted.web (about 15 ms on CPython), which a node
        # with only websocket and rawsocket transports never needs
        from node.web.tree import WebContext, build_site

        paths = dict(web.paths) if web else {}
        for key, service in (extra_websockets or {}).items():
            paths[key] = model.WebSocketPath(service=service, path=service.path)
        options = transport.http_options  # web.options, or the defaults for a universal transport
        built = build_site(model.WebService(paths=paths, options=options, path=transport.path),
                           WebContext(status, websocket_resource, router, reactor))
        built.counts = counts  # requests whose head came too slowly (node.web.deadline)
        return limit_connections(built, options.max_connections, HttpRefusal, "HTTP", reactor, counts)

    if transport.type == "websocket":
        factory: Any = websocket(transport.websocket)
    elif transport.type == "websocket.testee":
        factory = testee(transport.websocket.options)
    elif transport.type == "rawsocket":
        factory = rawsocket(transport.rawsocket)
    elif transport.type == "web":
        factory = site(transport.web)
    else:
        factory = UniversalFactory(rawsocket(transport.rawsocket), site(transport.web, transport.websocket_paths), reactor)
    return BuiltTransport(factory, wamp_factories, counts)

SessionFactoryMaker = Callable[[Any], Callable[[], Any]]
