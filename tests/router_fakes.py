"""Helpers for router unit tests: an in-memory transport and a client that drives it.

The transport is the session's real interface (autobahn ``ITransport``): every
message the router sends is serialized and parsed again with autobahn's JSON
serializer, and every message a test client sends is serialized and parsed too,
so the tests see exactly what a peer on the wire would see. No reactor.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import txaio

txaio.use_asyncio()  # before autobahn.wamp.serializer binds txaio (in-process clients are asyncio)

from autobahn.wamp import message as m
from autobahn.wamp.role import (
    RoleCalleeFeatures, RoleCallerFeatures, RolePublisherFeatures, RoleSubscriberFeatures,
)
from autobahn.wamp.serializer import JsonObjectSerializer
from autobahn.wamp.types import TransportDetails

from node.config.model import AuthMethod, EventHistory, Permission, Realm, RealmLimits, Role
from node.router import Router
from node.wire.parsing import parse

_json = JsonObjectSerializer()


def wire(msg: m.Message) -> m.Message:
    """``msg`` after a trip over the wire: marshal, JSON-encode, decode, parse
    (with the router's parse table for clients, as the node's serializers do).

    (autobahn's ``Serializer`` wrapper needs txaio's framework chosen, which the
    asyncio e2e tests must choose differently; the parse step is the same.)
    """
    (raw,) = _json.unserialize(_json.serialize(msg.marshal()))
    return parse(raw)


class FakeTransport:
    """Collects what the router sends; records close()."""

    def __init__(self, details: Optional[TransportDetails] = None) -> None:
        self.sent: List[m.Message] = []
        self.closed = False
        self.transport_details = details or TransportDetails(peer="tcp4:127.0.0.1:5000", is_secure=False)

    def send(self, msg: m.Message) -> None:
        if self.closed:
            raise AssertionError(f"send on closed transport: {msg}")
        self.sent.append(wire(msg))

    def isOpen(self) -> bool:
        return not self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True


def client_roles(canceling: bool = True, progressive: bool = True) -> dict:
    return {
        "publisher": RolePublisherFeatures(publisher_exclusion=True, subscriber_blackwhite_listing=True),
        "subscriber": RoleSubscriberFeatures(pattern_based_subscription=True),
        "caller": RoleCallerFeatures(call_canceling=canceling, progressive_call_results=progressive,
                                     call_timeout=True),
        "callee": RoleCalleeFeatures(call_canceling=canceling, progressive_call_results=progressive,
                                     pattern_based_registration=True, shared_registration=True,
                                     registration_revocation=True),
    }


class Client:
    """One connection: a session, its transport, and the messages it received."""

    def __init__(self, router: Router, auth: Tuple[AuthMethod, ...] = (),
                 details: Optional[TransportDetails] = None) -> None:
        self.session = router.session_factory(auth)()
        self.transport = FakeTransport(details)
        self.session.onOpen(self.transport)
        self._request = 0
        self.session_id: Optional[int] = None

    def send(self, msg: m.Message) -> None:
        self.session.onMessage(wire(msg))

    def request(self) -> int:
        self._request += 1
        return self._request

    def take(self) -> List[m.Message]:
        """Messages received since the last take()."""
        out, self.transport.sent = self.transport.sent, []
        return out

    def last(self) -> m.Message:
        received = self.take()
        if len(received) != 1:
            raise AssertionError(f"expected exactly one message, got {received}")
        return received[0]

    def hello(self, realm: str = "realm1", **kwargs: Any) -> m.Message:
        kwargs.setdefault("roles", client_roles())
        self.send(m.Hello(realm, **kwargs))
        reply = self.last()
        if isinstance(reply, m.Welcome):
            self.session_id = reply.session
        return reply

    # shorthands returning the request id
    def subscribe(self, topic: str, **options: Any) -> int:
        r = self.request()
        self.send(m.Subscribe(r, topic, **options))
        return r

    def publish(self, topic: str, *args: Any, **options: Any) -> int:
        r = self.request()
        self.send(m.Publish(r, topic, args=list(args) or None, **options))
        return r

    def register(self, procedure: str, **options: Any) -> int:
        r = self.request()
        self.send(m.Register(r, procedure, **options))
        return r

    def call(self, procedure: str, *args: Any, **options: Any) -> int:
        r = self.request()
        self.send(m.Call(r, procedure, args=list(args) or None, **options))
        return r


def realm(name: str = "realm1", roles: Tuple[Role, ...] = (), uri_check: str = "loose",
          meta: bool = True, history: Tuple[EventHistory, ...] = (), **limits: int) -> Realm:
    """A realm config; ``limits`` are :class:`RealmLimits` fields (unset: no limit)."""
    return Realm(name=name, roles=roles, uri_check=uri_check, enable_meta_api=meta, event_history=history,
                 limits=RealmLimits(**limits))


def permission(uri: str, match: str = "exact", call: bool = False, register: bool = False,
               publish: bool = False, subscribe: bool = False, disclose_caller: bool = False,
               disclose_publisher: bool = False, cache: bool = True) -> Permission:
    return Permission(uri=uri, match=match, call=call, register=register, publish=publish, subscribe=subscribe,
                      disclose_caller=disclose_caller, disclose_publisher=disclose_publisher, cache=cache)


def allow_all(uri: str = "", match: str = "prefix") -> Permission:
    return permission(uri, match, call=True, register=True, publish=True, subscribe=True)


def role(name: str, *permissions: Permission, authorizer: Optional[str] = None) -> Role:
    return Role(name=name, permissions=tuple(permissions), authorizer=authorizer)


def joined(router: Router, realm_name: str = "realm1", auth: Tuple[AuthMethod, ...] = (), **hello: Any) -> Client:
    client = Client(router, auth)
    reply = client.hello(realm_name, **hello)
    if not isinstance(reply, m.Welcome):
        raise AssertionError(f"expected WELCOME, got {reply}")
    return client
