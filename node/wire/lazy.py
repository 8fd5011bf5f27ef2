"""A large message whose arguments are decoded only if something reads them.

The router forwards a CALL's, YIELD's, PUBLISH's or ERROR's ``Arguments`` and
``ArgumentsKw`` as they came (:mod:`node.wire.splice`), so decoding them only to check
them was the largest cost of a large message: 1 MiB of JSON takes 0.4 ms on CPython
(orjson) and 1.3 ms on PyPy; msgpack 1.2 ms and CBOR 2.5 ms on PyPy. For a payload of
at least :data:`LAZY_MIN` octets, :func:`lazy_message` has the C scanner
(:mod:`node.wire.scan`) check the whole message and find its elements, decodes only
the head (type, IDs, options, URI), and parses it with stand-ins for the arguments.
The message then belongs to a *lazy* subclass of its class (:func:`lazy_class`, same
name, same slots) whose ``args`` and ``kwargs`` decode the kept octets the first time
anything reads them: authorization of a meta call, an in-process component, a
subscriber of another format, a retained event. Nothing that reads them can see a
stand-in.

The router's own forwarding does not read them: it takes them with
:func:`unread_arguments` and hands the received message's octets to the message it
makes (:func:`carry_arguments`), which becomes lazy too; a serializer of the same
format writes the octets as they came (:func:`node.wire.splice.spliced`, which
marshals a lazy message with its stand-ins through ``marshal_pending``).

Whatever the scanner is not sure of (see :mod:`node.wire.native_scan_build`), and any
message whose head does not parse into a message with those very stand-ins (payload
transparency, a malformed or refused head), is decoded in full as before, so answers
and errors stay the decoder's and autobahn's.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from node.wire.parsing import parse
from node.wire.scan import KIND_ARRAY, KIND_MAP, scan_message
from node.wire.splice import ARGUMENTS_AT, ARRAY_HEADERS, SPLICE_MIN, ReceivedArguments

LAZY_MIN = SPLICE_MIN
"""Smaller payloads are decoded in full: their decoding costs less than the head's own."""


class _Pending:
    """What a stand-in holds (never seen outside this module: the lazy class decodes first)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<arguments not decoded yet>"


PENDING = _Pending()


def _descriptor(cls: type, name: str) -> Any:
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


_LAZY: Dict[type, type] = {}


def lazy_class(base: type) -> Optional[type]:
    """The lazy subclass of the message class ``base`` (made once), or None if ``base``
    carries no arguments.

    ``__slots__ = ()`` keeps the layout, so a message of ``base`` can become one
    (``__class__``); its name is ``base``'s, which error texts and logs use. ``args``
    and ``kwargs`` wrap ``base``'s own (slots in autobahn 24, properties over ``_args``
    in 26)."""
    if getattr(base, "marshal_pending", None) is not None:
        return base  # lazy already
    lazy = _LAZY.get(base)
    if lazy is not None:
        return lazy
    args_slot, kwargs_slot = _descriptor(base, "args"), _descriptor(base, "kwargs")
    if args_slot is None or kwargs_slot is None:
        return None

    def materialize(msg: Any) -> None:
        kept = msg._router_internal
        if type(kept) is not ReceivedArguments or kept.pending_args is None:
            return
        args, kwargs = kept.decoded()
        if args_slot.__get__(msg, base) is kept.pending_args:
            args_slot.__set__(msg, args)
        if kwargs_slot.__get__(msg, base) is kept.pending_kwargs:
            kwargs_slot.__set__(msg, kwargs)

    def reader(slot: Any) -> Callable[[Any], Any]:
        def read(msg: Any) -> Any:
            value = slot.__get__(msg, base)
            if value is not None and _is_stand_in(value):
                materialize(msg)
                value = slot.__get__(msg, base)
            return value
        return read

    def marshal_pending(msg: Any) -> list:
        """``marshal()`` with the stand-ins as they are, for a serializer that writes the
        kept octets in their place (node.wire.splice)."""
        msg.__class__ = base
        try:
            return msg.marshal()
        finally:
            msg.__class__ = lazy

    def unread(msg: Any) -> Tuple[Any, Any]:
        return args_slot.__get__(msg, base), kwargs_slot.__get__(msg, base)

    lazy = type(base.__name__, (base,), {
        "__slots__": (),
        "__module__": base.__module__,
        "__qualname__": base.__qualname__,
        "__doc__": f"{base.__name__} whose arguments are decoded when first read (node.wire.lazy).",
        "args": property(reader(args_slot), args_slot.__set__),
        "kwargs": property(reader(kwargs_slot), kwargs_slot.__set__),
        "marshal_pending": marshal_pending,
        "unread_arguments": unread,
    })
    lazy.__slots__ = base.__slots__  # type: ignore[attr-defined]  # what autobahn's __eq__ and __str__ walk
    _LAZY[base] = lazy
    return lazy


def _is_stand_in(value: Any) -> bool:
    kind = type(value)
    if kind is list:
        return len(value) == 1 and value[0] is PENDING
    if kind is dict:
        return len(value) == 1 and value.get(PENDING_KEY) is PENDING
    return False


PENDING_KEY = "\x00pending"  # a key no decoded map has: the scanner refuses NUL escapes


def unread_arguments(msg: Any) -> Tuple[Any, Any]:
    """``msg``'s ``args`` and ``kwargs`` for the message the router makes of it: a lazy
    message's stand-ins, undecoded (:func:`carry_arguments` makes that message lazy)."""
    unread = getattr(msg, "unread_arguments", None)
    if unread is None:
        return msg.args, msg.kwargs
    return unread()


