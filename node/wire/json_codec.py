"""WAMP's JSON format, fast: bytes <-> plain message lists, exactly autobahn's bytes.

autobahn's JSON object serializer decodes with the pure-Python JSON scanner, because
it hooks string parsing to turn ``"\\u0000..."`` strings into bytes (WAMP's binary
convention for JSON), and it builds a new encoder per message.

:class:`FastJsonObjectSerializer` (autobahn's ``IObjectSerializer``, which its
``JsonSerializer`` wraps: see :mod:`node.wire.serializers`) decodes with the stdlib's C
scanner and converts binary strings afterwards, only when the text contains
``\\u0000`` (a JSON string can only hold a NUL as that escape), and encodes with one
reused encoder; the wire format is exactly autobahn's. On PyPy, where that scanner is
pure Python, it decodes with ``json.loads`` (PyPy's RPython decoder).

On CPython, with ``orjson`` installed (a CPython-only dependency), payloads of at
least :data:`ORJSON_LOADS_MIN` octets are decoded by :func:`json_loads_octets`: orjson
parses the octets as they came (no text made first) about four times faster than the
standard library (0.2 against 1 ms per MiB). What orjson refuses (``NaN``, lone
surrogates, invalid UTF-8, an infinite float, nesting deeper than 1024) and what it
reads otherwise (an integer beyond 64 bits becomes a float: any float of magnitude
2^63 or more sends the payload the standard way) goes through the standard path, so
what is accepted, what it decodes to and the errors are the standard library's.
Large messages are encoded with ``orjson`` too: CPython's JSON encoder escapes
strings at about 1 ms per MiB, orjson at about 0.03 ms. orjson writes some floats differently (``1e-7``, not
``1e-07``) and NaN as ``null``, and rejects what autobahn's encoder accepts (integer
keys, integers beyond 64 bits), so its output is used only for messages of at least
:data:`ORJSON_MIN_SIZE` octets made of nothing but strings, bytes, booleans, null,
64-bit integers, lists and string-keyed dicts (:func:`orjson_safe`), where the two
encoders write the same bytes; everything else goes through the standard library.

msgpack and CBOR need no codec of ours: autobahn's object serializers for them call
their libraries directly (msgpack, or u-msgpack-python on PyPy; cbor2).
"""
from __future__ import annotations

import base64
import decimal
import importlib.util
import json
import re
from typing import Any, List, Optional

from autobahn.wamp.exception import ProtocolError

try:  # optional (CPython wheels only): the standard library encodes everything without it
    import orjson
except ImportError:  # pragma: no cover - PyPy, or not installed
    orjson = None  # type: ignore[assignment]

_NUL_ESCAPE = "\\u0000"
# json_loads looks for a backslash before it looks for _NUL_ESCAPE: a one-character search
# (memchr) takes about 0.01 ms per MiB of plain text, the six-character one 0.4 ms


def _encode_default(obj: Any) -> Any:
    """What autobahn's JSON encoder does for types JSON lacks."""
    if isinstance(obj, bytes):
        return "\x00" + base64.b64encode(obj).decode("ascii")
    if isinstance(obj, decimal.Decimal):
        return str(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


# No circular-reference bookkeeping in either encoder: decoded WAMP payloads cannot be
# circular. On PyPy, which has no C encoder, this one does every message.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_encode_default,
                            check_circular=False)
_DECODER = json.JSONDecoder()
_SCAN = _DECODER.scan_once
json_scan = _SCAN  # (value, end) of the JSON value at an index of a text: node.wire.splice walks a head with it
# PyPy's json.loads decodes in RPython (_pypyjson); its scanner, used below on CPython, is pure Python
_PYPY_JSON = importlib.util.find_spec("_pypyjson") is not None
# how a JSON payload is decoded first: on PyPy "ascii" checks the octets in about two thirds
# of the time its "utf8" takes (0.25 against 0.37 ms per MiB); "utf8" decodes what it rejects
TEXT_CODEC = "ascii" if _PYPY_JSON else "utf8"
# JSONEncoder.encode builds a new C encoder for every message; this one is built once
_C_ENCODE = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _encode_default, json.encoder.encode_basestring, None, ":", ",", False, False, True,
) if getattr(json.encoder, "c_make_encoder", None) else None


def binary_strings(value: Any) -> Any:
    """Turn string values (not keys) starting with NUL into the bytes they encode."""
    if isinstance(value, str):
        return base64.b64decode(value[1:]) if value[:1] == "\x00" else value
    if isinstance(value, list):
        return [binary_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: binary_strings(v) for k, v in value.items()}
    return value


_BEYOND_INT64 = float(2 ** 63)


