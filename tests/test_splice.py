"""A large message's arguments are forwarded as the octets they came in (issue 17).

``node.wire.splice``: the serializer keeps the received octets from ``Arguments`` to the
end of a large CALL, YIELD, PUBLISH or ERROR; the router carries them to the message it
forwards, and a JSON serializer writes that message's head followed by those octets.
Checked here: the output is autobahn's bytes for what autobahn clients send, the
received octets really are used (an escape autobahn would not write survives), and
every case where they must not be used (other arguments, a head too long to walk, a
batched serializer, payload transparency) is encoded as before. The same for msgpack and
CBOR (their absent values, a head encoded otherwise, another format on the other side).
"""
from __future__ import annotations

import json
import time
from typing import Any, List

import pytest
from autobahn.wamp.message import Call, Error, Event, Invocation, Publish, Result, Yield
from autobahn.wamp import serializer as autobahn_serializers
from autobahn.wamp.serializer import JsonSerializer as AutobahnJson

from node.fastpath.payload_parts import OCTETS_AS_BYTES_MAX, PayloadParts
from node.fastpath.raw_send import RAW_SEND_MIN, SENDS_FROM_BUFFERS
from node.wire.messages import ProgressiveInvocation
from node.wire.serializers import SERIALIZERS, JsonSerializer
from node.wire import lazy, splice
from node.wire.lazy import carry_arguments, unread_arguments
from node.wire.scan import SCANS
from node.wire.splice import ARGUMENTS_AT, HEAD_MAX, SPLICE_MIN, ReceivedArguments

from conftest import free_port, router_config, start_node, tcp
from stack import PYPY
from test_router_e2e_rawsocket_wire import RawSocketPeer

BIG = "x" * SPLICE_MIN
AUTOBAHN = AutobahnJson()


def received(payload: bytes) -> Any:
    [msg] = JsonSerializer().unserialize(bytearray(payload), False)
    return msg


@pytest.fixture(params=["lazy", "eager"])
def decoding(request: Any, monkeypatch: Any) -> str:
    """Both ways a large message comes in: checked by the C scanner, its arguments decoded
    only when read (node.wire.lazy), or decoded in full (the scanner not built, or not
    sure of the message)."""
    if request.param == "eager":
        monkeypatch.setattr(lazy, "scan_message", lambda codec, payload: None)
    return request.param


def test_the_scanner_was_built() -> None:
    assert SCANS, "node/wire/_native_scan was not built: see node/wire/native_scan_build.py"


def forward(incoming: Any) -> Any:
    """What the router makes of ``incoming`` (as the dealer and broker do: the arguments
    taken unread)."""
    args, kwargs = unread_arguments(incoming)
    if isinstance(incoming, Call):
        out = ProgressiveInvocation(5, 6, args=args, kwargs=kwargs, caller=3, procedure="com.é.proc")
    elif isinstance(incoming, Yield):
        out = Result(9, args=args, kwargs=kwargs, progress=True)
    elif isinstance(incoming, Publish):
        out = Event(11, 12, args=args, kwargs=kwargs, publisher=13, topic="com.t")
    else:
        out = Error(Call.MESSAGE_TYPE, 14, incoming.error, args=args, kwargs=kwargs)
    carry_arguments(out, incoming)
    return out


