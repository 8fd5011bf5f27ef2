"""Decoded WAMP messages (plain lists) to message objects: the one place that checks a
message's shape and type, for every source.

A *parse table* maps a message type to what parses it; :func:`parse` checks that a
decoded value is a message of a type the table knows (with autobahn's wording) and hands
it over. There is one table per source:

- :data:`CLIENT_MESSAGES`, msgpack and CBOR clients: autobahn parses (with the router's
  classes, :data:`node.wire.messages.MESSAGE_CLASSES`) after absent values are scrubbed,
  and once more after float IDs are made integers if it refused the message (both client
  quirks: :mod:`node.wire.tolerance`). Anything malformed is a ``ProtocolError``; a
  request with an invalid URI becomes an :class:`~node.wire.messages.InvalidUriRequest`.
- :data:`JSON_CLIENT_MESSAGES`, JSON clients: the same, without the walk over the message
  for absent values (JSON has no msgpack ext types or CBOR ``undefined``), and HELLO roles
  parsed once per announcement (:class:`~node.wire.messages.RolesCachedHello`).
- :data:`BACKPLANE_MESSAGES`, messages a router on another process marshalled
  (:mod:`node.cluster.codec`): they were checked and fixed up when they entered that
  router, so autobahn's parse alone.
"""
from __future__ import annotations

from typing import Any, Dict

from autobahn.wamp import message as m
from autobahn.wamp.exception import InvalidUriError, ProtocolError

from node.wire.messages import MESSAGE_CLASSES, InvalidUriRequest, RolesCachedHello
from node.wire.tolerance import integral_ids, scrub_message

_URI_REQUESTS = {m.Subscribe.MESSAGE_TYPE, m.Publish.MESSAGE_TYPE, m.Register.MESSAGE_TYPE, m.Call.MESSAGE_TYPE}


class ClientMessageParser:
    """Parses one message type from clients: tolerated quirks fixed up, then autobahn's parse.

    ``scrub``: the codec can carry absent values (msgpack, CBOR), so the whole message is
    walked for them; JSON's parsers skip that walk.
    """

    __slots__ = ("klass", "scrub")

    def __init__(self, klass: Any, scrub: bool) -> None:
        self.klass = klass
        self.scrub = scrub

    def parse(self, raw: list) -> Any:
        if self.scrub:
            raw = scrub_message(raw)
        try:  # the common case, in one call: a well-formed message
            return self.klass.parse(raw)
        except Exception:  # parsed again below, for the router's answer and wording
            pass
        return self._refused(raw)

    def _refused(self, raw: list) -> Any:
        """What becomes of a message autobahn refused: parsed after tolerated quirks are
        fixed, an :class:`InvalidUriRequest`, or a ``ProtocolError``."""
        try:
            return self._parse(raw)
        except ProtocolError:
            # float IDs are looked for only in a message autobahn refused: the usual one pays nothing
            fixed = integral_ids(raw)
            if fixed is raw:
                raise
        return self._parse(fixed)

    def _parse(self, raw: list) -> Any:
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


def _client_table(json: bool) -> Dict[int, ClientMessageParser]:
    classes = dict(MESSAGE_CLASSES)
    if json:  # its objects have string keys only, so the JSON text of the roles is an exact key
        classes[m.Hello.MESSAGE_TYPE] = RolesCachedHello
    return {t: ClientMessageParser(k, scrub=not json) for t, k in classes.items()}


CLIENT_MESSAGES: Dict[int, Any] = _client_table(json=False)
JSON_CLIENT_MESSAGES: Dict[int, Any] = _client_table(json=True)
BACKPLANE_MESSAGES: Dict[int, Any] = MESSAGE_CLASSES


def parse(raw: Any, table: Dict[int, Any] = CLIENT_MESSAGES) -> Any:
    """One decoded WAMP message as a message object, parsed by ``table``'s entry for its type.

    Raises ``ProtocolError`` if ``raw`` is not a list starting with a message type the
    table knows, or (client tables) if the message is malformed.
    """
    if type(raw) is not list:
        raise ProtocolError(f"invalid type {type(raw)} for WAMP message")
    if not raw:
        raise ProtocolError("missing message type in WAMP message")
    message_type = raw[0]
    if type(message_type) is not int:
        raise ProtocolError(f"invalid type {type(message_type)} for WAMP message type")
    parser = table.get(message_type)
    if parser is None:
        raise ProtocolError(f"invalid WAMP message type {message_type}")
    return parser.parse(raw)