def binary_values(value: Any, budget: int, wide_floats: bool = False) -> Optional[bool]:
    """Whether a decoded message has a string value (not key) starting with NUL, i.e. one
    that :func:`binary_strings` turns into bytes; None: more than ``budget`` items to look
    at, or (``wide_floats``) a float of magnitude 2^63 or more, which orjson makes of an
    integer beyond 64 bits (:func:`json_loads_octets` then decodes the standard way).

    On PyPy, looking for a backslash in the text costs about 0.25 ms per MiB (one octet
    at a time); the few items of a large message (a call with one 1 MiB argument) are
    looked at in microseconds. Without recursion: decoded JSON may be nested deeply."""
    stack = [value]
    binary = False
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if item[:1] == "\x00":
                if not wide_floats:
                    return True
                binary = True
        elif kind is list:
            budget -= len(item)
            stack.extend(item)
        elif kind is dict:
            budget -= len(item)
            stack.extend(item.values())
        elif wide_floats and kind is float and not -_BEYOND_INT64 < item < _BEYOND_INT64:
            return None
        if budget < 0:
            return None
    return binary


def json_loads(text: str) -> Any:
    """Decode like autobahn's JSON serializer (without decimal options)."""
    if _PYPY_JSON:
        value = json.loads(text)
        # items of the message looked at: at most one per 64 characters of text, or the text searched
        found = binary_values(value, len(text) >> 6)
        if found is None:
            found = "\\" in text and _NUL_ESCAPE in text
        return binary_strings(value) if found else value
    try:  # JSONDecoder.decode without its two whitespace regexes for the usual unpadded text
        value, end = _SCAN(text, 0)
    except StopIteration:
        end = -1
    if end != len(text):
        value = _DECODER.decode(text)  # leading/trailing whitespace, or its exact error
    return binary_strings(value) if "\\" in text and _NUL_ESCAPE in text else value


def _loads_octets_standard(payload: Any) -> Any:
    return json_loads(str(payload, "utf8"))  # bytes or bytearray, decoded without a copy first


# From this size on, CPython decodes with orjson (below it, the saving is a few microseconds
# and the look over the decoded items would cost as much)
ORJSON_LOADS_MIN = 16 * 1024
def _loads_octets_orjson(payload: Any) -> Any:
    if len(payload) < ORJSON_LOADS_MIN:
        return _loads_octets_standard(payload)
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:  # its refusals are the standard library's to answer
        return _loads_octets_standard(payload)
    # at most one item per 64 octets looked at (a call with one 1 MiB argument: a few)
    binary = binary_values(value, len(payload) >> 6, wide_floats=True)
    if binary is None:
        return _loads_octets_standard(payload)
    return binary_strings(value) if binary else value


# True where json_loads_octets is the faster way to a payload's message (orjson found)
DECODES_OCTETS = orjson is not None
json_loads_octets = _loads_octets_orjson if DECODES_OCTETS else _loads_octets_standard
json_loads_octets.__doc__ = """One JSON payload (bytes or bytearray, UTF-8) decoded as :func:`json_loads` decodes its text;
``UnicodeDecodeError`` if it is not UTF-8."""


# Below this, the standard library's output is used: a small message is encoded in
# about a microsecond either way, and the type check would cost more than it saves.
ORJSON_MIN_SIZE = 16 * 1024
_INT64_MIN, _UINT64_MAX = -(2 ** 63), 2 ** 64 - 1


def orjson_safe(value: Any) -> bool:
    """Whether orjson writes ``value`` exactly as the standard library's encoder does.

    Exact types only (subclasses may serialize themselves differently); no floats
    (formatting differs), no Decimal, no integers beyond 64 bits, no non-string keys.
    """
    kind = type(value)
    if kind is str or kind is bytes or kind is bool or value is None:
        return True
    if kind is int:
        return _INT64_MIN <= value <= _UINT64_MAX
    try:
        if kind is list or kind is tuple:
            return all(orjson_safe(item) for item in value)
        if kind is dict:
            return all(type(key) is str and orjson_safe(item) for key, item in value.items())
    except RecursionError:
        return False
    return False


def _dumps_orjson_first(obj: Any) -> bytes:
    """CPython with orjson: orjson's bytes when large and safe, else the C encoder's.

    orjson encodes a small message in about 0.1 µs, less than finding its size any
    other way would cost. The C encoder's call is written out (it is :func:`_dumps_c`):
    this runs for every message a JSON peer is sent."""
    try:
        data = orjson.dumps(obj, default=_encode_default)
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        pass
    else:
        if len(data) >= ORJSON_MIN_SIZE and orjson_safe(obj):
            return data
    if isinstance(obj, str):
        return _ENCODER.encode(obj).encode("utf8")
    return "".join(_C_ENCODE(obj, 0)).encode("utf8")


