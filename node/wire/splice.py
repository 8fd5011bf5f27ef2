"""A large message's arguments forwarded as the octets they came in, not encoded again.

A CALL's ``Arguments`` and ``ArgumentsKw`` leave the router unchanged in the INVOCATION
(likewise YIELD to RESULT, ERROR to ERROR, PUBLISH to EVENT), and they are the last
elements of both messages. When a peer sends such a message of at least
:data:`SPLICE_MIN` octets, the serializer keeps the octets from ``Arguments`` to the end
(:class:`ReceivedArguments`, on the message's ``_router_internal``, a slot autobahn keeps
for routers); the router hands that to the message it forwards
(:func:`node.wire.lazy.carry_arguments`), and a serializer of the same format writing it encodes only
the small head (``[68,1,2,{}``), followed by the received octets (:func:`spliced`), which
the WebSocket and RawSocket senders write after it without joining them
(:class:`~node.fastpath.payload_parts.PayloadParts`): no second pass over a megabyte to
encode it (JSON: about 1 ms per MiB on PyPy; msgpack and CBOR: 0.17 ms per MiB on CPython,
msgpack 1.3 ms on PyPy), no copy of it, and no large object more for the garbage collector.

JSON: the head is found by encoding it as the node does, or else with the standard
library's scanner (:func:`json_arguments_offset`). msgpack and CBOR
(:func:`received_binary_arguments`): a message is an array of at most seven elements,
whose header is one octet holding the count; the head is found by encoding the
elements before ``Arguments`` and finding exactly those octets after the header (any
client encoding them otherwise is not spliced), and the forwarded message's header
is that of its own head plus the elements carried.

Nothing is forwarded that the router would have refused: a message is either decoded
in full when it comes in, or checked octet by octet in C and its arguments decoded
when something reads them (:mod:`node.wire.lazy`; a forwarded message then holds
stand-ins, which :meth:`ReceivedArguments.holds` recognises too). The octets
are used only when the forwarded message holds those very argument objects (``is``) in
the same number of elements, for a serializer of the same format that is not batched;
anything else (another format, payload transparency, arguments the router replaced,
msgpack's or CBOR's absent values, which the router drops) is encoded as before.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Optional, Tuple

from node.fastpath.payload_parts import PayloadParts
from node.wire.json_codec import json_dumps, json_scan

SPLICE_MIN = 16 * 1024
"""Smaller messages are encoded again: the encoder is faster than keeping the octets."""

# where Arguments sits in the messages a peer sends with an application payload
ARGUMENTS_AT = {48: 4, 16: 4, 70: 3, 8: 5}  # CALL, PUBLISH, YIELD, ERROR
# the head (type, IDs, options/details, URI) is looked for in this many octets at most
HEAD_MAX = 8 * 1024
HEAD_USUAL = 512  # where it nearly always is (a URI and a few options)
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SPACE = b" \t\n\r"


class ReceivedArguments:
    """The octets of a message's ``Arguments`` (and ``ArgumentsKw``) through its end,
    with the objects decoded from them, to recognise them in a forwarded message.

    Made by :mod:`node.wire.lazy` for a message not decoded yet: ``args`` and ``kwargs``
    are then stand-ins (also kept as ``pending_args``/``pending_kwargs``, which forwarded
    messages hold until read) and ``pending`` decodes the octets (:meth:`decoded`)."""

    __slots__ = ("args", "kwargs", "count", "octets", "codec", "pending", "pending_args", "pending_kwargs")

    def __init__(self, args: Any, kwargs: Any, count: int, octets: Any, codec: str = "json",
                 pending: Optional[Callable[[], list]] = None) -> None:
        self.args = args
        self.kwargs = kwargs
        self.count = count  # elements from Arguments to the end: 1 or 2
        self.octets = octets  # a memoryview of the received payload: no copy
        self.codec = codec  # the format of the octets: only a serializer of it writes them
        self.pending = pending
        self.pending_args = args if pending is not None else None
        self.pending_kwargs = kwargs if pending is not None else None

    def decoded(self) -> Tuple[Any, Any]:
        """The arguments, decoded from the octets the first time they are asked for."""
        if self.pending is not None:
            values = self.pending()
            self.pending = None
            self.args = values[0]
            self.kwargs = values[1] if len(values) > 1 else None
        return self.args, self.kwargs

    def holds(self, args: Any, kwargs: Any) -> bool:
        """Whether a message's arguments are these (decoded, or still the stand-ins)."""
        if args is not self.args and (args is not self.pending_args or args is None):
            return False
        if self.count == 2 and kwargs is not self.kwargs and (kwargs is not self.pending_kwargs or kwargs is None):
            return False
        return True


def json_arguments_offset(payload: Any, head: list) -> Optional[int]:
    """Where the element after ``head`` in the JSON array in ``payload`` starts (an octet
    offset), or None if the elements before it are not within :data:`HEAD_MAX` octets.

    ``payload`` has been decoded in full already (valid JSON), and ``head`` is what its
    first elements decoded to. Clients write compact JSON, so the
    payload usually begins with exactly what the node's own encoder writes for ``head``
    (:func:`_offset_by_encoding`); otherwise this walks the head's few elements with
    the standard library's scanner: in the first :data:`HEAD_USUAL` octets, and only if
    they do not hold them, in :data:`HEAD_MAX` (decoding 8 KiB for a head of 30 octets
    was most of this function's time)."""
    found = _offset_by_encoding(payload, head)
    if found is not None:
        return found if found <= HEAD_MAX else None
    found = _offset_within(payload, len(head), HEAD_USUAL)
    return found if found is not None else _offset_within(payload, len(head), HEAD_MAX)


