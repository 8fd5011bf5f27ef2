"""msgpack on PyPy decodes by slicing its payload (node.wire.umsgpack_reader): the same
values and errors as u-msgpack-python's own ``unpackb``, for every kind of value.

u-msgpack-python is installed where autobahn uses it (PyPy); elsewhere these skip.
"""
from __future__ import annotations

import pytest

from node.wire.umsgpack_reader import SliceReader, unpack_payload
from stack import PYPY

umsgpack = pytest.importorskip("umsgpack")

VALUES = [
    [48, 1, {}, "com.p", ["x" * 1_000_000]],
    [48, 2**53, {"timeout": 1500, "f": 2.5, "n": None, "t": True}, "com.\u00e9", [b"\x00\xff" * 40_000], {"k": [1, -1]}],
    [36, 1, 2, {}, [{"nested": [[[]]], "big": -(2**63), "u": 2**64 - 1}], {"\u20ac": "\U0001F600"}],
    [8, 48, 9, {}, "com.err", ["é" * 70_000]],
    [], 0, "", b"",
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_slicing_decodes_what_unpackb_decodes(value) -> None:
    packed = umsgpack.packb(value)
    for payload in (packed, bytearray(packed)):
        assert unpack_payload(umsgpack, payload) == umsgpack.unpackb(packed) == value


def test_the_same_errors() -> None:
    packed = umsgpack.packb([48, 1, {}, "com.p", ["x" * 100]])
    for broken, error in ((packed[:-3], umsgpack.InsufficientDataException),
                          (b"\xa3\xff\xfe\xfd", umsgpack.InvalidStringException),
                          (b"\xc1", umsgpack.ReservedCodeException)):
        with pytest.raises(error):
            umsgpack.unpackb(broken)
        with pytest.raises(error):
            unpack_payload(umsgpack, broken)
    with pytest.raises(TypeError):
        unpack_payload(umsgpack, "not octets")


def test_reader_reads_to_the_end_and_no_further() -> None:
    reader = SliceReader(bytearray(b"abcdef"))
    assert reader.read(2) == b"ab" and reader.read(10) == b"cdef" and reader.read(1) == b"" and reader.read() == b""
    assert type(SliceReader(b"xyz").read(2)) is bytes


@pytest.mark.skipif(not PYPY, reason="autobahn uses u-msgpack-python on PyPy only")
def test_the_node_decodes_msgpack_by_slicing_on_pypy() -> None:
    from node.wire.serializers import MsgPackSerializer, SlicingUmsgpackSerializer

    serializer = MsgPackSerializer()
    assert type(serializer._serializer) is SlicingUmsgpackSerializer
    assert type(MsgPackSerializer(batched=True)._serializer) is SlicingUmsgpackSerializer
    payload = umsgpack.packb([48, 7, {}, "com.p", ["x" * 20_000]])
    (call,) = serializer.unserialize(bytearray(payload), True)
    assert call.request == 7 and call.args == ["x" * 20_000]
    batched = MsgPackSerializer(batched=True)
    two = b"".join(len(p).to_bytes(4, "big") + p for p in (payload, payload))
    assert [m.request for m in batched.unserialize(two, True)] == [7, 7]
