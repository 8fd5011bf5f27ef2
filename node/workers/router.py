"""The router worker: router, transports, listening ports, orderly shutdown.

:class:`RouterWorker` receives the reactor it uses, so that nothing here reaches for a
global; the CLI owns the process (pidfile, signals, exit code).
"""
from __future__ import annotations

from typing import Any, List, Optional

from twisted.internet import defer
from twisted.logger import Logger

from node.config.model import NodeConfig, Transport
from node.errors import NodeError
from node.web.status import NodeStatus

log = Logger()

SHUTDOWN_GRACE_SECONDS = 2.0


def describe_transport(transport: Transport) -> str:
    tls = "yes" if transport.endpoint.tls is not None else "no"
    text = f"{transport.type} transport {transport.id} on {transport.endpoint.describe()} (TLS {tls})"
    if transport.web is not None:
        text += ", paths: " + ", ".join(sorted(transport.web.paths))
    if transport.websocket_paths:
        text += ", websocket paths: " + ", ".join(sorted(transport.websocket_paths))
    return text


class RouterWorker:
    """The router and every transport it listens on, in this process."""

    def __init__(self, config: NodeConfig, reactor: Any) -> None:
        from node.router import Router

        self.config = config
        self.reactor = reactor
        # the router's timers run on the node's clock
        self.router = Router(config.realms, reactor, config.auth_failures)
        self.status = NodeStatus(session_count=self.router.session_count)
        self.ports: List[Any] = []
        self.built: List[Any] = []
        self.tls: List[Any] = []

    @defer.inlineCallbacks
    def start(self) -> Any:
        """Listen on every transport; if one fails, close the others and fail.

        @raise NodeError: (as the Deferred's failure) TLS or listen errors.
        """
        try:
            for transport in self.config.transports:
                yield self._listen(transport)
        except Exception:
            yield self.stop_listening()
            raise
        log.info("Node ready: {count} transport(s) listening", count=len(self.ports))

    @defer.inlineCallbacks
    def _listen(self, transport: Transport) -> Any:
        from node.transports.endpoints import listen_error, server_endpoint
        from node.transports import build_transport

        creator = None
        if transport.endpoint.tls is not None:
            from node.tls.context import server_tls, tls_warnings

            creator = server_tls(transport.endpoint.tls)
            self.tls.append(creator)
            for warning in tls_warnings(transport.endpoint.tls):
                log.warn("{warning}", warning=warning)
        built = build_transport(transport, self.router, self.status, self.reactor)
        endpoint = server_endpoint(self.reactor, transport.endpoint, creator)
        try:
            port = yield endpoint.listen(built.factory)
        except Exception as e:
            raise listen_error(transport.endpoint, e)
        self.ports.append(port)
        self.built.append(built)
        description = describe_transport(transport)
        self.status.transports.append(description)
        log.info("Listening: {transport}", transport=description)

    def reload_tls(self) -> List[str]:
        """Re-read certificates and keys of every TLS endpoint; returns the problems."""
        problems = []
        for creator in self.tls:
            reload = getattr(creator, "reload", None)
            if reload is not None:
                try:
                    reload()
                except NodeError as e:
                    problems.append(e.line())
        return problems

    @defer.inlineCallbacks
    def stop(self) -> Any:
        """Stop accepting, close every WAMP connection (WebSocket 1001), wait briefly."""
        yield self.stop_listening()
        open_before = sum(b.connection_count() for b in self.built)
        for built in self.built:
            built.close_connections()
        waited = 0.0
        while waited < SHUTDOWN_GRACE_SECONDS and any(b.connection_count() for b in self.built):
            yield _sleep(self.reactor, 0.05)
            waited += 0.05
        self.router.close()
        log.info("Node stopped ({count} connection(s) closed)", count=open_before)

    @defer.inlineCallbacks
    def stop_listening(self) -> Any:
        ports, self.ports = self.ports, []
        for port in ports:
            yield defer.maybeDeferred(port.stopListening)


def _sleep(reactor: Any, seconds: float) -> defer.Deferred:
    d: defer.Deferred = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d


def first_error(failure: Any) -> Optional[NodeError]:
    value = getattr(failure, "value", failure)
    return value if isinstance(value, NodeError) else None
