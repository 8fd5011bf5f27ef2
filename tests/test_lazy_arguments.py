"""Large messages whose arguments are decoded only when read (node.wire.lazy), and the C
scanner that checks them instead (node.wire.scan, node/wire/native_scan_build.py).

What is at stake: the router must forward nothing it would have refused, and whatever
reads the arguments (another format's subscriber, a retained event, the event history,
an in-process session) must get exactly what the full decode gives.
"""
from __future__ import annotations

import json
import random
from typing import Any, List, Tuple

import pytest
from autobahn.wamp import message as m
from autobahn.wamp import serializer as autobahn_serializers
from autobahn.wamp.exception import ProtocolError
from twisted.internet.task import Clock

from node.config.model import EventHistory
from node.router import Router
from node.wire import lazy
from node.wire.lazy import LAZY_MIN, PENDING, carry_arguments, unread_arguments
from node.wire.scan import SCANS, scan_message
from node.wire.serializers import SERIALIZERS
from node.wire.splice import ReceivedArguments

from router_fakes import Client, realm

pytestmark = pytest.mark.skipif(not SCANS, reason="the C scanner was not built (test_splice says so and fails)")

CODECS = sorted(SERIALIZERS)
BIG = "x" * LAZY_MIN
AUTOBAHN = {"json": autobahn_serializers.JsonSerializer,
            "msgpack": getattr(autobahn_serializers, "MsgPackSerializer", None),
            "cbor": getattr(autobahn_serializers, "CBORSerializer", None)}


def received(codec: str, payload: bytes, eager: bool = False, monkeypatch: Any = None) -> Any:
    serializer = SERIALIZERS[codec]()
    if eager:
        monkeypatch.setattr(lazy, "scan_message", lambda codec, payload: None)
    try:
        [msg] = serializer.unserialize(bytearray(payload), codec != "json")
    finally:
        if eager:
            monkeypatch.setattr(lazy, "scan_message", scan_message)
    return msg


