"""What a proxy worker's transports see in place of the router: :class:`ProxyRouter`.

The transports (:func:`node.transports.build_transport`) and web paths ask a router for
``session_factory``, ``counts``, ``bridge_session`` and ``call``; this object answers
them for a proxy: its sessions are :class:`~node.workers.proxy_session.ProxyFrontendSession`,
its realms are the realms it has routes for, and the sessions it needs for itself (the
HTTP bridge's paths, a dynamic authenticator's call) are :class:`ServiceSession`s joined
at the router through the route of their realm and role.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Deque, Dict, Optional, Set, Tuple

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.message import Cancel, Message, Welcome
from autobahn.wamp.role import RoleCallerFeatures, RolePublisherFeatures
from twisted.internet.defer import Deferred, fail
from twisted.logger import Logger

from node.config.checks_proxy import SERVICE_ROLE, transport_auth
from node.config.fragments import auth_failure_options
from node.config.model import AuthMethod, DynamicSettings, ProxyConnection, ProxyWorker
from node.router.auth.base import random_authid
from node.router.auth.failures import FailureTracker
from node.router.cookie_store import CookieStore
from node.router.counters import RouterCounts
from node.router.pending import PendingRequests, RequestingSession
from node.router.router import listener_sessions
from node.workers.proxy_backend import BackendLink, NodeKey
from node.workers.proxy_session import ProxyFrontendSession

log = Logger()

MAX_QUEUED = 1000  # requests a service session holds while it (re)joins; more fail at once
# the features a service session uses, as a client announces them in HELLO
SERVICE_ROLES = {
    "publisher": RolePublisherFeatures(publisher_identification=True, subscriber_blackwhite_listing=True,
                                       publisher_exclusion=True),
    "caller": RoleCallerFeatures(caller_identification=True, call_canceling=True, call_timeout=True),
}


class ProxyRouter:
    """The routes, links and counts of one proxy worker process."""

    def __init__(self, worker: ProxyWorker, reactor: Any, key: Optional[NodeKey]) -> None:
        self.worker = worker
        self.routes = worker.routes
        self.clock = reactor
        self.key = key
        self.counts = RouterCounts()
        self.listeners: list = []
        self.auth_failures = FailureTracker(auth_failure_options(), reactor)
        self._joined: Set[ProxyFrontendSession] = set()
        self._services: Dict[Tuple[str, str], ServiceSession] = {}
        self._authenticator_roles = _authenticator_roles(worker)

    # --- what the transports ask a router -----------------------------------------------------

    def session_factory(self, auth: Tuple[AuthMethod, ...] = (), hello_timeout: float = 0.0,
                        transport: str = "", kind: str = "", cookies: Optional[CookieStore] = None,
                        ) -> Callable[[], ProxyFrontendSession]:
        return listener_sessions(self, ProxyFrontendSession, auth, hello_timeout, transport, kind, cookies)

    def realm(self, name: Optional[str]) -> Optional[Dict[str, str]]:
        """The routes of realm ``name`` (role -> connection name), or None."""
        return self.routes.get(name) if isinstance(name, str) else None

    def realms(self) -> tuple:
        return ()  # no realm lives here: metrics and dashboards of a proxy show no realm

    def session_count(self) -> int:
        return len(self._joined)

    def call(self, realm: str, procedure: str, args: list) -> Any:
        """A dynamic authenticator's call, through the route of its ``authenticator-role``."""
        role = self._authenticator_roles.get(procedure, SERVICE_ROLE)
        service = self.service(realm, role)
        if service is None:
            return fail(ApplicationError("wamp.error.no_such_role",
                                         f"no route for role '{role}' on realm '{realm}' at this proxy"))
        return service.call(procedure, args, None, {})

    def bridge_session(self, realm: str, role: str, authid: str, transport: Dict[str, object]) -> "ServiceSession":
        """The session of an HTTP bridge path (its realm and role have a route: the config was checked)."""
        service = self.service(realm, role, authid)
        if service is None:  # pragma: no cover (checked with the config)
            raise ValueError(f"no route for role '{role}' on realm '{realm}'")
        return service

    def close(self) -> None:
        for service in self._services.values():
            service.leave()
        self._services.clear()

    # --- links ----------------------------------------------------------------------------------

    def open_link(self, owner: Any, connection: ProxyConnection, realm: str, roles: Dict[str, Any],
                  identity: Dict[str, Any]) -> BackendLink:
        link = BackendLink(owner, connection, realm, roles, identity, self.key if connection.auth ==
                           "cryptosign-proxy" else None, self.worker.node_id, self.clock,
                           self.worker.backend_timeout)
        link.connect()
        return link

    def service(self, realm: str, role: str, authid: Optional[str] = None) -> Optional["ServiceSession"]:
        """The proxy's own session on ``realm`` as ``role`` (one per realm and role), or None without a route."""
        connection = self.worker.connection_for(realm, role)
        if connection is None:
            return None
        found = self._services.get((realm, role))
        if found is None:
            found = self._services[(realm, role)] = ServiceSession(self, connection, realm, role,
                                                                   authid or f"proxy-{random_authid()}")
        return found

    def joined(self, session: ProxyFrontendSession) -> None:
        self._joined.add(session)

    def left(self, session: ProxyFrontendSession) -> None:
        self._joined.discard(session)