def _dumps_c(obj: Any) -> bytes:
    if isinstance(obj, str):
        return _ENCODER.encode(obj).encode("utf8")
    return "".join(_C_ENCODE(obj, 0)).encode("utf8")


def _dumps_python(obj: Any) -> bytes:
    return _ENCODER.encode(obj).encode("utf8")


# PyPy (no C encoder): a string of at least this many characters is written by
# _dumps_large_strings; smaller ones cost less through the standard encoder
LARGE_STRING = 16 * 1024
_LARGE_DEPTH = 4  # how deep a large string is looked for: a WAMP message's args/kwargs items
# what json.dumps(ensure_ascii=False) escapes in a string: the quote, the backslash, C0 controls
_NEEDS_ESCAPE = re.compile(rb'[\x00-\x1f"\\]')


def _has_large_string(value: Any, depth: int) -> bool:
    """Whether ``value`` holds a large string down to ``depth``. Loops, not ``any()`` over
    a generator, and an item that is a string looked at in place, not by a call: this runs
    for every message sent on PyPy, where the generators cost twice as much (0.24 against
    0.11 µs per small message, a hot loop)."""
    kind = type(value)
    if kind is str:
        return len(value) >= LARGE_STRING
    if not depth:
        return False
    if kind is list or kind is tuple:
        items: Any = value
    elif kind is dict:
        items = value.values()
    else:
        return False
    depth -= 1
    for item in items:
        kind = type(item)
        if kind is str:
            if len(item) >= LARGE_STRING:
                return True
        elif (kind is list or kind is tuple or kind is dict) and _has_large_string(item, depth):
            return True
    return False


def _write(value: Any, out: List[bytes], depth: int) -> None:
    """Append the JSON of ``value`` to ``out`` in pieces: a large plain string (nothing
    to escape) as its UTF-8 bytes, not copied; lists and string-keyed dicts down to
    ``depth`` item by item; everything else as the standard encoder writes it."""
    kind = type(value)
    if kind is str and len(value) >= LARGE_STRING:
        data = value.encode("utf8")  # on PyPy, the string's own UTF-8 (no copy); surrogates raise as before
        if _NEEDS_ESCAPE.search(data) is None:
            out += (b'"', data, b'"')
            return
    elif depth and (kind is list or kind is tuple):
        out.append(b"[")
        for index, item in enumerate(value):
            if index:
                out.append(b",")
            _write(item, out, depth - 1)
        out.append(b"]")
        return
    elif depth and kind is dict and all(type(key) is str for key in value):
        out.append(b"{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(b",")
            out += (_ENCODER.encode(key).encode("utf8"), b":")
            _write(item, out, depth - 1)
        out.append(b"}")
        return
    out.append(_ENCODER.encode(value).encode("utf8"))


def _dumps_large_strings(obj: Any) -> bytes:
    """PyPy: :func:`_dumps_python`'s bytes, with a large plain string copied once.

    PyPy's encoder is pure Python: it escapes a string with a regular expression
    substitution (a new string), quotes it (another), joins the pieces (another) and
    encodes the text (another); for a 1 MiB argument that is four 1 MiB objects, each
    one more step towards the next major collection of the garbage collector. Here
    the string's UTF-8 is searched for anything to escape and, if none, joined into
    the message as it is: the same bytes (the same escaping rules as the standard
    encoder with ``ensure_ascii=False``), one copy."""
    if not _has_large_string(obj, _LARGE_DEPTH):
        return _ENCODER.encode(obj).encode("utf8")
    out: List[bytes] = []
    _write(obj, out, _LARGE_DEPTH)
    return b"".join(out)


# chosen once: the interpreter and orjson do not change while the node runs
if _C_ENCODE is None:
    json_dumps = _dumps_python if not _PYPY_JSON else _dumps_large_strings
elif orjson is not None:
    json_dumps = _dumps_orjson_first
else:
    json_dumps = _dumps_c


class FastJsonObjectSerializer:
    """autobahn's JSON object serializer (``IObjectSerializer``: bytes <-> message lists),
    with the C scanner and a shared encoder; what autobahn's ``JsonSerializer`` wraps."""

    NAME = "json"
    BINARY = False

    def __init__(self, batched: bool = False) -> None:
        self._batched = batched
        if not batched:  # one call less per message sent: json_dumps is the whole of it
            self.serialize = json_dumps  # type: ignore[method-assign]

    def serialize(self, obj: Any) -> bytes:
        data = json_dumps(obj)
        return data + b"\30" if self._batched else data

    def unserialize(self, payload: bytes) -> List[Any]:
        chunks = payload.split(b"\30")[:-1] if self._batched else [payload]
        if not chunks:
            raise ProtocolError("batch format error")
        return [json_loads_octets(chunk) for chunk in chunks]