def encoded(codec: str, msg: Any) -> bytes:
    return AUTOBAHN[codec]().serialize(msg)[0]


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth < 4 and roll < 0.2:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if depth < 4 and roll < 0.35:
        return {_text(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return rng.choice([None, True, False, 0, -1, 127, 128, -33, 2 ** 31, 2 ** 63 - 1, -2 ** 63, 1.5, -0.0,
                       1e300, _text(rng), _text(rng), "y" * 300])


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(["a", "é", "€", "\U0001D11E", '"', "\\", "\n", "/", "\u2028", "\x7f"])
                   for _ in range(rng.randint(0, 6)))


def _messages(seed: int) -> List[Any]:
    rng = random.Random(seed)
    out = []
    for _ in range(40):
        args = [BIG] + [_value(rng) for _ in range(rng.randint(0, 3))]
        kwargs = {"k": _value(rng)} if rng.random() < 0.6 else None
        out.append(rng.choice([
            m.Call(rng.randint(1, 2 ** 53), "com.é.p", args=args, kwargs=kwargs, timeout=rng.choice([None, 100])),
            m.Yield(rng.randint(1, 2 ** 53), args=args, kwargs=kwargs, progress=rng.choice([None, True])),
            m.Publish(rng.randint(1, 2 ** 53), "com.t", args=args, kwargs=kwargs, acknowledge=True),
            m.Error(m.Invocation.MESSAGE_TYPE, 4, "com.err", args=args, kwargs=kwargs),
        ]))
    return out


def forward(incoming: Any) -> Any:
    """What the dealer or broker makes of ``incoming``: its arguments taken unread."""
    args, kwargs = unread_arguments(incoming)
    if isinstance(incoming, m.Call):
        out = m.Invocation(5, 6, args=args, kwargs=kwargs, caller=3)
    elif isinstance(incoming, m.Yield):
        out = m.Result(9, args=args, kwargs=kwargs)
    elif isinstance(incoming, m.Publish):
        out = m.Event(11, 12, args=args, kwargs=kwargs)
    else:
        out = m.Error(m.Call.MESSAGE_TYPE, 14, incoming.error, args=args, kwargs=kwargs)
    carry_arguments(out, incoming)
    return out


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("seed", range(3))
def test_arguments_read_are_what_the_full_decode_gives(codec: str, seed: int, monkeypatch: Any) -> None:
    for original in _messages(seed):
        payload = encoded(codec, original)
        lazy_msg = received(codec, payload)
        full = received(codec, payload, eager=True, monkeypatch=monkeypatch)
        assert hasattr(lazy_msg, "marshal_pending"), payload[:200]  # plain data: the scanner is sure of it
        assert type(lazy_msg).__name__ == type(full).__name__ and isinstance(lazy_msg, type(full))
        assert lazy_msg.marshal() == full.marshal()
        assert lazy_msg.args == full.args and lazy_msg.kwargs == full.kwargs


@pytest.mark.parametrize("codec", CODECS)
def test_forwarding_leaves_the_arguments_undecoded(codec: str) -> None:
    """The router's own path (unread arguments, the same format on the other side) never
    decodes them; a subscriber of another format, or anything reading them, decodes them
    once, and both messages then hold the same objects."""
    incoming = received(codec, encoded(codec, m.Call(1, "com.p", args=[BIG, 1], kwargs={"k": "é"})))
    kept = incoming._router_internal
    assert type(kept) is ReceivedArguments and kept.pending is not None
    out = forward(incoming)
    data = SERIALIZERS[codec]().serialize(out)[0]
    assert kept.pending is not None  # not decoded
    assert data == encoded(codec, m.Invocation(5, 6, args=[BIG, 1], kwargs={"k": "é"}, caller=3))
    other = next(c for c in CODECS if c != codec) if len(CODECS) > 1 else codec
    SERIALIZERS[other](batched=True).serialize(out)  # another format or batched: decoded
    assert kept.pending is None
    assert out.args is incoming.args and out.kwargs is incoming.kwargs and out.args == [BIG, 1]


def test_nothing_ever_reads_a_stand_in() -> None:
    incoming = received("json", encoded("json", m.Publish(1, "com.t", args=[BIG], kwargs={"a": 1})))
    out = forward(incoming)
    for msg in (out, incoming):
        raw = msg.marshal()
        assert PENDING not in raw[-2] and raw[-2] == [BIG] and raw[-1] == {"a": 1}
    assert forward(incoming).args == [BIG]  # read already: forwarded decoded


# large payloads the full decode refuses or reads otherwise, and what each must give
REFUSED = [
    b'[48,1,{},"com.p",{"not":"a list"},"' + BIG.encode() + b'"]',
    b'[48,1,{},"com.p",["' + BIG.encode() + b'"],["not a dict"]]',
    b'[48,1,{},"com.p",["' + BIG.encode() + b'"],{},{}]',  # too many elements
    b'[48,1,{},"com.p",["' + BIG.encode() + b'"]',  # cut short
    b'[48,1,{},"com.p",["' + BIG.encode() + b'\xff"]]',  # invalid UTF-8 (RawSocket does not check it)
    b'[48,1,{},"com.p",["' + BIG.encode() + b'"]] trailing',
    b'[48,1,{},"com..bad",["' + BIG.encode() + b'"]]',  # invalid URI: ERROR, not a dead session
    b'[48,"1",{},"com.p",["' + BIG.encode() + b'"]]',
    b'[99,1,{},"com.p",["' + BIG.encode() + b'"]]',
]
ACCEPTED_OTHERWISE = [
    b'[48,1,{},"com.p",[NaN, "' + BIG.encode() + b'"]]',  # not JSON, yet the decoder takes it
    b'[48,1,{},"com.p",["\\u0000AAE=", "' + BIG.encode() + b'"]]',  # a binary string
    b'[48,1,{},"com.p",[' + b"[" * 300 + b"]" * 300 + b', "' + BIG.encode() + b'"]]',  # deep
    b'[48,1,{},"com.p",[' + b"1" * 80 + b', "' + BIG.encode() + b'"]]',  # a long number
]


def _outcome(payload: bytes, codec: str = "json", **kwargs: Any) -> Tuple[str, Any]:
    try:
        msg = received(codec, payload, **kwargs)
    except ProtocolError as e:
        return "refused", str(e)
    return type(msg).__name__, msg.marshal() if hasattr(msg, "marshal") else repr(msg)


@pytest.mark.parametrize("payload", REFUSED + ACCEPTED_OTHERWISE, ids=range(len(REFUSED + ACCEPTED_OTHERWISE)))
def test_the_answer_to_any_payload_is_the_full_decodes(payload: bytes, monkeypatch: Any) -> None:
    assert _outcome(payload) == _outcome(payload, eager=True, monkeypatch=monkeypatch)
    if payload in ACCEPTED_OTHERWISE:
        assert scan_message("json", payload) is None  # left to the decoder


BINARY_REFUSED = {
    "msgpack": [
        b"\x95\x30\x01\x80\xa5com.p\x92\xdb\x00\x00\x40\x00" + BIG.encode() + b"\xd4\x00\x00",  # absent value
        b"\x95\x30\x01\x80\xa5com.p\x91\xdb\x00\x00\x40\x00" + BIG.encode()[:-1] + b"\xff",  # invalid UTF-8
        b"\x96\x30\x01\x80\xa5com.p\x91\xdb\x00\x00\x40\x00" + BIG.encode() + b"\x81\x01\x02",  # int key
        b"\x95\x30\x01\x80\xa5com.p\x81\xa1k\xdb\x00\x00\x40\x00" + BIG.encode(),  # args a map
        b"\x95\x30\x01\x80\xa5com.p\x91\xdb\x00\x00\x40\x00" + BIG.encode() + b"\xc0",  # trailing
    ],
    "cbor": [
        b"\x85\x18\x30\x01\xa0\x65com.p\x82\x79\x40\x00" + BIG.encode() + b"\xf7",  # undefined
        b"\x85\x18\x30\x01\xa0\x65com.p\x81\xc1\x01",  # a tag (and small)
        b"\x85\x18\x30\x01\xa0\x65com.p\x81\x79\x40\x00" + BIG.encode()[:-1] + b"\xff",  # invalid UTF-8
        b"\x86\x18\x30\x01\xa0\x65com.p\x81\x79\x40\x00" + BIG.encode() + b"\xa1\x01\x02",  # int key
    ],
}


@pytest.mark.parametrize("codec, payload", [(c, p) for c in CODECS if c in BINARY_REFUSED for p in BINARY_REFUSED[c]])
def test_binary_answers_are_the_full_decodes(codec: str, payload: bytes, monkeypatch: Any) -> None:
    well_formed = b"\xa5com.p\x81\xa1k" in payload  # arguments a map: scanned, refused for their kind
    assert (scan_message(codec, payload) is None) != well_formed
    assert _outcome(payload, codec) == _outcome(payload, codec, eager=True, monkeypatch=monkeypatch)


def test_payload_transparency_is_decoded_in_full() -> None:
    for codec in CODECS:
        ppt = m.Call(1, "com.p", payload=b"\x01" * LAZY_MIN, enc_algo="cryptobox", enc_serializer="json")
        incoming = received(codec, encoded(codec, ppt))
        assert not hasattr(incoming, "marshal_pending") and incoming.payload == b"\x01" * LAZY_MIN


# --- the router: what reads the arguments later gets them decoded -----------------------------

class WireClient(Client):
    """A client whose messages reach the router as the node's JSON serializer reads them."""

    def send(self, msg: m.Message) -> None:
        [parsed] = SERIALIZERS["json"]().unserialize(bytearray(encoded("json", msg)), False)
        self.session.onMessage(parsed)


def _joined(router: Router) -> WireClient:
    client = WireClient(router)
    assert isinstance(client.hello(), m.Welcome)
    return client


def test_router_forwards_a_large_call_and_result_undecoded() -> None:
    router = Router((realm(),), Clock())
    callee, caller = _joined(router), _joined(router)
    callee.register("com.big")
    callee.take()
    sent: List[Any] = []
    callee.transport.send = sent.append  # the INVOCATION object itself, as the router hands it over
    caller.call("com.big", BIG, "é")
    [invocation] = sent
    kept = invocation._router_internal
    assert type(kept) is ReceivedArguments and kept.pending is not None
    data = SERIALIZERS["json"]().serialize(invocation)[0]
    assert kept.pending is not None and json.loads(data)[4] == [BIG, "é"]


def test_retained_and_history_events_are_decoded() -> None:
    history = (EventHistory(uri="com.hist", match="exact", limit=2),)
    router = Router((realm(history=history),), Clock())
    publisher, early = _joined(router), _joined(router)
    early.subscribe("com.hist")
    subscription = early.last().subscription
    publisher.publish("com.kept", BIG, 1, retain=True)
    publisher.publish("com.hist", BIG, 2)
    assert [e.args for e in early.take()] == [[BIG, 2]]
    late = _joined(router)
    late.subscribe("com.kept", get_retained=True)
    assert [e.args for e in late.take() if isinstance(e, m.Event)] == [[BIG, 1]]
    early.call("wamp.subscription.get_events", subscription)
    assert [e["args"] for e in early.last().args[0]] == [[BIG, 2]]


# --- the scanner against the decoders ---------------------------------------------------------

def _mutated(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(out))
        roll = rng.random()
        if roll < 0.4:
            out[at] = rng.randrange(256)
        elif roll < 0.7:
            del out[at]
        else:
            out.insert(at, rng.randrange(256))
    return bytes(out)


@pytest.mark.parametrize("codec", CODECS)
def test_what_the_scanner_accepts_the_decoder_decodes_to_those_elements(codec: str) -> None:
    """Random messages, half of them with octets changed, removed or added: whenever the
    scanner is sure, the codec's decoder takes the message without error, and each element
    the scanner found decodes on its own to that element, of the kind the scanner said."""
    objects = SERIALIZERS[codec]()._serializer
    rng = random.Random(17)
    accepted = 0
    for _ in range(1500):
        message = [48, rng.randint(0, 2 ** 53), {}, "com.x", [_value(rng) for _ in range(rng.randint(0, 3))],
                   {"k": _value(rng)}]
        data = objects.serialize(message)
        if rng.random() < 0.5:
            data = _mutated(rng, data)
        scanned = scan_message(codec, data)
        # a bytearray (a large frame's buffer on CPython) goes to C another way: same answer
        assert scan_message(codec, bytearray(data)) == scanned
        if scanned is None:
            continue
        accepted += 1
        [decoded] = objects.unserialize(data)  # raises if the scanner was wrong to be sure
        assert type(decoded) is list and len(decoded) == len(scanned.starts)
        for element, start, end, kind in zip(decoded, *scanned):
            if codec == "json":
                [[alone]] = objects.unserialize(b"[" + data[start:end] + b"]")
            else:
                [[alone]] = objects.unserialize(bytes((0x91 if codec == "msgpack" else 0x81,)) + data[start:end])
            assert alone == element or (alone != alone and element != element)  # NaN is no element
            assert kind == (1 if type(element) is list else 2 if type(element) is dict else 0)
    assert accepted > 600  # the unchanged ones and harmless changes
