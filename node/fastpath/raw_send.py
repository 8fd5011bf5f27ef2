"""Sending from the memory of the objects given, without a copy, on PyPy.

PyPy's ``socket.send`` and ``sendmsg`` turn a ``memoryview`` into a new bytes object
before the system call (bytes they send from where they are). A forwarded message's
arguments leave as a view of the octets received (:mod:`node.fastpath.payload_parts`),
and what the kernel does not take at once is sent on from views of the rest, so each
large message sent made about two more objects of its size for PyPy's collector, which
frees them only when a major collection ends: a 16 MiB call grew a fresh router's RSS
by 230 MiB, 15 times the message (the collector's own heap went from 63 to 240 MB).

cffi's ``from_buffer`` gives the address of a bytes object's, a bytearray's or a
memoryview's octets without copying them (0.3 µs), and libc's ``send`` and ``writev``
send from there. That holds for objects PyPy allocates outside its nursery, those over
about 135 KB here; a younger, smaller one is copied into C memory that PyPy's collector
does not count and frees only at a later major collection (a fresh 64 KiB bytes object:
25 µs in a loop, three times what making it cost, and its 64 KiB left behind; see
node/fastpath/native_unmask_build.py; 64 KiB msgpack calls sent this way cost the
router 292-295 µs against 250-253), so the node sends this way
from :data:`RAW_SEND_MIN` octets on. CPython's socket methods copy nothing, so there the
node keeps them (:data:`SENDS_FROM_BUFFERS` is False) and this module loads nothing.
"""
from __future__ import annotations

import errno
import os
import platform
import socket
from typing import Any, Callable, Sequence

_ffi: Any = None
_libc: Any = None
_NO_SIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)  # a peer gone: EPIPE, never SIGPIPE


def _load() -> bool:
    """libc's ``send`` and ``writev`` through cffi's ABI mode (nothing to build)."""
    global _ffi, _libc
    try:
        import cffi

        ffi = cffi.FFI()
        ffi.cdef("""
            struct iovec { void *iov_base; size_t iov_len; };
            ssize_t send(int fd, const void *buf, size_t len, int flags);
            ssize_t writev(int fd, const struct iovec *iov, int iovcnt);  /* SIGPIPE: ignored by Python */
        """)
        libc = ffi.dlopen(None)
        libc.send, libc.writev  # noqa: B018 (both must resolve now, not at the first send)
    except Exception:  # no cffi, no libc symbols: the socket methods it is
        return False
    _ffi, _libc = ffi, libc
    return True


SENDS_FROM_BUFFERS = platform.python_implementation() == "PyPy" and _load()
RAW_SEND_MIN = 256 * 1024  # sends this large go through here (where SENDS_FROM_BUFFERS)


def send_buffer(fd: int, data: Any, limit: int) -> int:
    """Send up to ``limit`` octets of ``data`` (bytes, bytearray or a memoryview of one)
    on the non-blocking socket ``fd``: the number the kernel took; OSError as
    ``socket.send`` raises it (EINTR retried, as Python does since PEP 475)."""
    pointer = _ffi.from_buffer(data)
    try:
        return _sent(lambda: _libc.send(fd, pointer, min(len(data), limit), _NO_SIGNAL))
    finally:
        _ffi.release(pointer)


def send_buffers(fd: int, pieces: Sequence[Any]) -> int:
    """Send ``pieces`` in order with one ``writev``: the number of octets the kernel took."""
    count = len(pieces)
    vector = _ffi.new("struct iovec[]", count)
    pointers = [_ffi.from_buffer(piece) for piece in pieces]
    try:
        for index, pointer in enumerate(pointers):
            vector[index].iov_base = pointer
            vector[index].iov_len = len(pieces[index])
        return _sent(lambda: _libc.writev(fd, vector, count))
    finally:
        for pointer in pointers:
            _ffi.release(pointer)


def _sent(call: Callable[[], int]) -> int:
    """``call``'s result, retried on EINTR; OSError for any other failure.

    The callers release the buffers they took (``ffi.release``) before a failure leaves
    them: an OSError's traceback keeps their frames, and a buffer still exported from a
    memoryview that the cycle collector clears crashes CPython."""
    while True:
        sent = call()
        if sent >= 0:
            return sent
        code = _ffi.errno
        if code != errno.EINTR:
            raise OSError(code, os.strerror(code))
