"""A session inside the router process, joined to a realm under a configured role.

The HTTP bridge (``publisher``, ``caller``, ``webhook`` paths) publishes and calls
through one such session per path, as Crossbar.io does with the
``ApplicationSession`` it adds to the router for each bridge path. Unlike
:class:`~node.router.internal.InternalCaller` (the router's own, trusted
session for dynamic authorizers), this one is an ordinary session to routing:
its role's permissions or dynamic authorizer decide, the realm's per-session
limits count, and ``wamp.session.on_join`` announces it.

Messages pass as autobahn message objects, in memory: no serializer, no
transport. Each PUBLISH and CALL is built from its wire form with autobahn's
``parse``, so values an HTTP client sent get the same checks as a WebSocket
client's (types of options, URIs, ``args``/``kwargs``): a
:class:`~autobahn.wamp.exception.ProtocolError` says what was wrong.

This is thin Twisted glue: Deferreds, no reactor.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, Optional

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.message import Cancel, Message
from twisted.internet.defer import Deferred

from node.router.ids import random_id
from node.router.peer import Peer
from node.router.pending import PendingRequests, RequestingSession

if TYPE_CHECKING:  # pragma: no cover
    from node.router.realm import RealmRouter

# the features this session uses, as a client announces them in HELLO
_ROLES: Dict[str, object] = {
    "publisher": {"features": {"publisher_identification": True, "subscriber_blackwhite_listing": True,
                               "publisher_exclusion": True}},
    "caller": {"features": {"caller_identification": True, "call_canceling": True, "call_timeout": True}},
}


class LocalSession(RequestingSession):
    """Publishes and calls on ``realm`` as a session of role ``authrole``.

    The session joins on first use, and joins again (with a new session id) after
    a ``wamp.session.kill``; pending requests of a killed session fail with
    ``wamp.close.killed``.
    """

    def __init__(self, realm: "RealmRouter", authrole: str, authid: str,
                 transport: Optional[Dict[str, object]] = None) -> None:
        self._realm = realm
        self._authrole = authrole
        self._authid = authid
        self._transport = dict(transport or {})
        self._requests = PendingRequests()
        self.peer: Optional[Peer] = None

    def _joined(self) -> Peer:
        if self.peer is None:
            self.peer = Peer(random_id(), self._realm.name, authid=self._authid, authrole=self._authrole,
                             authmethod="trusted", authprovider="static", roles=dict(_ROLES),
                             transport=dict(self._transport))
            self._realm.attach(self.peer, self)
        return self.peer

    def _send(self, request: int, message: Message, cancel: bool = False) -> Deferred:
        peer = self._joined()

        def canceller(_: Deferred) -> None:
            if self._requests.pop(request) is not None and self.peer is peer:
                self._realm.process(peer.session_id, Cancel(request, mode="killnowait"))

        d = self._requests.wait(request, canceller if cancel else None)
        problem = self._realm.process(peer.session_id, message)
        if problem is not None:  # parse() checked the message: only a router fault gets here
            self._requests.pop(request)
            d.errback(ApplicationError("wamp.error.protocol_violation", problem))
        return d

    # --- delivery (called by the realm) ---------------------------------------------

    def send(self, message: Message) -> None:
        self._requests.settle(message)

    def kill(self, reason: Optional[str], message: Optional[str]) -> None:
        """``wamp.session.kill``: leave the realm; the next request joins again."""
        peer, self.peer = self.peer, None
        if peer is None:
            return
        self._realm.detach(peer.session_id)
        for d in self._requests.take_all():
            d.errback(ApplicationError(reason or "wamp.close.killed", message or "the bridge session was killed"))

    def leave(self) -> None:
        """Leave the realm (node shutdown); pending requests fail."""
        self.kill("wamp.close.system_shutdown", "the node is shutting down")