class ServiceSession(RequestingSession):
    """A session the proxy opens for itself: PUBLISH and CALL with Deferreds, as
    :class:`~node.router.local.LocalSession` offers the HTTP bridge in a router.

    It joins at first use and again after its link ended; requests made while it joins
    wait (at most :data:`MAX_QUEUED`), and fail if it cannot join.
    """

    def __init__(self, router: ProxyRouter, connection: ProxyConnection, realm: str, role: str, authid: str) -> None:
        self.router = router
        self.connection = connection
        self.realm = realm
        self.role = role
        self.authid = authid
        self.link: Optional[BackendLink] = None
        self.ready = False
        self._requests = PendingRequests()
        self._queue: Deque[Message] = deque()

    def leave(self) -> None:
        link, self.link = self.link, None
        self.ready = False
        if link is not None:
            link.leave("wamp.close.system_shutdown", "the proxy is shutting down")
        self._fail_all("wamp.close.system_shutdown", "the proxy is shutting down")

    def _send(self, request: int, message: Message, cancel: bool = False) -> Deferred:
        link = self.link

        def canceller(_: Deferred) -> None:
            if self._requests.pop(request) is not None and self.ready and self.link is link and link is not None:
                link.send(Cancel(request, mode="killnowait"))

        d = self._requests.wait(request, canceller if cancel else None)
        if self.ready and link is not None:
            link.send(message)
        elif len(self._queue) >= MAX_QUEUED:
            self._requests.pop(request)
            d.errback(ApplicationError("wamp.error.canceled", f"the proxy's session to realm '{self.realm}' is "
                                                              f"joining and holds {MAX_QUEUED} requests already"))
        else:
            self._queue.append(message)
            if link is None:
                self._join()
        return d

    def _join(self) -> None:
        identity = {"proxy_realm": self.realm, "proxy_authid": self.authid, "proxy_authrole": self.role,
                    "proxy_authmethod": "trusted", "proxy_authprovider": "proxy", "proxy_authextra": None}
        self.link = self.router.open_link(self, self.connection, self.realm, dict(SERVICE_ROLES), identity)

    # --- BackendLink's owner --------------------------------------------------------------------

    def backend_joined(self, link: BackendLink, welcome: Welcome) -> None:
        if link is not self.link:
            link.leave()
            return
        self.ready = True
        queued, self._queue = self._queue, deque()
        for message in queued:
            link.send(message)

    def backend_refused(self, link: BackendLink, reason: str, message: str) -> None:
        if link is self.link:
            self.link = None
            log.warn("proxy: session on realm {realm} as {role} refused: {reason} {message}", realm=self.realm,
                     role=self.role, reason=reason, message=message)
            self._fail_all(reason, message)

    def backend_message(self, link: BackendLink, msg: Message) -> None:
        if link is self.link:
            self._requests.settle(msg)

    def backend_closed(self, link: BackendLink, reason: Optional[str], message: Optional[str]) -> None:
        if link is self.link:
            self.link = None
            self.ready = False
            self._fail_all(reason or "wamp.close.normal", message or "the proxy's session to the router ended")

    def _fail_all(self, reason: str, message: str) -> None:
        self._queue.clear()
        for d in self._requests.take_all():
            d.errback(ApplicationError(reason, message))


def _authenticator_roles(worker: ProxyWorker) -> Dict[str, str]:
    """procedure -> ``authenticator-role`` of the dynamic methods of the worker's transports."""
    roles: Dict[str, str] = {}
    for transport in worker.transports:
        for _, methods in transport_auth(transport):
            for method in methods:
                settings = method.settings
                if isinstance(settings, DynamicSettings) and settings.authenticator_role:
                    roles[settings.authenticator] = settings.authenticator_role
    return roles
