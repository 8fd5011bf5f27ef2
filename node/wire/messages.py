"""What the router adds on top of autobahn's message parsing (never a parser of its own).

Three things autobahn's classes do not cover and a router needs (and one it
does faster, :class:`RolesCachedHello`):

- progressive call invocations (WAMP spec 2023+): ``CALL.Options.progress`` and
  ``INVOCATION.Details.progress``. :class:`ProgressiveCall` and
  :class:`ProgressiveInvocation` are autobahn's ``Call``/``Invocation`` plus that flag.
- invalid URIs in SUBSCRIBE/PUBLISH/REGISTER/CALL: autobahn raises
  ``InvalidUriError`` while parsing, but the spec wants an ERROR
  ``wamp.error.invalid_uri`` for that request, not a dead session. Parsing turns
  them into :class:`InvalidUriRequest`, which the session answers with that ERROR.
- clients in the wild send msgpack ext type 0 / CBOR ``undefined`` (wampy.js 8)
  meaning "absent": they are read as absent before autobahn parses the message.

:func:`prepare_serializer` installs all three into an autobahn serializer
instance; its ``unserialize`` then returns these objects.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Optional

from autobahn.wamp import message as m
from autobahn.wamp.exception import InvalidUriError, ProtocolError

from node.wire.roles import share_compact_roles

try:  # optional serializers: only needed to recognise their "undefined" values
    from msgpack import ExtType
except ImportError:  # pragma: no cover
    ExtType = None
try:  # autobahn's msgpack codec on PyPy
    from umsgpack import Ext as UmsgpackExt
except ImportError:
    UmsgpackExt = None
try:
    from cbor2 import undefined as CBOR_UNDEFINED
except ImportError:  # pragma: no cover
    CBOR_UNDEFINED = object()


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
    one client library announce identical roles. A HELLO whose ``roles`` were seen
    before is parsed with a stand-in ``roles`` (every other field still checked by
    autobahn) and gets the shared, already checked role objects (read-only).
    Used for JSON only: msgpack/CBOR maps may have non-string keys, which the JSON
    text of the roles (the cache key) would not tell apart from strings.
    """

    _seen: Dict[str, Dict[str, Any]] = {}
    _STAND_IN = {"caller": {}}
    _LIMIT = 256

    @staticmethod
    def parse(wmsg: list) -> "m.Hello":
        details = wmsg[2] if len(wmsg) == 3 else None
        roles = details.get("roles") if type(details) is dict else None
        try:
            key = json.dumps(roles) if type(roles) is dict else None
        except (TypeError, ValueError):  # not plain JSON data (e.g. bytes from msgpack)
            key = None
        seen = RolesCachedHello._seen
        parsed_roles = seen.get(key) if key is not None else None
        if parsed_roles is None:
            hello = m.Hello.parse(wmsg)
            if key is not None:
                if len(seen) >= RolesCachedHello._LIMIT:
                    seen.clear()
                seen[key] = hello.roles
                share_compact_roles(hello.roles)
            return hello
        stand_in = dict(details)
        stand_in["roles"] = RolesCachedHello._STAND_IN
        hello = m.Hello.parse([wmsg[0], wmsg[1], stand_in])
        hello.roles = parsed_roles
        return hello


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
        self.request_type = request_type
        self.request = request
        self.message = message

    def __repr__(self) -> str:
        return f"InvalidUriRequest({self.request_type}, {self.request}, {self.message!r})"


_URI_REQUESTS = {m.Subscribe.MESSAGE_TYPE, m.Publish.MESSAGE_TYPE, m.Register.MESSAGE_TYPE, m.Call.MESSAGE_TYPE}


def _absent(value: Any) -> bool:
    if value is CBOR_UNDEFINED:
        return True
    if ExtType is not None and isinstance(value, ExtType):
        return value.code == 0
    return UmsgpackExt is not None and isinstance(value, UmsgpackExt) and value.type == 0


def scrub_absent(value: Any) -> Any:
    """Replace msgpack ext 0 / CBOR undefined with None; drop them from dicts."""
    if isinstance(value, list):
        return [None if _absent(v) else scrub_absent(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub_absent(v) for k, v in value.items() if not _absent(v)}
    return value


def scrub_message(raw: list) -> list:
    """:func:`scrub_absent` for a whole message: trailing absent elements are dropped
    (an absent ``kwargs`` or ``args``), an absent ``args`` before ``kwargs`` becomes []."""
    raw = list(raw)
    while raw and _absent(raw[-1]):
        raw.pop()
    return [[] if _absent(v) else scrub_absent(v) for v in raw]


class _RouterParser:
    """Stands in for a message class in ``MESSAGE_TYPE_MAP``: scrubs, then parses.

    JSON cannot carry msgpack ext types or CBOR ``undefined``: its parsers
    (``scrub=False``) skip the walk over the whole message.
    """

    def __init__(self, klass: Any, scrub: bool = True) -> None:
        self.klass = klass
        self.scrub = scrub

    def parse(self, raw: list) -> Any:
        if self.scrub:
            raw = scrub_message(raw)
        try:
            return self.klass.parse(raw)
        except ProtocolError:
            raise
        except InvalidUriError as e:
            if raw[0] in _URI_REQUESTS and len(raw) > 1 and type(raw[1]) is int:
                return InvalidUriRequest(raw[0], raw[1], str(e))
            raise ProtocolError(str(e))
        except Exception as e:  # autobahn asserts on some malformed details (see STYLE.md 4)
            raise ProtocolError(f"malformed {self.klass.__name__.upper()} message: {type(e).__name__} {e}")


def _router_types(scrub: bool = True) -> Dict[int, Any]:
    # built from the message classes themselves: importing autobahn.wamp.serializer
    # here would bind txaio before the process has chosen Twisted or asyncio
    classes = {k.MESSAGE_TYPE: k for k in vars(m).values()
               if isinstance(k, type) and issubclass(k, m.Message) and isinstance(getattr(k, "MESSAGE_TYPE", None), int)}
    classes[m.Call.MESSAGE_TYPE] = ProgressiveCall
    classes[m.Invocation.MESSAGE_TYPE] = ProgressiveInvocation
    if not scrub:  # JSON only: its objects have string keys, so the JSON text is an exact key
        classes[m.Hello.MESSAGE_TYPE] = RolesCachedHello
    return {t: _RouterParser(k, scrub) for t, k in classes.items()}


ROUTER_MESSAGE_TYPES = _router_types()
JSON_MESSAGE_TYPES = _router_types(scrub=False)


def parse(raw: list) -> Any:
    """Parse one raw (decoded) WAMP message list the way a router serializer does.

    Raises :class:`ProtocolError` for anything malformed.
    """
    if not isinstance(raw, list) or not raw or type(raw[0]) is not int:
        raise ProtocolError("a WAMP message must be a non-empty list starting with an integer type")
    parser = ROUTER_MESSAGE_TYPES.get(raw[0])
    if parser is None:
        raise ProtocolError(f"invalid WAMP message type {raw[0]}")
    return parser.parse(raw)


def prepare_serializer(serializer: Any) -> Any:
    """Make an autobahn serializer instance parse the way the router needs (see above)."""
    is_json = getattr(getattr(serializer, "_serializer", None), "NAME", None) == "json"
    serializer.MESSAGE_TYPE_MAP = JSON_MESSAGE_TYPES if is_json else ROUTER_MESSAGE_TYPES
    return serializer
