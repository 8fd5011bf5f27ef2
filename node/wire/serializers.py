"""autobahn's WAMP serializers, lean, and the ones the config names.

A transport hands its serializer bytes and gets message objects back (and the
reverse); nothing above the transports sees bytes or knows the format.

autobahn's ``Serializer`` keeps byte and message counters (with a rounding
``math.ceil`` and an auto-reset check) on every message, which a router never reads,
and parses with its own table of autobahn's classes. :class:`LeanSerializer` keeps
no statistics, serializes through autobahn's message cache (so a message sent to
many sessions is serialized once per serializer) and parses with the router's parse
table for its format (:mod:`node.wire.parsing`). The JSON serializer wraps
:class:`~node.wire.json_codec.FastJsonObjectSerializer`; msgpack and CBOR keep
autobahn's object serializers. Bytes on the wire are autobahn's.

A payload handed over as a ``bytearray`` is the transport's own buffer of one large
message (:class:`node.fastpath.websocket_frames.LargeFrame`, RawSocket's large
messages): ``unserialize`` empties it once decoded, so that its memory is free
before the router forwards the message (a 16 MiB call otherwise holds the frame,
the decoded text, the arguments and the forwarded message at once), unless the
serializer keeps its arguments' octets to forward them as they came
(:mod:`node.wire.splice`; then the forwarded message is made from them, not encoded).

A payload of at least :data:`~node.wire.lazy.LAZY_MIN` octets is first offered to
:func:`~node.wire.lazy.lazy_message`: checked in C, its head decoded, its arguments
left as octets until something reads them. What that declines is decoded in full, as
before, with the same answers and errors.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from node.errors import ConfigError
from node.fastpath.payload_parts import PayloadParts
from node.log import choose_twisted

# autobahn.wamp.serializer binds txaio's ``time_ns`` when it is imported, so txaio's
# framework must be chosen before (a test process that chose asyncio keeps it)
choose_twisted()

from autobahn.wamp import serializer as ab  # noqa: E402
from autobahn.wamp.exception import ProtocolError  # noqa: E402

from node.wire.json_codec import (  # noqa: E402
    DECODES_OCTETS, TEXT_CODEC, FastJsonObjectSerializer, json_loads, json_loads_octets,
)
from node.wire.lazy import LAZY_MIN, lazy_message  # noqa: E402
from node.wire.parsing import CLIENT_MESSAGES, JSON_CLIENT_MESSAGES, parse  # noqa: E402
from node.wire.splice import (  # noqa: E402
    SPLICE_MIN, ReceivedArguments, received_binary_arguments, received_json_arguments, spliced,
)
from node.wire.umsgpack_reader import unpack_payload  # noqa: E402


class LeanSerializer:
    """Mixin for an autobahn ``Serializer`` class: put it first in the bases."""

    _serializer: Any
    MESSAGE_TYPE_MAP: Dict[int, Any] = CLIENT_MESSAGES

    def __copy__(self) -> "LeanSerializer":
        """autobahn copies the serializer for each connection to keep per-connection
        statistics; a lean serializer keeps none, so every connection shares it."""
        return self

    SERIALIZER_ID: str  # autobahn's class attribute: "json", "msgpack", "cbor"

    def __init__(self, batched: bool = False) -> None:
        super().__init__(batched=batched)  # type: ignore[call-arg]
        # the format whose received argument octets a forwarded message is written with, as
        # they came (node.wire.splice): the serializer's own, unless batched (one message per
        # payload; a JSON one is read in one call, JsonSerializer.unserialize)
        self._splices: Optional[str] = None if batched else type(self).SERIALIZER_ID

    def serialize(self, msg: Any) -> Any:
        payload, binary = self.serialize_parts(msg)
        if type(payload) is not PayloadParts:
            return payload, binary
        data = msg._serialized.get(self._serializer)  # joined once: the next subscriber of an EVENT
        if data is None:
            data = msg._serialized[self._serializer] = payload.joined()
        return data, binary

    def serialize_parts(self, msg: Any) -> Any:
        """:meth:`serialize` for a sender that writes :class:`PayloadParts`: a message
        made of received octets comes back as its head and those octets, not joined."""
        objects = self._serializer
        if msg._router_internal is not None:
            parts = self._spliced(msg)
            if parts is not None:
                return parts, objects.BINARY
        return msg.serialize(objects), objects.BINARY

    def _spliced(self, msg: Any) -> Optional[PayloadParts]:
        """``msg`` as its new head and the argument octets it came with (node.wire.splice),
        made once per message and serializer (the next subscriber of an EVENT gets the
        same), or None."""
        kept = msg._router_internal
        if type(kept) is not ReceivedArguments or kept.codec != self._splices:
            return None
        objects = self._serializer
        key = (objects, PayloadParts)
        parts = msg._serialized.get(key)
        if parts is None:
            parts = msg._serialized[key] = spliced(msg, kept, objects.serialize) or False
        return parts or None

    def _decode_array(self, payload: Any) -> list:
        """One array in this format, decoded as a whole message is (node.wire.lazy)."""
        return self._serializer.unserialize(payload)[0]

    def unserialize(self, payload: bytes, isBinary: Optional[bool] = None) -> List[Any]:
        objects = self._serializer
        if isBinary is not None and isBinary != objects.BINARY:
            raise ProtocolError(f"invalid serialization of WAMP message (binary {isBinary}, "
                                f"but expected {objects.BINARY})")
        if self._splices is not None and len(payload) >= LAZY_MIN:
            msg = lazy_message(payload, self._splices, self._decode_array, self.MESSAGE_TYPE_MAP)
            if msg is not None:
                return [msg]
        kept = None
        try:
            try:
                raw_messages = objects.unserialize(payload)
            except Exception as e:
                raise ProtocolError(f"invalid serialization of WAMP message: {type(e).__name__} {e}")
            table = self.MESSAGE_TYPE_MAP
            messages = [parse(raw, table) for raw in raw_messages]
            if self._splices is not None and len(payload) >= SPLICE_MIN and len(messages) == 1:
                raw = raw_messages[0]
                if type(raw) is list and raw:
                    kept = received_binary_arguments(messages[0], raw, payload, objects.serialize, self._splices)
                    if kept is not None:
                        messages[0]._router_internal = kept
        finally:
            if kept is None and type(payload) is bytearray:
                payload.clear()  # a transport's buffer, handed over, not kept (module docstring)
        return messages


class JsonSerializer(LeanSerializer, ab.JsonSerializer):
    MESSAGE_TYPE_MAP = JSON_CLIENT_MESSAGES

    def __init__(self, batched: bool = False) -> None:
        super().__init__(batched=batched)
        self._serializer = FastJsonObjectSerializer(batched=batched)

    def unserialize(self, payload: bytes, isBinary: Optional[bool] = None) -> List[Any]:
        """:meth:`LeanSerializer.unserialize` in one call for the usual text payload of one
        message (the same errors, worded the same)."""
        if isBinary or self._splices is None:  # batched
            return LeanSerializer.unserialize(self, payload, isBinary)
        if len(payload) >= LAZY_MIN:
            msg = lazy_message(payload, "json", self._decode_array, JSON_CLIENT_MESSAGES)
            if msg is not None:
                return [msg]
        try:
            raw = self._decode_array(payload)
        except Exception as e:
            if type(payload) is bytearray:
                payload.clear()  # a transport's buffer, handed over (module docstring)
            raise ProtocolError(f"invalid serialization of WAMP message: {type(e).__name__} {e}")
        msg = None
        if type(raw) is list and raw and type(raw[0]) is int:
            # parse()'s usual case written out (this runs for every message a JSON peer
            # sends): a known type, well formed; anything else takes parse() for its answer
            parser = JSON_CLIENT_MESSAGES.get(raw[0])
            if parser is not None:
                try:
                    msg = parser.klass.parse(raw)
                except Exception:
                    pass
        kept = received_json_arguments(msg, raw, payload) if msg is not None and len(payload) >= SPLICE_MIN else None
        if kept is None and type(payload) is bytearray:
            payload.clear()  # a transport's buffer, handed over, not kept (module docstring)
        if msg is None:
            return [parse(raw, JSON_CLIENT_MESSAGES)]
        if kept is not None:
            msg._router_internal = kept
        return [msg]

    def _decode_array(self, payload: Any) -> list:
        return json_loads_octets(payload) if DECODES_OCTETS else self._loads_text(payload)

    @staticmethod
    def _loads_text(payload: bytes) -> Any:
        """PyPy (and CPython without orjson): the payload as text first, then parsed."""
        try:
            text = payload.decode(TEXT_CODEC)
        except UnicodeDecodeError:
            if TEXT_CODEC == "utf8":
                raise
            text = payload.decode("utf8")  # PyPy, text not all ASCII
        return json_loads(text)


SERIALIZERS: Dict[str, Any] = {"json": JsonSerializer}

# autobahn defines a serializer class only when its codec imports: on PyPy its
# msgpack serializer needs u-msgpack-python instead of msgpack
if hasattr(ab, "MsgPackSerializer"):
    _UMSGPACK = ab._msgpack if getattr(ab._msgpack, "__name__", "") == "umsgpack" else None

    class SlicingUmsgpackSerializer(ab.MsgPackObjectSerializer):
        """autobahn's msgpack object serializer where it uses u-msgpack-python (PyPy),
        decoding a single message without copying its payload twice (node.wire.umsgpack_reader)."""

        def unserialize(self, payload: Any) -> List[Any]:
            if self._batched:
                return super().unserialize(payload)
            return [unpack_payload(_UMSGPACK, payload)]

    class MsgPackSerializer(LeanSerializer, ab.MsgPackSerializer):
        def __init__(self, batched: bool = False) -> None:
            super().__init__(batched=batched)
            if _UMSGPACK is not None:
                self._serializer = SlicingUmsgpackSerializer(batched=batched)

    SERIALIZERS["msgpack"] = MsgPackSerializer

if hasattr(ab, "CBORSerializer"):
    class CBORSerializer(LeanSerializer, ab.CBORSerializer):
        pass

    SERIALIZERS["cbor"] = CBORSerializer


def _serializer_class(name: str) -> Any:
    if name not in SERIALIZERS:
        raise ConfigError("serializers", f'"{name}" cannot be used: autobahn found no codec for it',
                          "Install its codec (on PyPy, msgpack needs u-msgpack-python) or remove it")
    return SERIALIZERS[name]


def websocket_serializers(names: Sequence[str]) -> List[Any]:
    """Plain and batched variants (``wamp.2.json`` and ``wamp.2.json.batched``)."""
    result = []
    for name in names:
        cls = _serializer_class(name)
        result += [cls(), cls(batched=True)]
    return result


def rawsocket_serializers(names: Sequence[str]) -> List[Any]:
    """RawSocket negotiates one serializer id per format; no batched variants."""
    return [_serializer_class(name)() for name in names]
