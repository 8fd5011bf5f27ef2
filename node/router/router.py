"""The router: all realms of a node, and the factory of per-connection sessions.

This is the interface the transports use::

    router = Router(realms, reactor)
    factory = router.session_factory(auth)   # auth methods of one transport
    session = factory()                      # autobahn ITransportHandler, one per connection
    router.session_count()

The router never imports the reactor: its timers (call timeouts, the GOODBYE
deadline of a killed session) run on the clock it is given, the node's reactor
or, in tests, a ``twisted.internet.task.Clock``.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from autobahn.wamp.exception import ApplicationError
from twisted.internet.defer import fail
from twisted.internet.interfaces import IReactorTime

from node.config.model import AuthMethod, Realm
from node.router.realm import RealmRouter
from node.router.session import RouterSession


class Router:
    """Holds one :class:`RealmRouter` per configured realm."""

    def __init__(self, realms: Tuple[Realm, ...], clock: IReactorTime) -> None:
        self.clock = clock
        self._realms: Dict[str, RealmRouter] = {r.name: RealmRouter(r, self.clock) for r in realms}

    def realm(self, name: Optional[str]) -> Optional[RealmRouter]:
        return self._realms.get(name) if isinstance(name, str) else None

    def realms(self) -> Tuple[RealmRouter, ...]:
        return tuple(self._realms.values())

    def session_factory(self, auth: Tuple[AuthMethod, ...] = ()) -> Callable[[], RouterSession]:
        """A factory of sessions for one transport; ``auth`` empty = anonymous allowed."""
        auth = tuple(auth)

        def make_session() -> RouterSession:
            return RouterSession(self, auth)

        return make_session

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

    def close(self) -> None:
        """Cancel pending call timers (node shutdown)."""
        for realm in self._realms.values():
            realm.close()
