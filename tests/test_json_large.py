"""Large JSON messages (issue 17): the node's JSON codec still writes autobahn's bytes.

On CPython with ``orjson`` installed, ``node.wire.json_codec.json_dumps`` writes
messages of at least ``ORJSON_MIN_SIZE`` octets with orjson when they hold only
types both encoders write alike (``orjson_safe``), and everything else with the
standard library. Here large messages of every kind, including those orjson would
write differently (floats, NaN, integer keys, integers beyond 64 bits, subclasses,
deep nesting), are compared byte for byte with autobahn's own JSON serializer, and
read back as autobahn reads them (large payloads are decoded by orjson on CPython:
``json_loads_octets``; an integer beyond 64 bits, which orjson reads as a float, and
payloads of many items go the standard way).
"""
from __future__ import annotations

import random
from typing import Any

import pytest
from autobahn.wamp.serializer import JsonObjectSerializer

from node.wire import json_codec
from node.wire.json_codec import ORJSON_MIN_SIZE, FastJsonObjectSerializer, json_dumps, orjson_safe

BIG = "x" * ORJSON_MIN_SIZE
TEXT = "".join(chr(c) for c in range(1, 0x3000, 7)) + "\U0001F600\U0010FFFF\u2028\x7f\"\\/"


class Text(str):
    """A str subclass: orjson and the standard library may treat it differently."""


def nested(depth: int) -> Any:
    value: Any = BIG
    for _ in range(depth):
        value = [value]
    return value


