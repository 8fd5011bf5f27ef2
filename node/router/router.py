"""The router: all realms of a node, and the factory of per-connection sessions.

This is the interface the transports use::

    router = Router(realms, reactor, auth_failures)   # auth_failures: optional, schema defaults
    factory = router.session_factory(auth)   # auth methods of one transport
    session = factory()                      # autobahn ITransportHandler, one per connection
    router.session_count()

The router never imports the reactor: its timers (call timeouts, the GOODBYE
deadline of a killed session, the hello timeout) run on the clock it is given, the
node's reactor or, in tests, a ``twisted.internet.task.Clock``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Dict, List, Optional, Tuple

from autobahn.wamp.exception import ApplicationError
from twisted.internet.defer import fail
from twisted.internet.interfaces import IReactorTime

from node.config.fragments import auth_failure_options
from node.config.model import AuthFailureOptions, AuthMethod, Realm
from node.router.auth.failures import FailureTracker
from node.router.cookie_store import CookieStore
from node.router.counters import Listener, RouterCounts
from node.router.local import LocalSession
from node.router.realm import RealmRouter
from node.router.session import RouterSession


@functools.lru_cache(maxsize=1)
def _default_failure_options() -> AuthFailureOptions:
    return auth_failure_options()


def listener_sessions(router: Any, session_class: Any, auth: Tuple[AuthMethod, ...], hello_timeout: float,
                      transport: str, kind: str, cookies: Optional[CookieStore]) -> Callable[[], Any]:
    """A factory of ``session_class`` sessions of ``router`` for one transport, whose
    sessions count under a new :class:`Listener` (``router.listeners``): the router's, and
    a proxy worker's (:mod:`node.workers.proxy_router`) with its own session class."""
    auth = tuple(auth)
    listener = Listener(transport, kind)
    router.listeners.append(listener)

    def make_session() -> Any:
        return session_class(router, auth, hello_timeout, listener=listener, cookies=cookies)

    return make_session


class Router:
    """Holds one :class:`RealmRouter` per configured realm."""

    def __init__(self, realms: Tuple[Realm, ...], clock: IReactorTime,
                 auth_failures: Optional[AuthFailureOptions] = None) -> None:
        self.clock = clock
        # failed logins per peer address, over all transports of this process
        self.auth_failures = FailureTracker(auth_failures or _default_failure_options(), clock)
        self._realms: Dict[str, RealmRouter] = {r.name: RealmRouter(r, self.clock) for r in realms}
        self.counts = RouterCounts()  # messages and logins, read by metrics (node.router.counters)
        self.listeners: List[Listener] = []  # one per session factory

    def realm(self, name: Optional[str]) -> Optional[RealmRouter]:
        return self._realms.get(name) if isinstance(name, str) else None

    def realms(self) -> Tuple[RealmRouter, ...]:
        return tuple(self._realms.values())

    def session_factory(self, auth: Tuple[AuthMethod, ...] = (), hello_timeout: float = 0.0,
                        transport: str = "", kind: str = "", cookies: Optional[CookieStore] = None,
                        ) -> Callable[[], RouterSession]:
        """A factory of sessions for one transport; ``auth`` empty = anonymous allowed;
        ``hello_timeout``: seconds a connection has to join a realm (0: no limit);
        ``transport`` (its ID) and ``kind`` (websocket, rawsocket) label what its sessions count;
        ``cookies``: the cookie store of a service with cookie tracking
        (:mod:`node.router.cookie_tracking`)."""
        return listener_sessions(self, RouterSession, auth, hello_timeout, transport, kind, cookies)

    def session_count(self) -> int:
        """Joined sessions over all realms (the nodeinfo page and status show this)."""
        return sum(realm.session_count() for realm in self._realms.values())

    def call(self, realm: str, procedure: str, args: list) -> Any:
        """Call a procedure on a realm as the router (dynamic authenticators):
        a Deferred firing with the RESULT message."""
        target = self.realm(realm)
        if target is None:
            return fail(ApplicationError("wamp.error.no_such_realm", f"no realm '{realm}'"))
        return target.internal_caller().call(procedure, args)

    def bridge_session(self, realm: str, role: str, authid: str, transport: Dict[str, object]) -> LocalSession:
        """The session of an HTTP bridge path (``publisher``, ``caller``, ``webhook``) on ``realm``
        as ``role`` (the realm exists: the config was checked)."""
        return LocalSession(self._realms[realm], role, authid=authid, transport=transport)

    def close(self) -> None:
        """Cancel pending call timers (node shutdown)."""
        for realm in self._realms.values():
            realm.close()
