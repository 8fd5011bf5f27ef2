"""The router: all realms of a node, and the factory of per-connection sessions.

This is the interface the transports use::

    router = Router(realms)
    factory = router.session_factory(auth)   # auth methods of one transport
    session = factory()                      # autobahn ITransportHandler, one per connection
    router.session_count()

The reactor is only needed for call timeouts; it is imported on first use
unless a clock (``callLater``) is given, e.g. ``twisted.internet.task.Clock``.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

from node.config.model import AuthMethod, Realm
from node.router.realm import RealmRouter
from node.router.session import RouterSession


class _LazyReactorClock:
    """Forwards ``callLater`` to the global reactor, imported only when first needed."""

    def callLater(self, delay: float, f: Callable[..., Any], *args: Any) -> Any:
        from twisted.internet import reactor

        return reactor.callLater(delay, f, *args)


class Router:
    """Holds one :class:`RealmRouter` per configured realm."""

    def __init__(self, realms: Tuple[Realm, ...], clock: Any = None) -> None:
        self.clock = clock if clock is not None else _LazyReactorClock()
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
        from twisted.internet.defer import fail

        target = self.realm(realm)
        if target is None:
            from autobahn.wamp.exception import ApplicationError

            return fail(ApplicationError("wamp.error.no_such_realm", f"no realm '{realm}'"))
        return target.internal_caller().call(procedure, args)

    def close(self) -> None:
        """Cancel pending call timers (node shutdown)."""
        for realm in self._realms.values():
            realm.close()
