"""Unmasking WebSocket payloads (RFC 6455 section 5.3) in one C pass that also tells ASCII.

The node unmasks the messages it reads itself (:mod:`node.fastpath.websocket_frames`)
with its own C loop, a cffi module ``setup.py`` builds
(:mod:`node.fastpath.native_unmask_build`): it copies, unmasks and checks whether
the octets are all ASCII in one pass, so the UTF-8 check of a JSON text then costs
nothing. 1 MiB unmasked into a frame's buffer and checked: 0.035 ms on CPython,
against 0.2 ms for autobahn's NVX masker followed by the decoder's check; on PyPy,
where autobahn 24 (the newest for Python 3.9) has no native masker and falls back to
a pure-Python one (about 1.1 ms per MiB), 0.03 ms. :class:`NativeMasker` is that loop
behind autobahn's masker interface, :class:`UnmaskedBuffer` a large frame gathered
in C memory (PyPy), :func:`unmask_into` a read unmasked into a frame's buffer.

Where the module could not be built (no C compiler or Python headers at install),
autobahn's NVX masker does the unmasking on CPython, and on PyPy :class:`WordMasker`
XORs 32-bit words of an ``array``, which PyPy's JIT turns into a tight loop (about
0.25 to 0.4 ms per MiB). :func:`create_xor_masker` (what autobahn's own frame
methods use: fragments, frames split across reads) is autobahn's where that is native,
else the node's. Kept free of Twisted imports so that it can be tested against
autobahn's masker in any process.
"""
from __future__ import annotations

import platform
import sys
from array import array
from typing import Any, Callable, Tuple

from autobahn.websocket import xormasker as _autobahn

from node.fastpath.buffers import unfilled_bytearray
from node.fastpath.large_garbage import large_garbage

try:  # built by setup.py (module docstring); absent where it could not be compiled
    from node.fastpath._native_unmask import ffi as _ffi, lib as _lib  # type: ignore[import-not-found]
except ImportError:
    _ffi = _lib = None

_WORD = "I" if array("I").itemsize == 4 else "L"  # an unsigned 32-bit array type


class _Masker:
    """autobahn's masker interface (``process``, ``pointer``, ``reset``) over ``process_checked``."""

    __slots__ = ("_mask", "_ptr")

    def __init__(self, mask: bytes) -> None:
        assert len(mask) == 4
        self._mask = bytes(mask)
        self._ptr = 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: Any) -> bytes:
        return self.process_checked(data)[0]

    def process_checked(self, data: Any) -> Tuple[bytes, bool]:
        raise NotImplementedError


class WordMasker(_Masker):
    """The masker 32 bits at a time (PyPy without the C loop)."""

    __slots__ = ()

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


def _unmask_from(target: Any, data: Any, start: int, count: int, key: int) -> bool:
    """The C loop over ``data[start:start + count]`` into ``target`` (C memory): bytes as
    they are, other buffers through ``ffi.from_buffer``, which on PyPy would copy a young
    bytes object and keep the copy (native_unmask_build.py says how long)."""
    if type(data) is bytes:
        return bool(_lib.unmask_from(target, data, start, count, key))
    return bool(_lib.unmask_copy(target, _ffi.from_buffer("uint8_t[]", data) + start, count, key))


def _rotated_key(mask: bytes, position: int) -> int:
    """The mask as it lines up with payload octet ``position``, as the C loop takes it
    (a little-endian word: its low octet XORs the first octet)."""
    shift = position & 3
    return int.from_bytes(mask[shift:] + mask[:shift], "little")


class NativeMasker(_Masker):
    """The masker by the C loop, which can also unmask into a frame's buffer."""

    __slots__ = ()

    def unmask_into(self, target: Any, masked: Any) -> bool:
        """Put ``masked`` (as many octets as ``target`` holds) into ``target`` (a writable
        buffer), unmasked from where this masker stands; whether all are ASCII."""
        size = len(target)
        if len(masked) < size:  # the C loop reads ``size`` octets of it
            raise ValueError("fewer masked octets than the target holds")
        ascii = _lib.unmask_copy(_ffi.from_buffer("uint8_t[]", target, True), _ffi.from_buffer("uint8_t[]", masked),
                                 size, _rotated_key(self._mask, self._ptr))
        self._ptr += size
        return bool(ascii)

    def process_checked(self, data: Any) -> Tuple[bytes, bool]:
        """``data`` unmasked, and whether every octet of it is ASCII."""
        size = len(data)
        if not size:
            return b"", True
        target = _allocate("uint8_t[]", size)
        ascii = _unmask_from(target, data, 0, size, _rotated_key(self._mask, self._ptr))
        self._ptr += size
        out = _ffi.unpack(_ffi.cast("char *", target), size)
        _ffi.release(target)
        return out, bool(ascii)


