"""The router worker: router, transports, listening ports, orderly shutdown.

:class:`RouterWorker` receives the reactor it uses, so that nothing here reaches for a
global; the CLI owns the process (pidfile, signals, exit code).
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from twisted.internet import defer
from twisted.logger import Logger

from node.config import file_errors
from node.config.model import NodeConfig, Transport
from node.errors import ConfigError, ConfigErrors, NodeError
from node.router import Router
from node.transports import build_transport
from node.transports.endpoints import listen_error, server_endpoint
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

    def __init__(self, config: NodeConfig, reactor: Any, router: Any = None) -> None:
        """``router``: what the transports route to instead of a :class:`Router` of the
        config's realms (a proxy worker's :class:`~node.workers.proxy_router.ProxyRouter`)."""
        self.config = config
        self.reactor = reactor
        # the router's timers run on the node's clock
        self.router = router if router is not None else Router(config.realms, reactor, config.auth_failures)
        self.status = NodeStatus(session_count=self.router.session_count, router=self.router)
        self.status.reactor = reactor
        self.status.pythonpath = config.router_options.pythonpath if config.router_options else ()
        self.ports: List[Any] = []
        self.built: List[Any] = []
        self.tls: List[Any] = []
        self._prepared: Optional[List[Tuple[Transport, Any, Any]]] = None

    def prepare(self) -> None:
        """Build every transport with its TLS; nothing listens yet.

        Each TLS key, certificate, DH and OCSP file is read once (the hygiene
        warnings, logged here, judge what was read); a ``tcpbridge`` reads its
        trust files as it is built. Done once, before :meth:`start` listens.

        @raise ConfigErrors: every fault of those files, one line each, as
            ``wampnode check`` reports them.
        """
        if self._prepared is not None:
            return
        prepared = []
        refused: List[ConfigError] = []
        for transport in self.config.transports:
            try:
                built = build_transport(transport, self.router, self.status, self.reactor)
            except ConfigErrors as e:  # a tcpbridge's trust files: the first bad bridge stops the build
                refused += e.errors
                continue
            prepared.append((transport, built))
        tls: Dict[str, Any] = {}
        if refused or any(t.endpoint.tls is not None for t in self.config.transports):
            # node.tls and node.trust: ~30 ms of start-up that a node without TLS need not pay
            from node.workers.credentials import (
                bridge_trust_problems,
                hygiene_warnings,
                server_tls_by_transport,
                setting_warnings,
            )

            tls, found = server_tls_by_transport(self.config)
            problems: List[ConfigError] = [*found]
            if refused:  # every bridge's faults, as `wampnode check` lists them
                problems += bridge_trust_problems(self.config) or refused
            if problems:
                raise file_errors(self.config, problems)
            for warning in hygiene_warnings(tls.values()) + setting_warnings(self.config, tls.values()):
                log.warn("{warning}", warning=warning)
        self.tls = list(tls.values())
        self._prepared = [(transport, built, tls.get(transport.path)) for transport, built in prepared]
        for transport, built, creator in self._prepared:
            self.status.connection_counts[transport.id] = built.connection_count
            if creator is not None:
                self.status.certificates.append((transport.id, creator))

    @defer.inlineCallbacks
    def start(self) -> Any:
        """Listen on every transport; if one fails, close the others and fail.

        @raise NodeError: (as the Deferred's failure) TLS, trust or listen errors.
        """
        try:
            self.prepare()
            for pending in self.status.pending:  # archives fetched before anyone can ask for them
                yield pending
            for transport, built, creator in self._prepared or ():
                yield self._listen(transport, built, creator)
        except Exception:
            yield self.stop_listening()
            raise

    def announce_ready(self, also: str = "") -> None:
        """The "Node ready" line, once everything the node starts has started
        (:mod:`node.process.node` says when, and what else joined)."""
        log.info("Node ready: {count} transport(s) listening{also}", count=len(self.ports), also=also)

    @defer.inlineCallbacks
    def _listen(self, transport: Transport, built: Any, creator: Any) -> Any:
        endpoint = server_endpoint(self.reactor, transport.endpoint, creator, built.counts)
        try:
            port = yield endpoint.listen(built.factory)
        except Exception as e:
            raise listen_error(transport.endpoint, e)
        self.ports.append(port)
        self.built.append(built)
        description = describe_transport(transport)
        self.status.transports.append(description)
        self.status.endpoints[transport.id] = transport.endpoint.describe()
        log.info("Listening: {transport}", transport=description)

    def reload_tls(self) -> List[str]:
        """Re-read certificates and keys of every TLS endpoint; returns the problems.

        An endpoint that reloads logs its settings served otherwise than written
        (a too-small ``dhparam``: DHE off), as start-up does.
        """
        problems = []
        for creator in self.tls:
            reload = getattr(creator, "reload", None)
            if reload is not None:
                try:
                    reload()
                except NodeError as e:
                    problems.append(e.line())
                    continue
                warnings = getattr(creator, "warnings", [])  # as setting_warnings words them at start
                for warning in file_errors(self.config, warnings).errors if warnings else ():
                    log.warn("{warning}", warning=warning.line())
        self.status.reloads["refused" if problems else "ok"] += 1  # wampnode_config_reloads_total
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