CASES = {
    "call, args": Call(1, "com.échο", args=[BIG, 1, None, True, 2.5, "é€\U0001F600"]),
    "call, args and kwargs": Call(1, "com.p", args=[BIG], kwargs={"k": [BIG], "é": {}}),
    "call, kwargs only": Call(1, "com.p", kwargs={"k": BIG}),
    "call, binary": Call(1, "com.p", args=[BIG.encode(), b"\x00\xff"]),
    "yield": Yield(2, args=[BIG], kwargs={"n": 1}),
    "publish": Publish(3, "com.t", args=[BIG], kwargs={"a": [1, 2]}),
    "error": Error(Invocation.MESSAGE_TYPE, 4, "com.err", args=[BIG], kwargs={"why": "é"}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_forwarded_message_is_autobahns_bytes(name: str, decoding: str) -> None:
    payload, _ = AUTOBAHN.serialize(CASES[name])
    incoming = received(payload)
    assert type(incoming._router_internal) is ReceivedArguments
    out = forward(incoming)
    data = JsonSerializer().serialize(out)[0]
    assert data == AUTOBAHN.serialize(_plain_copy(out))[0]


def _plain_copy(out: Any) -> Any:
    """``out`` without the received octets: what autobahn writes for it."""
    return out.__class__.parse(out.marshal())


def test_received_octets_are_what_is_sent(decoding: str) -> None:
    """An escape autobahn would write as the character itself, and whitespace, come out
    as the client sent them: the octets were spliced, not encoded again."""
    payload = ('[48, 1, {}, "com.p", ["\\u00e9", "%s"] , {"k" : 1} ]' % BIG).encode()
    out = forward(received(payload))
    data = JsonSerializer().serialize(out)[0]
    assert data.startswith(b'[68,5,6,{"caller":3,"procedure":"com.\xc3\xa9.proc"},["\\u00e9", "x')
    assert data.endswith(b'"] , {"k" : 1} ]')
    assert json.loads(data)[4:] == [["é", BIG], {"k": 1}]


# heads as clients write them: (octets up to the arguments, whether they are exactly
# what the node's encoder writes, so that the offset is found by encoding them)
HEADS = [
    (b'[48,1,{},"com.p",', True),
    (b'[48,7,{"receive_progress":true,"timeout":1500},"com.\xc3\xa9",', True),
    (b'[16,18446744073709551615,{"exclude":[1,2],"acknowledge":true},"com.t",', True),
    (b'[70,7,{"progress":true},', True),
    (b'[8,48,9,{},"com.err",', True),
    (b'[48,1,{},"com.\\u00e9",', False),  # an escape the encoder would not write
    (b'[48,1,{"x":1.5e-07},"com.p",', None),  # a float some encoders write otherwise
    (b'[48,1,{},"com.p", ', False),  # whitespace after the comma
    (b'[48, 1, {}, "com.p",', False),
    (b' [48,1,{},"com.p",', False),
]


@pytest.mark.parametrize("head, compact", HEADS)
def test_arguments_found_by_encoding_the_head_are_where_the_scanner_finds_them(head: bytes, compact: Any) -> None:
    payload = head + ('["%s"],{"k":1}]' % BIG).encode()
    raw = json.loads(payload)
    index = ARGUMENTS_AT[raw[0]]
    scanned = splice._offset_within(payload, index, HEAD_MAX)
    assert payload[scanned:].startswith(b'["x')
    assert splice.json_arguments_offset(payload, raw[:index]) == scanned
    by_encoding = splice._offset_by_encoding(payload, raw[:index])
    if compact is not None:
        assert (by_encoding is not None) == compact
    assert by_encoding in (None, scanned)


def test_one_octet_sequence_for_every_subscriber_of_an_event() -> None:
    payload, _ = AUTOBAHN.serialize(CASES["publish"])
    event = forward(received(payload))
    serializer = JsonSerializer()
    first, _ = serializer.serialize(event)
    again, _ = serializer.serialize(event)
    assert first is again


def test_senders_get_the_head_and_the_received_buffer_itself(decoding: str) -> None:
    """``serialize_parts`` (what the WebSocket and RawSocket senders call): the new head
    and a view of the very buffer the message came in, made once per message; joined,
    they are ``serialize``'s bytes."""
    received_buffer = bytearray(AUTOBAHN.serialize(CASES["yield"])[0])
    [incoming] = JsonSerializer().unserialize(received_buffer, False)
    out = forward(incoming)
    serializer = JsonSerializer()
    parts, binary = serializer.serialize_parts(out)
    assert type(parts) is PayloadParts and not binary
    if PYPY:  # a bytes copy, made once: PyPy's sendmsg would copy a view for every send
        assert type(parts.octets) is bytes and received_buffer.endswith(parts.octets)
    else:
        assert parts.octets.obj is received_buffer  # not copied
    assert parts.joined() == serializer.serialize(out)[0] == AUTOBAHN.serialize(_plain_copy(out))[0]
    assert len(parts) == len(parts.joined())
    assert serializer.serialize_parts(out)[0] is parts
    plain = Result(9, args=["x"])
    assert serializer.serialize_parts(plain)[0] == AUTOBAHN.serialize(plain)[0]


def test_octets_stay_a_view_except_on_pypy_up_to_its_limit() -> None:
    """CPython sends a view of the received buffer as it is; PyPy gets bytes up to
    ``OCTETS_AS_BYTES_MAX`` (its ``sendmsg`` copies a view each time) and the view above
    it, which the node sends from its own memory (:mod:`node.fastpath.raw_send`; without
    cffi from 4 MiB on, where a copy would be one more object of that size for its
    collector)."""
    if PYPY:
        assert OCTETS_AS_BYTES_MAX == (RAW_SEND_MIN - 1 if SENDS_FROM_BUFFERS else 4 * 1024 * 1024)
    small = bytearray(b"[1]]" * 1000)
    parts = PayloadParts(b"[50,1,{},", memoryview(small)[1:])
    assert type(parts.octets) is (bytes if PYPY else memoryview)
    assert parts.joined() == b"[50,1,{}," + bytes(small[1:]) and len(parts) == len(parts.joined())
    tail = PayloadParts(b"[", memoryview(b'[48,1,{},"p","abc"]')[13:])  # bytes: PyPy slices them
    assert type(tail.octets) is (bytes if PYPY else memoryview) and tail.joined() == b'["abc"]'
    huge = bytes(max(OCTETS_AS_BYTES_MAX, 0) + 1)
    assert PayloadParts(b"[", memoryview(huge)).octets.obj is huge


def test_pypy_sends_from_the_buffers_memory() -> None:
    """On PyPy the node's TCP and Unix connections send messages of ``RAW_SEND_MIN`` or more
    with libc through cffi (its own ``send`` and ``sendmsg`` copy a memoryview into new
    bytes first); CPython keeps its socket methods, which copy nothing."""
    assert SENDS_FROM_BUFFERS is PYPY


def test_other_arguments_are_encoded(decoding: str) -> None:
    payload, _ = AUTOBAHN.serialize(CASES["call, args and kwargs"])
    incoming = received(payload)
    out = ProgressiveInvocation(5, 6, args=list(incoming.args), kwargs=incoming.kwargs)
    carry_arguments(out, incoming)
    plain = ProgressiveInvocation(5, 6, args=list(incoming.args), kwargs=incoming.kwargs)
    assert JsonSerializer().serialize(out)[0] == AUTOBAHN.serialize(plain)[0]
    # decoded, an empty kwargs the client sent is not written: the same objects in fewer
    # elements are encoded; undecoded, it is forwarded as it came
    payload = ('[48,1,{},"com.p",["%s"],{}]' % BIG).encode()
    incoming = received(payload)
    out = forward(incoming)
    assert JsonSerializer().serialize(out)[0].endswith(b'"]]' if decoding == "eager" else b'"],{}]')
    assert out.kwargs == {} and incoming.kwargs == {}


def test_small_messages_are_encoded_and_long_heads_decoded_in_full_are_too(decoding: str) -> None:
    """A head longer than HEAD_MAX is not looked through for the arguments of a message
    decoded in full; the scanner finds them wherever they are."""
    small = received(AUTOBAHN.serialize(Call(1, "com.p", args=["x" * (SPLICE_MIN // 2)]))[0])
    assert small._router_internal is None
    long_head = Call(1, "com.p", args=[BIG], forward_for=[{"session": i, "authid": "a" * 50, "authrole": "r"}
                                                          for i in range(HEAD_MAX // 60)])
    incoming = received(AUTOBAHN.serialize(long_head)[0])
    assert (incoming._router_internal is None) == (decoding == "eager")
    out = forward(incoming)
    assert JsonSerializer().serialize(out)[0] == AUTOBAHN.serialize(_plain_copy(out))[0]


def test_batched_serializer_encodes() -> None:
    incoming = received(AUTOBAHN.serialize(CASES["yield"])[0])
    out = forward(incoming)
    batched = JsonSerializer(batched=True)
    data = batched.serialize(out)[0]
    assert data.endswith(b"\x18") and json.loads(data[:-1]) == json.loads(AUTOBAHN.serialize(_plain_copy(out))[0])


def test_payload_transparency_is_not_spliced() -> None:
    ppt = Call(1, "com.p", payload=b"\x01" * SPLICE_MIN, enc_algo="cryptobox", enc_serializer="json")
    incoming = received(AUTOBAHN.serialize(ppt)[0])
    assert incoming._router_internal is None


class RawOctetsPeer(RawSocketPeer):
    """A RawSocket client that reads the router's payloads as octets, undecoded."""

    def payloads(self, count: int) -> List[bytes]:
        out: List[bytes] = []
        deadline = time.monotonic() + 10
        while len(out) < count and time.monotonic() < deadline:
            while len(self.buffer) >= 4 and len(self.buffer) >= 4 + int.from_bytes(self.buffer[1:4], "big"):
                length = int.from_bytes(self.buffer[1:4], "big")
                frame_type, payload = self.buffer[0] & 0x07, self.buffer[4:4 + length]
                self.buffer = self.buffer[4 + length:]
                if frame_type == 0:
                    out.append(payload)
            if len(out) < count and not self._fill(deadline) and self.closed:
                break
        return out


def test_live_router_forwards_the_octets_it_received(tmp_path: Any) -> None:
    """A running node, plain sockets: the INVOCATION, RESULT and EVENTs carry the
    arguments exactly as the caller, callee and publisher wrote them (escapes and
    spaces autobahn would not write), and decode to the same values."""
    port = free_port()
    node = start_node(router_config([{"type": "rawsocket", "endpoint": tcp(port), "serializers": ["json"],
                                      "max_message_size": 4 * 1024 * 1024}]), tmp_path)
    peers = []
    try:
        callee, caller, subscriber_a, subscriber_b = peers = [RawOctetsPeer(port) for _ in range(4)]
        for peer in peers:
            peer.send([1, "realm1", {"roles": {"caller": {}, "callee": {}, "publisher": {}, "subscriber": {}}}])
            assert json.loads(peer.payloads(1)[0])[0] == 2  # WELCOME
        callee.send([64, 1, {}, "com.splice.echo"])
        registration = json.loads(callee.payloads(1)[0])[2]
        for peer in (subscriber_a, subscriber_b):
            peer.send([32, 1, {}, "com.splice.topic"])
            assert json.loads(peer.payloads(1)[0])[0] == 33  # SUBSCRIBED

        arguments = ('["\\u00e9 %s", 1.50, {"k" :  "\\/"}] , {"n" : null}  ]' % ("y" * 300_000)).encode()
        caller.send(b'[48, 7, {}, "com.splice.echo", ' + arguments)
        invocation = callee.payloads(1)[0]
        assert invocation.startswith(b"[68,") and invocation.endswith(b"," + arguments)
        request = json.loads(invocation)[1]
        assert json.loads(invocation)[2] == registration
        assert json.loads(invocation)[4:] == [["é " + "y" * 300_000, 1.5, {"k": "/"}], {"n": None}]

        answer = ('["\\u0041%s"]]' % ("z" * 200_000)).encode()
        callee.send(b'[70,%d,{},' % request + answer)
        result = caller.payloads(1)[0]
        assert result.startswith(b"[50,7,{},") and result.endswith(b"," + answer)

        caller.send(b'[16,8,{"exclude_me":false},"com.splice.topic",' + arguments)
        for peer in (subscriber_a, subscriber_b):
            event = peer.payloads(1)[0]
            assert event.startswith(b"[36,") and event.endswith(b"," + arguments)
        assert json.loads(event)[4][0] == "é " + "y" * 300_000
    finally:
        for peer in peers:
            peer.close()
        node.stop()
    assert "Traceback" not in node.output(), node.output()


# --- msgpack and CBOR ---------------------------------------------------------------------

BINARY_CODECS = [name for name in ("msgpack", "cbor") if name in SERIALIZERS]
AUTOBAHN_BINARY = {"msgpack": getattr(autobahn_serializers, "MsgPackSerializer", None),
                   "cbor": getattr(autobahn_serializers, "CBORSerializer", None)}


def received_as(codec: str, payload: bytes) -> Any:
    [msg] = SERIALIZERS[codec]().unserialize(bytearray(payload), True)
    return msg


@pytest.mark.parametrize("codec", BINARY_CODECS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_binary_forwarded_message_is_autobahns_bytes(codec: str, name: str, decoding: str) -> None:
    autobahn = AUTOBAHN_BINARY[codec]()
    incoming = received_as(codec, autobahn.serialize(CASES[name])[0])
    kept = incoming._router_internal
    assert type(kept) is ReceivedArguments and kept.codec == codec
    out = forward(incoming)
    parts, binary = SERIALIZERS[codec]().serialize_parts(out)
    assert type(parts) is PayloadParts and binary  # spliced
    assert parts.joined() == autobahn.serialize(_plain_copy(out))[0]


def _msgpack_str(text: str) -> bytes:
    data = text.encode()
    return bytes([0xDB]) + len(data).to_bytes(4, "big") + data  # str32, whatever the length


@pytest.mark.skipif("msgpack" not in SERIALIZERS, reason="no msgpack codec")
def test_msgpack_octets_received_are_what_is_sent() -> None:
    """Arguments encoded in a way the node's packer would not (a str32 for a short string,
    a uint32 for 1) leave exactly as they came, and decode to the same values."""
    args = b"\x92" + _msgpack_str("é") + _msgpack_str(BIG)  # fixarray of 2
    kwargs = b"\x81\xa1k\xce\x00\x00\x00\x01"  # {"k": 1}, 1 as a uint32
    head = b"\x96\x30\x01\x80\xa5com.p"  # [48, 1, {}, "com.p", ...] of six elements
    incoming = received_as("msgpack", head + args + kwargs)
    assert incoming.args == ["é", BIG] and incoming.kwargs == {"k": 1}
    data = SERIALIZERS["msgpack"]().serialize(forward(incoming))[0]
    assert data.endswith(args + kwargs) and data[0] == 0x96
    assert AUTOBAHN_BINARY["msgpack"]().unserialize(data)[0].marshal()[4:] == [["é", BIG], {"k": 1}]


@pytest.mark.skipif("msgpack" not in SERIALIZERS, reason="no msgpack codec")
def test_msgpack_head_written_otherwise_absent_values_and_other_formats_are_encoded(decoding: str) -> None:
    ours = SERIALIZERS["msgpack"]()
    args = b"\x91" + _msgpack_str(BIG)
    # the request ID as a uint64: decoded in full, the head is not the node's encoding, so
    # nothing is kept; the scanner found the arguments without it
    incoming = received_as("msgpack", b"\x95\x30\xcf" + (1).to_bytes(8, "big") + b"\x80\xa5com.p" + args)
    assert (incoming._router_internal is None) == (decoding == "eager") and incoming.args == [BIG]
    # (str32 as sent when kept; the packer's str16 when encoded anew)
    assert ours.serialize(forward(incoming))[0].endswith(args[1:] if decoding == "lazy" else b"\xda\x40\x00" + BIG.encode())
    # an absent value (ext type 0) in the arguments: dropped by the router, so encoded anew
    absent = b"\xd4\x00\x00"
    incoming = received_as("msgpack", b"\x95\x30\x01\x80\xa5com.p\x92" + _msgpack_str(BIG) + absent)
    assert incoming._router_internal is None and incoming.args == [BIG, None]
    assert ours.serialize(forward(incoming))[0].endswith(b"\xc0")  # None
    # msgpack octets are never written for JSON, nor JSON's for msgpack, nor batched
    from_msgpack = forward(received_as("msgpack", ours.serialize(CASES["yield"])[0]))
    assert type(JsonSerializer().serialize_parts(from_msgpack)[0]) is bytes
    assert type(SERIALIZERS["msgpack"](batched=True).serialize_parts(from_msgpack)[0]) is bytes
    from_json = forward(received(AUTOBAHN.serialize(CASES["yield"])[0]))
    data, _ = ours.serialize_parts(from_json)
    assert type(data) is bytes and data == AUTOBAHN_BINARY["msgpack"]().serialize(_plain_copy(from_json))[0]


@pytest.mark.parametrize("codec", BINARY_CODECS)
def test_large_request_with_an_invalid_uri_is_answered_not_spliced(codec: str) -> None:
    """A large CALL whose URI is invalid parses to the request the router answers with ERROR
    invalid_uri (it has no arguments to forward), and its buffer is emptied."""
    from node.wire.messages import InvalidUriRequest

    serializer = SERIALIZERS[codec]()
    payload = bytearray(serializer._serializer.serialize([48, 1, {}, "com..bad uri", [BIG]]))
    [request] = serializer.unserialize(payload, True)
    assert type(request) is InvalidUriRequest and request.request == 1
    assert len(payload) == 0


@pytest.mark.skipif("cbor" not in SERIALIZERS, reason="no CBOR codec")
def test_cbor_undefined_in_the_arguments_is_encoded_anew() -> None:
    """CBOR ``undefined`` (absent, for wampy.js) in the kwargs: dropped, so not spliced."""
    text = BIG.encode()
    payload = (b"\x86\x18\x30\x01\xa0\x65com.p\x81\x7a" + len(text).to_bytes(4, "big") + text
               + b"\xa2\x61a\xf7\x61b\x01")  # [48, 1, {}, "com.p", [BIG], {"a": undefined, "b": 1}]
    incoming = received_as("cbor", payload)
    assert incoming._router_internal is None and incoming.kwargs == {"b": 1}
    spliced_too = received_as("cbor", payload.replace(b"\x61a\xf7", b"\x61a\xf6"))  # null: kept
    assert type(spliced_too._router_internal) is ReceivedArguments


@pytest.mark.skipif("msgpack" not in SERIALIZERS, reason="no msgpack codec")
def test_live_router_forwards_msgpack_octets_it_received(tmp_path: Any) -> None:
    """A running node, RawSocket msgpack peers: the INVOCATION, RESULT and EVENTs end with
    the arguments exactly as sent (encodings the node's packer would not write)."""
    port = free_port()
    node = start_node(router_config([{"type": "rawsocket", "endpoint": tcp(port), "serializers": ["msgpack"],
                                      "max_message_size": 4 * 1024 * 1024}]), tmp_path)
    peers: List[Any] = []
    try:
        callee, caller, subscriber_a, subscriber_b = peers = [RawOctetsPeer(port, "msgpack") for _ in range(4)]
        for peer in peers:
            peer.send([1, "realm1", {"roles": {"caller": {}, "callee": {}, "publisher": {}, "subscriber": {}}}])
            assert peer.receive(1)[0][0] == 2  # WELCOME
        callee.send([64, 1, {}, "com.splice.echo"])
        assert callee.receive(1)[0][0] == 65  # REGISTERED
        for peer in (subscriber_a, subscriber_b):
            peer.send([32, 1, {}, "com.splice.topic"])
            assert peer.receive(1)[0][0] == 33  # SUBSCRIBED

        arguments = b"\x92" + _msgpack_str("y" * 300_000) + b"\xc4\x03\x00\xff\x01" + b"\x81\xa1n\xce\x00\x00\x00\x07"
        caller.send(b"\x96\x30\x07\x80\xafcom.splice.echo" + arguments)
        [invocation] = callee.payloads(1)
        assert invocation[:2] == b"\x96\x44" and invocation.endswith(arguments)
        decoded = AUTOBAHN_BINARY["msgpack"]().unserialize(invocation)[0]
        assert decoded.args == ["y" * 300_000, b"\x00\xff\x01"] and decoded.kwargs == {"n": 7}

        answer = b"\x91" + _msgpack_str("z" * 200_000)
        head = SERIALIZERS["msgpack"]()._serializer.serialize([70, decoded.request, {}])  # [70, request, {}]
        callee.send(b"\x94" + head[1:] + answer)
        [result] = caller.payloads(1)
        assert result.startswith(b"\x94\x32\x07") and result.endswith(answer)

        caller.send(b"\x96\x10\x08\x81\xaaexclude_me\xc2\xb0com.splice.topic" + arguments)
        for peer in (subscriber_a, subscriber_b):
            [event] = peer.payloads(1)
            assert event[:2] == b"\x96\x24" and event.endswith(arguments)
    finally:
        for peer in peers:
            peer.sock.close()
        node.stop()
    assert "Traceback" not in node.output(), node.output()