class GatheredBuffer:
    """A large message's octets, gathered read by read in C memory and made bytes once.

    On PyPy a ``bytearray`` is a poor buffer (zeroing one of 1 MiB costs 0.8 ms, and
    decoding it as text 3 ms), and each read Twisted makes is a bytes object of its
    own (a 16 MiB message read in 1 MiB steps: sixteen large objects that PyPy's
    collector frees only at a major collection, then a join copying all of them);
    here the reads go into one block of C memory, the kernel can put them there
    directly (:meth:`space`), and the payload is one copy of it."""

    __slots__ = ("_memory", "length")

    def __init__(self, length: int) -> None:
        large_garbage.message_begins(length)  # PyPy: dead earlier payloads freed meanwhile
        self._memory: Any = _allocate("uint8_t[]", length)
        self.length = length

    def _within(self, offset: int, count: int) -> None:
        """Refuse octets outside the payload: the C loop trusts its bounds."""
        if offset < 0 or count < 0 or offset + count > self.length:
            raise ValueError("octets outside the payload")

    def put(self, offset: int, data: Any, start: int, count: int) -> None:
        """Copy ``data[start:start + count]`` to payload octet ``offset``."""
        self._from_read(offset, data, start, count, 0)  # XOR with 0: a copy

    def _from_read(self, offset: int, data: Any, start: int, count: int, key: int) -> bool:
        """``data[start:start + count]`` XORed with ``key`` at payload octet ``offset``;
        whether all of it is ASCII. Bounds are checked first: the C loop trusts them."""
        if start < 0 or count < 0 or start + count > len(data):
            raise ValueError("octets outside the read")
        self._within(offset, count)
        large_garbage.step()
        return _unmask_from(self._memory + offset, data, start, count, key)

    def space(self, offset: int, count: int) -> Any:
        """Writable room for ``count`` octets from payload octet ``offset``, for a read to
        put octets in."""
        self._within(offset, count)
        large_garbage.step()
        return _ffi.buffer(self._memory + offset, count)

    def octets(self, offset: int, count: int) -> bytes:
        """A copy of octets put in already."""
        self._within(offset, count)
        return _ffi.unpack(_ffi.cast("char *", self._memory + offset), count)

    def payload(self) -> bytes:
        """The whole payload as bytes; the C memory is freed (the buffer is done)."""
        large_garbage.payload_made(self.length)
        out = self.octets(0, self.length)
        self.release()
        return out

    def release(self) -> None:
        if self._memory is not None:
            _ffi.release(self._memory)
            self._memory = None


class UnmaskedBuffer(GatheredBuffer):
    """A large WebSocket frame's payload, unmasked read by read into C memory."""

    __slots__ = ("_mask",)

    def __init__(self, mask: bytes, length: int) -> None:
        super().__init__(length)
        self._mask = bytes(mask)

    def unmask(self, offset: int, data: Any, start: int, count: int) -> bool:
        """Put ``data[start:start + count]`` unmasked at payload octet ``offset``; whether
        all of it is ASCII."""
        return self._from_read(offset, data, start, count, _rotated_key(self._mask, offset))

    def unmask_in_place(self, offset: int, count: int) -> bool:
        """Unmask the ``count`` masked octets put at payload octet ``offset`` (by a read
        into :meth:`space`); whether all are ASCII."""
        self._within(offset, count)
        where = self._memory + offset
        return bool(_lib.unmask_copy(where, where, count, _rotated_key(self._mask, offset)))


def unmask_joined(mask: bytes, first: Any, rest: Any) -> Tuple[bytearray, bool]:
    """A frame's payload that came in two reads, ``first`` (masked octets, from the
    payload's start) then ``rest``, unmasked by the C loop into one ``bytearray``
    (:meth:`NativeMasker.unmask_into`), and whether all of it is ASCII. No join of the
    masked reads first. (PyPy reads the rest into C memory instead: ``_rest_in_memory``
    in :mod:`node.fastpath.websocket_frames`.)"""
    head = len(first)
    buffer = unfilled_bytearray(head + len(rest))  # both parts are written in full below
    with memoryview(buffer) as view:  # released: the serializer may empty the buffer
        masker = NativeMasker(mask)
        ascii = masker.unmask_into(view[:head], first) & masker.unmask_into(view[head:], rest)
    return buffer, ascii


# C memory for the loop to write into: every octet is written before it is read
_allocate: Any = _ffi.new_allocator(should_clear_after_alloc=False) if _ffi is not None else None


def _native() -> bool:
    """Whether autobahn's masker is native code (NVX or wsaccel), not its pure-Python fallback."""
    return type(_autobahn.create_xor_masker(b"\0\0\0\0", 1024)).__module__ != _autobahn.__name__


NATIVE = _native()


# the node's C loop was built (one built from an older builder, without ``unmask_from``,
# counts as not built: node.process.native_modules says so at start)
C_LOOP_FOUND = _lib is not None
C_LOOP = C_LOOP_FOUND and hasattr(_lib, "unmask_from")

# large messages are gathered in C memory (GatheredBuffer) where bytearrays are slow
GATHER_IN_C_MEMORY = C_LOOP and platform.python_implementation() == "PyPy"



def _word_masker(mask: bytes, length: Any = None) -> Any:
    """autobahn's ``create_xor_masker`` for its pure-Python case: short payloads keep
    autobahn's byte masker (a word loop or a C call pays off from a few dozen octets)."""
    if length is None or length < 128:
        return _autobahn.create_xor_masker(mask, length)
    return NativeMasker(mask) if C_LOOP else WordMasker(mask)


create_xor_masker: Callable[..., Any] = _autobahn.create_xor_masker if NATIVE else _word_masker


def _nvx(masker: Any) -> bool:
    """Whether ``masker`` is autobahn's NVX masker, whose C function XORs a buffer in place."""
    return hasattr(masker, "_masker") and hasattr(getattr(masker, "lib", None), "nvx_xormask_process")


IN_PLACE = _nvx(create_xor_masker(b"\0\0\0\0", 1 << 20))


def unmask_into(masker: Any, target: memoryview, masked: Any) -> bool:
    """Put ``masked`` (as many octets as ``target`` holds) into ``target``, unmasked by
    ``masker`` from where it stands; True if they are known to be all ASCII (the C loop
    tells; False: not known). autobahn's NVX ``process`` copies its input into a
    zeroed buffer and that into new bytes; here it XORs ``target`` in place."""
    if type(masker) is NativeMasker:
        return masker.unmask_into(target, masked)
    if IN_PLACE:
        target[:] = masked
        masker.lib.nvx_xormask_process(masker._masker, masker.ffi.from_buffer("uint8_t[]", target), len(target))
    else:
        target[:] = masker.process(masked)
    return False
