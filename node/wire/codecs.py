"""autobahn's WAMP serializers, lean: no per-message statistics, JSON on the C scanner.

autobahn's ``Serializer`` keeps byte and message counters (with a rounding
``math.ceil`` and an auto-reset check) on every message, which a router never
reads. Its JSON object serializer decodes with the pure-Python JSON scanner,
because it hooks string parsing to turn ``"\\u0000..."`` strings into bytes
(WAMP's binary convention for JSON), and it builds a new encoder per message.

Here, through autobahn's own extension point (a ``Serializer`` wraps any
``IObjectSerializer``):

- :class:`FastJsonObjectSerializer` decodes with the stdlib's C scanner and
  converts binary strings afterwards, only when the text contains ``\\u0000``
  (a JSON string can only hold a NUL as that escape), and encodes with one
  reused encoder; the wire format is exactly autobahn's. On PyPy, where that
  scanner is pure Python, it decodes with ``json.loads`` (PyPy's RPython decoder).
- :class:`LeanSerializer` serializes through autobahn's message cache (so a
  message sent to many sessions is serialized once per serializer) and parses
  with the serializer's ``MESSAGE_TYPE_MAP``, with autobahn's checks and errors.

Loaded only after txaio has chosen its framework (see node.wire.serializers).
"""
from __future__ import annotations

import base64
import decimal
import importlib.util
import json
from typing import Any, Dict, List, Optional

from autobahn.wamp import serializer as ab
from autobahn.wamp.exception import ProtocolError

_NUL_ESCAPE = "\\u0000"


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
# PyPy's json.loads decodes in RPython (_pypyjson); its scanner, used below on CPython, is pure Python
_PYPY_JSON = importlib.util.find_spec("_pypyjson") is not None
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


def json_loads(text: str) -> Any:
    """Decode like autobahn's JSON serializer (without decimal options)."""
    if _PYPY_JSON:
        value = json.loads(text)
        return binary_strings(value) if _NUL_ESCAPE in text else value
    try:  # JSONDecoder.decode without its two whitespace regexes for the usual unpadded text
        value, end = _SCAN(text, 0)
    except StopIteration:
        end = -1
    if end != len(text):
        value = _DECODER.decode(text)  # leading/trailing whitespace, or its exact error
    return binary_strings(value) if _NUL_ESCAPE in text else value


def json_dumps(obj: Any) -> bytes:
    if _C_ENCODE is None or isinstance(obj, str):
        return _ENCODER.encode(obj).encode("utf8")
    return "".join(_C_ENCODE(obj, 0)).encode("utf8")


class FastJsonObjectSerializer(ab.JsonObjectSerializer):
    """autobahn's JSON object serializer with the C scanner and a shared encoder."""

    def serialize(self, obj: Any) -> bytes:
        data = json_dumps(obj)
        return data + b"\30" if self._batched else data

    def unserialize(self, payload: bytes) -> List[Any]:
        chunks = payload.split(b"\30")[:-1] if self._batched else [payload]
        if not chunks:
            raise ProtocolError("batch format error")
        return [json_loads(chunk.decode("utf8")) for chunk in chunks]


class LeanSerializer:
    """Mixin for an autobahn ``Serializer`` class: put it first in the bases."""

    _serializer: Any
    MESSAGE_TYPE_MAP: Dict[int, Any]

    def __copy__(self) -> "LeanSerializer":
        """autobahn copies the serializer for each connection to keep per-connection
        statistics; a lean serializer keeps none, so every connection shares it."""
        return self

    def serialize(self, msg: Any) -> Any:
        return msg.serialize(self._serializer), self._serializer.BINARY

    def unserialize(self, payload: bytes, isBinary: Optional[bool] = None) -> List[Any]:
        objects = self._serializer
        if isBinary is not None and isBinary != objects.BINARY:
            raise ProtocolError(f"invalid serialization of WAMP message (binary {isBinary}, "
                                f"but expected {objects.BINARY})")
        try:
            raw_messages = objects.unserialize(payload)
        except Exception as e:
            raise ProtocolError(f"invalid serialization of WAMP message: {type(e).__name__} {e}")
        types = self.MESSAGE_TYPE_MAP
        messages = []
        for raw in raw_messages:
            if type(raw) is not list:
                raise ProtocolError(f"invalid type {type(raw)} for WAMP message")
            if not raw:
                raise ProtocolError("missing message type in WAMP message")
            message_type = raw[0]
            if type(message_type) is not int:
                raise ProtocolError(f"invalid type {type(message_type)} for WAMP message type")
            klass = types.get(message_type)
            if klass is None:
                raise ProtocolError(f"invalid WAMP message type {message_type}")
            messages.append(klass.parse(raw))
        return messages


class JsonSerializer(LeanSerializer, ab.JsonSerializer):
    def __init__(self, batched: bool = False) -> None:
        super().__init__(batched=batched)
        self._serializer = FastJsonObjectSerializer(batched=batched)


SERIALIZERS: Dict[str, Any] = {"json": JsonSerializer}

# autobahn defines a serializer class only when its codec imports: on PyPy its
# msgpack serializer needs u-msgpack-python instead of msgpack
if hasattr(ab, "MsgPackSerializer"):
    class MsgPackSerializer(LeanSerializer, ab.MsgPackSerializer):
        pass

    SERIALIZERS["msgpack"] = MsgPackSerializer

if hasattr(ab, "CBORSerializer"):
    class CBORSerializer(LeanSerializer, ab.CBORSerializer):
        pass

    SERIALIZERS["cbor"] = CBORSerializer