def carry_arguments(forwarded: Any, received: Any) -> None:
    """``forwarded`` (an INVOCATION, RESULT, ERROR or EVENT the router made from
    ``received``) may be written with ``received``'s argument octets, and if those are
    not decoded yet, decodes them from there when read."""
    kept = getattr(received, "_router_internal", None)  # None: made in-process, or small
    if type(kept) is not ReceivedArguments:
        return
    forwarded._router_internal = kept
    if kept.pending_args is not None:
        lazy = lazy_class(type(forwarded))
        if lazy is None:  # no arguments to hold: nothing forwarded as stand-ins
            return
        forwarded.__class__ = lazy


def lazy_message(payload: Any, codec: str, decode_array: Callable[[Any], list],
                 table: Dict[int, Any]) -> Optional[Any]:
    """The message in ``payload`` (at least :data:`LAZY_MIN` octets in ``codec``) with its
    arguments not decoded, or None: decode it in full.

    ``decode_array`` decodes one array in ``codec`` as the serializer does; ``table`` is
    the serializer's parse table (:mod:`node.wire.parsing`)."""
    scanned = scan_message(codec, payload)
    if scanned is None:
        return None
    starts, ends, kinds = scanned
    count = len(starts)
    try:
        index = ARGUMENTS_AT.get(_message_type(payload, codec, starts[0], ends[0]))
        if index is None or not index < count <= index + 2:
            return None
        if kinds[index] != KIND_ARRAY or (count == index + 2 and kinds[index + 1] != KIND_MAP):
            return None
        raw = _head(payload, codec, ends, index, decode_array)
        pending_args: List[Any] = [PENDING]
        pending_kwargs = {PENDING_KEY: PENDING} if count == index + 2 else None
        raw.append(pending_args)
        if pending_kwargs is not None:
            raw.append(pending_kwargs)
        msg = parse(raw, table)
    except Exception:  # noqa: BLE001 - the full decode gives the answer and its wording
        return None
    lazy = lazy_class(type(msg))
    if lazy is None or getattr(msg, "payload", None) is not None:
        return None
    args, kwargs = msg.args, msg.kwargs  # (still of its own class: the stand-ins themselves)
    if args is not pending_args or kwargs is not pending_kwargs:
        return None  # parsed into other objects: payload transparency, say
    octets = memoryview(payload)[starts[index]:]
    msg._router_internal = ReceivedArguments(
        pending_args, pending_kwargs, count - index, octets, codec,
        pending=lambda: decode_array(_array_of(codec, count - index, octets)))
    msg.__class__ = lazy
    return msg


def _message_type(payload: Any, codec: str, start: int, end: int) -> Optional[int]:
    """The first element, if it is a small unsigned integer as WAMP message types are."""
    if codec == "json":
        digits = bytes(payload[start:end])
        return int(digits) if digits.isdigit() and len(digits) < 4 else None
    first = payload[start]
    if codec == "msgpack":
        return first if first < 0x80 else None  # positive fixint
    if first < 24:  # CBOR: an unsigned integer in the initial octet, or in the next one
        return first
    return payload[start + 1] if first == 24 and end == start + 2 else None


def _head(payload: Any, codec: str, ends: List[int], elements: int, decode_array: Callable[[Any], list]) -> list:
    """The first ``elements`` elements of the message, decoded (a few small values)."""
    if codec == "json":
        return decode_array(bytes(payload[:ends[elements - 1]]) + b"]")
    return decode_array(_array_of(codec, elements, payload[1:ends[elements - 1]]))


def _array_of(codec: str, count: int, octets: Any) -> bytes:
    """The array of the ``count`` elements at the start of ``octets`` (which run to the
    message's end: JSON's closing bracket included)."""
    if codec == "json":
        return b"[" + bytes(octets)
    return bytes((ARRAY_HEADERS[codec][0] + count,)) + bytes(octets)
