"""A large message's arguments forwarded as the octets they came in, not encoded again.

A CALL's ``Arguments`` and ``ArgumentsKw`` leave the router unchanged in the INVOCATION
(likewise YIELD to RESULT, ERROR to ERROR, PUBLISH to EVENT), and they are the last
elements of both messages. When a JSON peer sends such a message of at least
:data:`SPLICE_MIN` octets, the serializer keeps the octets from ``Arguments`` to the end
(:class:`ReceivedArguments`, on the message's ``_router_internal``, a slot autobahn keeps
for routers); the router hands that to the message it forwards
(:func:`carry_arguments`), and a JSON serializer writing it encodes only the small head
(``[68,1,2,{}``), followed by the received octets (:func:`spliced`), which the
WebSocket and RawSocket senders write after it without joining them
(:class:`~node.fastpath.payload_parts.PayloadParts`): no second pass over a megabyte of
text to escape it (about 1 ms per MiB on PyPy), no copy of it, and no large object
more for the garbage collector.

The message is still decoded in full when it comes in (its JSON checked, its arguments
available to whatever reads them: authorization, in-process sessions, other
serializers), so nothing is forwarded that the router would have refused. The octets
are used only when the forwarded message holds those very argument objects (``is``) in
the same number of elements, for a JSON serializer that is not batched; anything else
(another serializer, payload transparency, arguments the router replaced) is encoded
as before.
"""
from __future__ import annotations

import re
from typing import Any, Optional

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
    with the objects decoded from them, to recognise them in a forwarded message."""

    __slots__ = ("args", "kwargs", "count", "octets")

    def __init__(self, args: Any, kwargs: Any, count: int, octets: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.count = count  # elements from Arguments to the end: 1 or 2
        self.octets = octets  # a memoryview of the received payload: no copy


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


def received_json_arguments(msg: Any, raw: list, payload: Any) -> Optional[ReceivedArguments]:
    """What :func:`spliced` needs of ``msg`` (decoded from ``raw``, from ``payload``), or
    None if it has no arguments to forward as they came."""
    index = ARGUMENTS_AT.get(raw[0])
    if index is None or len(raw) <= index or getattr(msg, "payload", None) is not None:
        return None
    if raw[index] is not msg.args or (len(raw) > index + 1 and raw[index + 1] is not msg.kwargs):
        return None  # parsed into other objects: encode those
    offset = json_arguments_offset(payload, raw[:index])
    if offset is None:
        return None
    return ReceivedArguments(msg.args, msg.kwargs, len(raw) - index, memoryview(payload)[offset:])


def carry_arguments(forwarded: Any, received: Any) -> None:
    """``forwarded`` (an INVOCATION, RESULT, ERROR or EVENT the router made from
    ``received``) may be written with ``received``'s argument octets."""
    kept = getattr(received, "_router_internal", None)  # None: made in-process, or small
    if kept is not None:
        forwarded._router_internal = kept


def spliced(msg: Any, kept: ReceivedArguments, encode: Any) -> Optional[PayloadParts]:
    """``msg`` as JSON: its head encoded by ``encode``, then the received octets (not
    joined); None if ``msg`` does not end with the very arguments ``kept`` was made from."""
    parts = msg.marshal()
    head = len(parts) - kept.count
    if head < 1 or parts[head] is not kept.args or (kept.count == 2 and parts[head + 1] is not kept.kwargs):
        return None
    return PayloadParts(encode(parts[:head])[:-1] + b",", kept.octets)