def _offset_by_encoding(payload: Any, head: list) -> Optional[int]:
    """The offset just past ``head``'s elements and their comma, if ``payload`` begins
    with ``head`` as :func:`json_dumps` writes it (its closing bracket where the payload
    has that comma); else None.

    Sound because each element's text is a complete JSON value followed by a comma in
    both, so the payload's first elements are those very texts. One encoding of a few
    small values and one comparison: a third of the scanner's time on CPython, a sixth
    on PyPy (64 KiB messages, issue 17)."""
    try:
        text = json_dumps(head)
    except Exception:  # noqa: BLE001 - what the encoder cannot write, the scanner walks
        return None
    end = len(text)
    if len(payload) <= end or payload[end - 1] != 0x2C or payload[end] in _SPACE or not payload.startswith(text[:-1]):
        return None  # (whitespace after the comma: the scanner skips it)
    return end


def _offset_within(payload: Any, index: int, limit: int) -> Optional[int]:
    head = str(payload[:limit], "utf8", "replace")  # a character cut at the end: replaced
    try:
        pos = _WHITESPACE.match(head).end()
        if head[pos] != "[":
            return None
        pos += 1
        for _ in range(index):
            pos = _WHITESPACE.match(head, pos).end()
            pos = json_scan(head, pos)[1]
            pos = _WHITESPACE.match(head, pos).end()
            if head[pos] != ",":
                return None
            pos = _WHITESPACE.match(head, pos + 1).end()
    except (StopIteration, ValueError, IndexError):  # the head runs past HEAD_MAX
        return None
    if pos > len(head) - 4:  # too near a character that may have been cut
        return None
    return len(head[:pos].encode("utf8"))


def _arguments_index(msg: Any, raw: list) -> Optional[int]:
    """Where ``Arguments`` is in ``raw`` if ``msg`` holds the very objects decoded there."""
    index = ARGUMENTS_AT.get(raw[0])
    if index is None or len(raw) <= index or getattr(msg, "payload", None) is not None:
        return None
    if not hasattr(msg, "args"):  # a request refused with ERROR (InvalidUriRequest): nothing forwarded
        return None
    if raw[index] is not msg.args or (len(raw) > index + 1 and raw[index + 1] is not msg.kwargs):
        return None  # parsed into other objects (absent values dropped, say): encode those
    return index


def received_json_arguments(msg: Any, raw: list, payload: Any) -> Optional[ReceivedArguments]:
    """What :func:`spliced` needs of ``msg`` (decoded from ``raw``, from ``payload``), or
    None if it has no arguments to forward as they came."""
    index = _arguments_index(msg, raw)
    if index is None:
        return None
    offset = json_arguments_offset(payload, raw[:index])
    if offset is None:
        return None
    return ReceivedArguments(msg.args, msg.kwargs, len(raw) - index, memoryview(payload)[offset:])


# the one-octet array headers of msgpack (fixarray) and CBOR (major type 4, count < 24)
ARRAY_HEADERS = {"msgpack": (0x90, 0x9F), "cbor": (0x80, 0x97)}


def received_binary_arguments(msg: Any, raw: list, payload: Any, encode: Any,
                              codec: str) -> Optional[ReceivedArguments]:
    """:func:`received_json_arguments` for msgpack and CBOR (``codec``): the head
    ``encode``d as the node writes it must be what ``payload`` has after its header."""
    index = _arguments_index(msg, raw)
    if index is None:
        return None
    try:
        head = encode(raw[:index])
    except Exception:  # noqa: BLE001 - what the encoder cannot write is not spliced
        return None
    low, high = ARRAY_HEADERS[codec]
    size = len(head)
    if (size > HEAD_MAX or len(payload) <= size or not low <= head[0] <= high
            or payload[0] != head[0] + len(raw) - index or payload[1:size] != head[1:]):
        return None
    return ReceivedArguments(msg.args, msg.kwargs, len(raw) - index, memoryview(payload)[size:], codec)


def spliced(msg: Any, kept: ReceivedArguments, encode: Any) -> Optional[PayloadParts]:
    """``msg`` in ``kept``'s format: its head encoded by ``encode``, then the received
    octets (not joined); None if ``msg`` does not end with the very arguments ``kept`` was
    made from."""
    marshal = getattr(msg, "marshal_pending", None)  # a lazy message (node.wire.lazy): stand-ins as they are
    parts = marshal() if marshal is not None else msg.marshal()
    head = len(parts) - kept.count
    if head < 1 or not kept.holds(parts[head], parts[head + 1] if kept.count == 2 else None):
        return None
    octets = encode(parts[:head])
    if kept.codec == "json":
        return PayloadParts(octets[:-1] + b",", kept.octets)
    header = octets[0] + kept.count
    if header > ARRAY_HEADERS[kept.codec][1]:
        return None
    return PayloadParts(bytes((header,)) + octets[1:], kept.octets)
