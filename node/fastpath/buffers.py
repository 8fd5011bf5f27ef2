"""Buffers a large message is unmasked into, not zeroed first.

``bytearray(n)`` zeroes its ``n`` octets, and the unmasking loop then writes every one
of them again: for a 1 MiB frame, one more pass over a megabyte of memory that is
usually not in the cache (``LargeFrame`` took 88 µs to make per 1 MiB message under
``cProfile``, almost all of it that ``memset``). CPython's C API makes a bytearray
without touching its octets (``PyByteArray_FromStringAndSize`` with no source), which
:func:`unfilled_bytearray` calls through ``ctypes``.

Whatever the buffer held before is never seen: a frame is delivered only once every
octet of it was written (``LargeFrame.filled`` reaches its length;
:func:`node.fastpath.xormask.unmask_joined` writes both parts in full). Elsewhere than
on CPython (PyPy unmasks large frames into C memory of its own), ``bytearray(n)``.
"""
from __future__ import annotations

import platform
from typing import Any, Callable


def _c_api_constructor() -> Callable[[Any, int], bytearray]:
    import ctypes

    make = ctypes.pythonapi.PyByteArray_FromStringAndSize
    make.restype = ctypes.py_object
    make.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)
    return make


if platform.python_implementation() == "CPython":
    _make = _c_api_constructor()

    def unfilled_bytearray(size: int) -> bytearray:
        """A bytearray of ``size`` octets whose content is whatever the memory held:
        every octet must be written before any is read."""
        return _make(None, size)
else:
    unfilled_bytearray = bytearray
