"""Unmasking WebSocket payloads (RFC 6455 section 5.3) a word at a time where autobahn's masker is pure Python.

autobahn unmasks with its native NVX masker on CPython; where that is missing
(autobahn 24, the newest for Python 3.9 such as PyPy's, and no ``wsaccel``) it
falls back to a pure-Python masker that XORs one byte per loop iteration: about
1.1 ms per MiB on PyPy, twice per large call. :class:`WordMasker` XORs 32-bit
words of an ``array`` instead, which PyPy's JIT turns into a tight loop (about
0.25 to 0.4 ms per MiB). :func:`create_xor_masker` is autobahn's own where that is native
and :class:`WordMasker` where autobahn's is pure Python; :mod:`node.fastpath.websocket_frames`
puts it in autobahn's protocol module; :func:`unmask_into` unmasks the pieces of a
large frame into the one buffer that gathers it. Kept free of Twisted imports so that
it can be tested against autobahn's masker in any process.
"""
from __future__ import annotations

import sys
from array import array
from typing import Any, Callable, Tuple

from autobahn.websocket import xormasker as _autobahn

_WORD = "I" if array("I").itemsize == 4 else "L"  # an unsigned 32-bit array type


class WordMasker:
    """autobahn's masker interface (``process``, ``pointer``, ``reset``), 32 bits at a time."""

    __slots__ = ("_mask", "_ptr")

    def __init__(self, mask: bytes) -> None:
        assert len(mask) == 4
        self._mask = bytes(mask)
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: bytes) -> bytes:
        return self.process_checked(data)[0]

    def process_checked(self, data: bytes) -> Tuple[bytes, bool]:
        """``data`` unmasked, and whether every octet of it is ASCII (under 0x80), found
        in the same loop: a large text frame's reads need no other pass for their UTF-8
        check when they are all ASCII, as JSON text usually is (``bytes.isascii`` on PyPy
        looks at one octet at a time, 0.25 ms per MiB)."""
        size = len(data)
        if not size:
            return b"", True
        shift = self._ptr & 3
        mask = self._mask[shift:] + self._mask[:shift]  # the mask as it lines up with data[0]
        self._ptr += size
        whole = size & ~3
        words = array(_WORD)
        words.frombytes(memoryview(data)[:whole])
        key = int.from_bytes(mask, sys.byteorder)
        seen = 0
        for i in range(len(words)):
            word = words[i] ^ key
            words[i] = word
            seen |= word
        out = words.tobytes()
        if whole < size:
            tail = bytes(byte ^ mask[i] for i, byte in enumerate(data[whole:]))
            seen |= max(tail)
            out += tail
        return out, not seen & 0x80808080


def _native() -> bool:
    """Whether autobahn's masker is native code (NVX or wsaccel), not its pure-Python fallback."""
    return type(_autobahn.create_xor_masker(b"\0\0\0\0", 1024)).__module__ != _autobahn.__name__


NATIVE = _native()


def _word_masker(mask: bytes, length: Any = None) -> Any:
    """autobahn's ``create_xor_masker`` for its pure-Python case: short payloads keep
    autobahn's byte masker (a word loop pays off from a few dozen octets)."""
    if length is None or length < 128:
        return _autobahn.create_xor_masker(mask, length)
    return WordMasker(mask)


create_xor_masker: Callable[..., Any] = _autobahn.create_xor_masker if NATIVE else _word_masker


def _nvx(masker: Any) -> bool:
    """Whether ``masker`` is autobahn's NVX masker, whose C function XORs a buffer in place."""
    return hasattr(masker, "_masker") and hasattr(getattr(masker, "lib", None), "nvx_xormask_process")


IN_PLACE = _nvx(create_xor_masker(b"\0\0\0\0", 1 << 20))


def unmask_into(masker: Any, target: memoryview, masked: Any) -> None:
    """Put ``masked`` (as many octets as ``target`` holds) into ``target``, unmasked by
    ``masker`` from where it stands. autobahn's NVX ``process`` copies its input into a
    zeroed buffer and that into new bytes; here it XORs ``target`` in place."""
    if IN_PLACE:
        target[:] = masked
        masker.lib.nvx_xormask_process(masker._masker, masker.ffi.from_buffer("uint8_t[]", target), len(target))
    else:
        target[:] = masker.process(masked)
