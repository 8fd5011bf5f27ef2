"""The router's message classes: autobahn's, plus what a router needs that they lack.

Parsing itself stays autobahn's (:mod:`node.wire.parsing` chooses the class per message
type); these classes add:

- progressive call invocations (WAMP spec 2023+): ``CALL.Options.progress`` and
  ``INVOCATION.Details.progress``. :class:`ProgressiveCall` and
  :class:`ProgressiveInvocation` are autobahn's ``Call``/``Invocation`` plus that flag.
- :class:`RolesCachedHello`: autobahn's HELLO parsing, with the roles checked once per
  announcement (a third of a session's Python calls otherwise), remembered only for
  sessions that joined (:func:`remember_hello_roles`).
- :class:`InvalidUriRequest`: what a SUBSCRIBE/PUBLISH/REGISTER/CALL with an invalid URI
  parses into. autobahn raises ``InvalidUriError`` for it, but the spec wants an ERROR
  ``wamp.error.invalid_uri`` for that request, not a dead session; the session answers it.

:data:`MESSAGE_CLASSES` is the class per message type the router parses with.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional

from autobahn.wamp import message as m
from autobahn.wamp.exception import ProtocolError

from node.wire.roles import ANNOUNCEMENTS


class ProgressiveCall(m.Call):
    """``Call`` that keeps ``Options.progress`` (a progressive call invocation chunk)."""

    __slots__ = ("progress",)

    def __init__(self, *args: Any, progress: Optional[bool] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress

    @staticmethod
    def parse(wmsg: list) -> "m.Call":
        call = m.Call.parse(wmsg)
        progress = wmsg[2].get("progress")
        if progress is None:
            return call  # the common case: a plain Call (routing reads ``progress`` with getattr)
        if type(progress) is not bool:
            raise ProtocolError(f"invalid type {type(progress)} for 'progress' option in CALL")
        result = ProgressiveCall(
            call.request, call.procedure, args=call.args, kwargs=call.kwargs, payload=call.payload,
            timeout=call.timeout, receive_progress=call.receive_progress, enc_algo=call.enc_algo,
            enc_key=call.enc_key, enc_serializer=call.enc_serializer, forward_for=call.forward_for,
            progress=progress,
        )
        return result

    def marshal(self) -> list:
        raw = super().marshal()
        if self.progress:
            raw[2]["progress"] = True
        return raw


class RolesCachedHello(m.Hello):
    """autobahn's HELLO parsing, with the roles checked and parsed once per announcement.

    autobahn checks every feature of every role and builds a feature object per
    role for each HELLO (about a third of a session's Python calls); sessions of
    one client library announce identical roles. A HELLO whose ``roles`` are in
    :data:`~node.wire.roles.ANNOUNCEMENTS` is parsed with a stand-in ``roles``
    (every other field still checked by autobahn) and gets the shared, already
    checked role objects (read-only).

    A HELLO with roles not seen before is parsed by autobahn and comes back as a
    ``RolesCachedHello`` carrying the JSON text of its roles (``roles_key``); the
    session hands it to :func:`remember_hello_roles` once it has joined, so only
    announcements of joined sessions are kept (bounded in bytes).
    Used for JSON only: msgpack/CBOR maps may have non-string keys, which the JSON
    text of the roles (the cache key) would not tell apart from strings.
    """

    __slots__ = ("roles_key",)
    _STAND_IN = {"caller": {}}

    @staticmethod
    def parse(wmsg: list) -> "m.Hello":
        details = wmsg[2] if len(wmsg) == 3 else None
        roles = details.get("roles") if type(details) is dict else None
        try:
            key = json.dumps(roles) if type(roles) is dict else None
        except (TypeError, ValueError):  # not plain JSON data (e.g. bytes from msgpack)
            key = None
        parsed_roles = ANNOUNCEMENTS.get(key) if key is not None else None
        if parsed_roles is None:
            hello = m.Hello.parse(wmsg)
            if key is None or len(key) > ANNOUNCEMENTS.max_entry:
                return hello
            keyed = RolesCachedHello(hello.realm, hello.roles, hello.authmethods, hello.authid, hello.authrole,
                                     hello.authextra, hello.resumable, hello.resume_session, hello.resume_token)
            keyed.roles_key = key
            return keyed
        stand_in = dict(details)
        stand_in["roles"] = RolesCachedHello._STAND_IN
        hello = m.Hello.parse([wmsg[0], wmsg[1], stand_in])
        hello.roles = parsed_roles
        return hello


def remember_hello_roles(hello: m.Hello) -> None:
    """The session that sent ``hello`` has joined: keep its parsed roles for the next
    HELLO announcing the same (a HELLO of any other source: nothing to keep)."""
    key = getattr(hello, "roles_key", None)
    if key is not None:
        ANNOUNCEMENTS.remember(key, hello.roles)


class ProgressiveInvocation(m.Invocation):
    """``Invocation`` that can carry ``Details.progress``."""

    __slots__ = ("progress",)

    def __init__(self, *args: Any, progress: Optional[bool] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress

    @staticmethod
    def parse(wmsg: list) -> "ProgressiveInvocation":
        inv = m.Invocation.parse(wmsg)
        progress = wmsg[3].get("progress") if len(wmsg) > 3 and isinstance(wmsg[3], dict) else None
        return ProgressiveInvocation(
            inv.request, inv.registration, args=inv.args, kwargs=inv.kwargs, payload=inv.payload,
            timeout=inv.timeout, receive_progress=inv.receive_progress, caller=inv.caller,
            caller_authid=inv.caller_authid, caller_authrole=inv.caller_authrole, procedure=inv.procedure,
            enc_algo=inv.enc_algo, enc_key=inv.enc_key, enc_serializer=inv.enc_serializer,
            progress=progress if type(progress) is bool else None,
        )

    def marshal(self) -> list:
        raw = super().marshal()
        if self.progress:
            raw[3]["progress"] = True
        return raw


class InvalidUriRequest:
    """A request whose URI failed autobahn's check: answer with ERROR invalid_uri."""

    def __init__(self, request_type: int, request: int, message: str) -> None:
        self.MESSAGE_TYPE = request_type  # counted as the request it is (node.router.counters)
        self.request_type = request_type
        self.request = request
        self.message = message

    def __repr__(self) -> str:
        return f"InvalidUriRequest({self.request_type}, {self.request}, {self.message!r})"


def _message_classes() -> Dict[int, Any]:
    # built from the message classes themselves: importing autobahn.wamp.serializer (whose
    # MESSAGE_TYPE_MAP this replaces) would bind txaio before the process has chosen a framework
    classes = {k.MESSAGE_TYPE: k for k in vars(m).values()
               if isinstance(k, type) and issubclass(k, m.Message) and isinstance(getattr(k, "MESSAGE_TYPE", None), int)}
    classes[m.Call.MESSAGE_TYPE] = ProgressiveCall
    classes[m.Invocation.MESSAGE_TYPE] = ProgressiveInvocation
    return classes


MESSAGE_CLASSES: Dict[int, Any] = _message_classes()