SAMPLES = {
    "text": [48, 1, {}, "com.large", [BIG, TEXT * 20], {"k": TEXT}],
    "bytes": [16, 2, {}, "com.large", [BIG.encode(), b"\x00\xff" * 5000], {"b": b"kw"}],
    "ints": [50, 3, {}, [BIG, 2 ** 63 - 1, 2 ** 64 - 1, -(2 ** 63), 0, True, None]],
    "int beyond 64 bits": [50, 4, {}, [BIG, 2 ** 64]],
    "negative beyond 64 bits": [50, 5, {}, [BIG, -(2 ** 63) - 1]],
    "floats": [50, 6, {}, [BIG, 1e-7, 1e-05, 2.5e-05, 1e16, 0.1, -0.0]],
    "nan": [50, 7, {}, [BIG, float("nan"), float("inf"), float("-inf")]],
    "int keys": [50, 8, {}, [BIG], {"a": {1: "one", 2: BIG}}],
    "str subclass": [50, 9, {}, [Text(BIG)]],
    "tuple": [50, 10, {}, (BIG, ("a", 1))],
    "deep": [50, 11, {}, nested(300)],
    "lone surrogate": [50, 12, {}, [BIG + "\ud800"]],
    "large floats": [50, 13, {}, [BIG, 1e19, -1e19, 9.3e18, 1.5e308]],
    "many items": [50, 14, {}, [list(range(5000)), {"k%d" % i: i for i in range(2000)}]],
    "binary in kwargs": [36, 15, 16, {}, [], {"deep": [{"b": b"\x00" + BIG.encode()}]}],
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_large_messages_match_autobahn_both_ways(name: str) -> None:
    raw = SAMPLES[name]
    ours, theirs = FastJsonObjectSerializer(), JsonObjectSerializer()
    try:
        expected = theirs.serialize(raw)
    except Exception as exc:  # autobahn cannot write it: neither may we
        with pytest.raises(type(exc)):
            ours.serialize(raw)
        return
    assert ours.serialize(raw) == expected
    assert len(expected) >= ORJSON_MIN_SIZE
    if name != "nan":  # NaN != NaN
        # repr: 2 ** 64 == 1.8446744073709552e+19 in Python, but an int is not a float
        assert repr(ours.unserialize(expected)) == repr(theirs.unserialize(expected))


@pytest.mark.skipif(json_codec.orjson is None, reason="orjson is not installed (PyPy)")
def test_large_payloads_are_decoded_by_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is taken for a plain large payload, and left for one orjson would
    read differently (an integer beyond 64 bits) or that has too many items to look at."""
    calls = []
    standard = json_codec._loads_octets_standard
    monkeypatch.setattr(json_codec, "_loads_octets_standard", lambda p: calls.append(len(p)) or standard(p))
    plain = JsonObjectSerializer().serialize(SAMPLES["text"])
    assert json_codec.json_loads_octets(bytearray(plain)) == JsonObjectSerializer().unserialize(plain)[0]
    assert calls == []
    for name in ("negative beyond 64 bits", "many items"):
        payload = JsonObjectSerializer().serialize(SAMPLES[name])
        assert repr(json_codec.json_loads_octets(payload)) == repr(JsonObjectSerializer().unserialize(payload)[0])
        assert calls[-1] == len(payload)


def test_random_text_matches_autobahn() -> None:
    rng = random.Random(17)
    alphabet = [chr(c) for c in range(0x80)] + ["é", "€", "\u2028", "\ufeff", "\U0001F600", "\U0010FFFF"]
    theirs = JsonObjectSerializer()
    for _ in range(50):
        text = "".join(rng.choice(alphabet) for _ in range(ORJSON_MIN_SIZE))
        raw = [48, 1, {"x": text[:100]}, "com.t", [text], {text[:10]: text[10:20]}]
        assert json_dumps(raw) == theirs.serialize(raw)


def test_safe_types() -> None:
    assert orjson_safe([BIG, b"x", 1, True, None, {"k": ["v", 2 ** 64 - 1]}, ("t",)])
    for unsafe in (1.5, 2 ** 64, -(2 ** 63) - 1, {1: "x"}, Text("a"), nested(5000), {"k": [object()]}):
        assert not orjson_safe(unsafe)


@pytest.mark.skipif(json_codec.orjson is None, reason="orjson is not installed (PyPy)")
def test_large_plain_messages_are_written_by_orjson() -> None:
    """The fast path is taken (not only correct): the bytes are orjson's own."""
    raw = SAMPLES["text"]
    assert json_dumps(raw) == json_codec.orjson.dumps(raw)


LARGE = "y" * json_codec.LARGE_STRING
PIECEWISE = {
    "plain in args": [48, 1, {}, "com.large", [LARGE], {"k": LARGE}],
    "quote": [50, 2, {}, [LARGE + '"']],
    "backslash": [50, 3, {}, [LARGE + "\\"]],
    "control": [50, 4, {}, ["\x1f" + LARGE, LARGE + "\n\t\x00"]],
    "non-ASCII": [50, 5, {}, [LARGE + "é€\U0001F600\u2028\x7f/"]],
    "large key": [50, 6, {}, [], {LARGE: LARGE}],
    "int key": [50, 7, {}, [], {1: LARGE, "a": LARGE}],
    "tuple": [50, 8, {}, (LARGE, (1, 2.5, None, True))],
    "deeper than looked at": [50, 9, {}, [[[[[LARGE]]]]]],
    "str subclass": [50, 10, {}, [Text(LARGE)]],
    "bytes and small": [50, 11, {"x": [1, -0.0, 1e-07]}, [b"\x00\xff" * 9000, "", [], {}, LARGE]],
    "lone surrogate": [50, 12, {}, [LARGE + "\ud800"]],
    "small only": [50, 13, {}, ["small", 1, {"k": [True]}]],
}


@pytest.mark.parametrize("name", sorted(PIECEWISE))
def test_large_strings_written_piecewise_match_autobahn(name: str) -> None:
    """PyPy's encoder (``_dumps_large_strings``, checked on every interpreter): autobahn's bytes."""
    raw = PIECEWISE[name]
    theirs = JsonObjectSerializer()
    try:
        expected = theirs.serialize(raw)
    except Exception as exc:
        with pytest.raises(type(exc)):
            json_codec._dumps_large_strings(raw)
        return
    assert json_codec._dumps_large_strings(raw) == expected


@pytest.mark.skipif(not json_codec._PYPY_JSON, reason="PyPy's encoder only")
def test_pypy_writes_a_large_plain_string_without_the_standard_encoder() -> None:
    """The fast path is taken on PyPy: the string's own UTF-8 bytes are in the output, not a copy's."""
    assert json_codec.json_dumps is json_codec._dumps_large_strings
    pieces: list = []
    json_codec._write([48, 1, {}, "p", [LARGE]], pieces, json_codec._LARGE_DEPTH)
    assert b"".join(pieces) == json_codec._dumps_python([48, 1, {}, "p", [LARGE]])
    assert any(len(piece) == len(LARGE) for piece in pieces)


def test_binary_values_found_without_searching_the_text() -> None:
    """json_loads on PyPy looks at the decoded items (not the text) for WAMP's binary strings."""
    assert json_codec.binary_values([48, 1, {}, "p", [LARGE, {"k": ["a", "\x00AQ=="]}]], 100) is True
    assert json_codec.binary_values([48, 1, {"\x00key": "v"}, "p", [LARGE]], 100) is False  # keys stay text
    assert json_codec.binary_values([1, [2, [3, [4]]]], 3) is None  # more items than the budget
    deep: Any = "\x00AA=="
    for _ in range(100000):
        deep = [deep]
    assert json_codec.binary_values(deep, 10 ** 6) is True  # no recursion


@pytest.mark.parametrize("raw", [
    [48, 1, {}, "com.large", [LARGE, b"\x00\x01", {"b": [b"kw"]}], {"\x00k": LARGE}],
    [48, 2, {}, "com.large", list(range(5000)) + [b"late binary"]],  # over the budget: the text is searched
    [48, 3, {}, "com.large", [LARGE, "\\u0000 as text", "\\\\"]],
])
def test_large_messages_with_binary_read_as_autobahn_reads_them(raw: Any) -> None:
    theirs = JsonObjectSerializer()
    encoded = theirs.serialize(raw)
    assert FastJsonObjectSerializer().unserialize(encoded) == theirs.unserialize(encoded)


@pytest.mark.parametrize("text", ["plain ascii", "héllo €", "x" * 70000 + "é"])
def test_json_serializer_reads_any_text_whichever_codec_it_tries_first(text: str) -> None:
    """On PyPy a payload is decoded as ASCII first (``TEXT_CODEC``), then as UTF-8."""
    from autobahn.wamp import message as m
    from autobahn.wamp.exception import ProtocolError

    from node.wire.serializers import JsonSerializer

    serializer = JsonSerializer()
    payload, _ = serializer.serialize(m.Publish(1, "com.t", args=[text]))
    (publish,) = serializer.unserialize(payload, False)
    assert publish.args == [text]
    with pytest.raises(ProtocolError, match="UnicodeDecodeError"):
        serializer.unserialize(payload[:-4] + b"\xff\"]]", False)
