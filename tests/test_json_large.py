"""Large JSON messages (issue 17): the node's JSON codec still writes autobahn's bytes.

On CPython with ``orjson`` installed, ``node.wire.json_codec.json_dumps`` writes
messages of at least ``ORJSON_MIN_SIZE`` octets with orjson when they hold only
types both encoders write alike (``orjson_safe``), and everything else with the
standard library. Here large messages of every kind, including those orjson would
write differently (floats, NaN, integer keys, integers beyond 64 bits, subclasses,
deep nesting), are compared byte for byte with autobahn's own JSON serializer, and
read back as autobahn reads them.
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
        assert ours.unserialize(expected) == theirs.unserialize(expected)


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
