"""The router's own session on a realm, for calling dynamic authorizers/authenticators.

This is thin Twisted glue: it turns the asynchronous RESULT/ERROR that routing
delivers to it into a Deferred. It imports ``twisted.internet.defer`` only, never
the reactor.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from autobahn.wamp.message import Call, Message
from twisted.internet.defer import Deferred

from node.router.ids import random_id
from node.router.peer import Peer
from node.router.pending import PendingRequests

if TYPE_CHECKING:  # pragma: no cover
    from node.router.realm import RealmRouter


class InternalCaller:
    """A session joined to a realm that only ever calls procedures."""

    def __init__(self, realm: "RealmRouter") -> None:
        self._realm = realm
        self._requests = PendingRequests()
        self.peer = Peer(random_id(), realm.name, authid="wampnode", authrole="trusted",
                         authmethod="internal", authprovider="internal")
        realm.attach(self.peer, self, internal=True)

    def call(self, procedure: str, args: Optional[list] = None, kwargs: Optional[dict] = None) -> Deferred:
        """Call ``procedure`` through the realm's dealer; fires with the RESULT
        message, or fails with :class:`ApplicationError` carrying the ERROR URI."""
        request = self._requests.next_id()
        d = self._requests.wait(request)
        self._realm.process(self.peer.session_id, Call(request, procedure, args=args, kwargs=kwargs))
        return d

    def send(self, message: Message) -> None:
        self._requests.settle(message)

    def kill(self, reason: Optional[str], message: Optional[str]) -> None:
        """The router's own session cannot be killed by peers."""
