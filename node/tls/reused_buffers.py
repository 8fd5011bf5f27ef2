"""TLS reads and writes through C buffers made once, not one per call.

pyOpenSSL's ``recv`` and ``bio_read`` each allocate a fresh C buffer of the size
asked for (Twisted asks 32 KiB, and reads the send BIO once per 16 KiB record it
encrypts), and a read from the socket is a new bytes object that ``bio_write``
hands OpenSSL through cffi's ``from_buffer``. On PyPy each such buffer is freed only
when the collector frees the object owning it, and a young bytes object given to
``from_buffer`` is first copied into C memory of its own: the collector's minor
collections come when its nursery is full, and large messages put little in it, so
all of it piled up while a large message passed. A 16 MiB call over wss grew a PyPy
router by 8 times the message, 2 times over ws (README, run S15); a 16 MiB event from
a ws publisher to a wss subscriber 5.5 times, from wss to ws 4.0 times, 1.9 times
from ws to ws (scratch runs, session 16).

Here C buffers made once serve every TLS connection (one reactor thread; each use is
copied out before the next one begins): :class:`ReusedBufferConnection` reads decrypted
octets and records into one and makes bytes of only what it read (Twisted's TLS
protocol takes bytes); :class:`ReusedBufferTLS` has the TCP connection read the peer's
octets into another (:mod:`node.fastpath.write_coalescing`'s ``read_target``), which
``bio_write`` copies into OpenSSL's BIO, and sends a full record from the first at once
when nothing waits before it. OpenSSL's memory for a connection is freed as it closes
(:meth:`ReusedBufferConnection.free_now`).

pyOpenSSL has no ``recv`` or ``bio_read`` into a buffer the caller owns that does
not allocate one more (its ``recv_into`` reads into a fresh buffer, then copies), so
:class:`ReusedBufferConnection` calls OpenSSL as pyOpenSSL's own methods do, through
pyOpenSSL's binding and its error mapping; where those are missing (another
pyOpenSSL), :data:`REUSES_BUFFERS` is False and connections are pyOpenSSL's own.
"""
from __future__ import annotations

import platform
from typing import Any, Optional

from OpenSSL import SSL

try:
    from OpenSSL._util import ffi as _ffi
    from OpenSSL._util import lib as _lib

    REUSES_BUFFERS = all(hasattr(SSL.Connection, name) for name in ("_raise_ssl_error", "_handle_bio_errors"))
except ImportError:  # pragma: no cover (a pyOpenSSL without the binding module)
    _ffi = _lib = None
    REUSES_BUFFERS = False

BUFFER_SIZE = 64 * 1024
"""Octets per read: Twisted's TCP read size; its TLS protocol asks 32 KiB of OpenSSL."""
BIO_READ = 32 * 1024
"""Octets read from the send BIO at a time, as Twisted's TLS protocol reads it."""
DIRECT_MIN = 16 * 1024
"""Octets read from the send BIO from which they are sent from the reused buffer: one
full TLS record (16 KiB of plaintext) or more."""


class _Scratch:
    """One C buffer, made at first use, and a memoryview of it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pointer: Any = None
        self.view: Optional[memoryview] = None

    def get(self) -> Any:
        if self.pointer is None:
            self.pointer = _ffi.new("char[]", self.size)
            self.view = memoryview(_ffi.buffer(self.pointer))
        return self.pointer


_decrypted = _Scratch(BUFFER_SIZE)  # what recv and bio_read read, until copied into bytes
_received = _Scratch(BUFFER_SIZE)  # what the socket read, until bio_write copied it
_plaintext = _Scratch(BUFFER_SIZE)  # what send encrypts, on PyPy (COPIES_PLAINTEXT)

COPIES_PLAINTEXT = platform.python_implementation() == "PyPy"
"""Whether ``send`` copies the plaintext into a reused C buffer before OpenSSL encrypts
it. Twisted's TLS protocol hands pyOpenSSL 16 KiB slices of what it writes, new bytes
objects, and ``from_buffer`` on PyPy moves a young object out of the nursery into C
memory that its collector neither counts nor frees before a major collection: 64 KiB
calls over wss grew a PyPy router by 280 MiB in 2,000 calls before one came (scratch
run, session 16; the C buffers ``recv`` and ``bio_read`` made used to hasten it). A copy
of 16 KiB costs about a microsecond; CPython's ``from_buffer`` copies nothing."""


class ReusedBufferConnection(SSL.Connection):
    """pyOpenSSL's connection, reading into one C buffer made once."""

    def recv(self, bufsiz: int, flags: Optional[int] = None) -> bytes:
        if flags:
            return super().recv(bufsiz, flags)
        size = min(bufsiz, BUFFER_SIZE)
        result = _lib.SSL_read(self._ssl, _decrypted.get(), size)  # type: ignore[attr-defined]
        self._raise_ssl_error(self._ssl, result)  # type: ignore[attr-defined]
        return _decrypted.view[:result].tobytes()  # type: ignore[index]

    def send(self, buf: Any, flags: int = 0) -> int:
        if not COPIES_PLAINTEXT or type(buf) not in (bytes, memoryview) or len(buf) > BUFFER_SIZE:
            return super().send(buf, flags)
        if type(buf) is memoryview and (buf.format != "B" or not buf.c_contiguous):
            return super().send(buf, flags)
        size = len(buf)
        pointer = _plaintext.get()
        _plaintext.view[:size] = buf  # type: ignore[index]
        result = _lib.SSL_write(self._ssl, pointer, size)  # type: ignore[attr-defined]
        self._raise_ssl_error(self._ssl, result)  # type: ignore[attr-defined]
        return result

    def bio_read(self, bufsiz: int) -> bytes:
        if self._from_ssl is None or not isinstance(bufsiz, int):  # type: ignore[attr-defined]
            return super().bio_read(bufsiz)  # its TypeError
        return self.bio_read_view(bufsiz).tobytes()

    def bio_read_view(self, bufsiz: int) -> memoryview:
        """``bio_read`` without the bytes: a view of the octets in the reused buffer,
        good until the next read; ``WantReadError`` if there are none."""
        result = _lib.BIO_read(self._from_ssl, _decrypted.get(), min(bufsiz, BUFFER_SIZE))  # type: ignore[attr-defined]
        if result <= 0:
            self._handle_bio_errors(self._from_ssl, result)  # type: ignore[attr-defined]
        return _decrypted.view[:result]  # type: ignore[index]

    def free_now(self) -> None:
        """Free OpenSSL's memory for this connection (its state, record buffers and BIOs:
        29 KiB after a handshake, measured here) now, not when the collector frees this
        object; any later use raises ``AttributeError``.

        pyOpenSSL frees it with the object, which CPython does as its last reference goes
        and PyPy only at a major collection, which that memory, not counted by its
        collector, does not hasten: 20,000 sessions over wss (four at a time) left a PyPy
        router at 297 MiB, at 220 MiB with this at close, at 183 MiB with the collector also
        told of it (:data:`CONNECTION_C_MEMORY`); 193 MiB while every TLS read still made
        a C buffer that the collector counts (session 16, scratch runs)."""
        ssl = self.__dict__.pop("_ssl", None)
        self.__dict__.pop("_into_ssl", None)  # both BIOs are the SSL's: SSL_free frees them
        self.__dict__.pop("_from_ssl", None)
        if ssl is not None:
            _ffi.release(ssl)  # SSL_free now (pyOpenSSL made it with ffi.gc), not again later


CONNECTION_C_MEMORY = 32 * 1024
"""OpenSSL's memory for one server connection after its handshake (29 KiB measured here),
which PyPy's collector is told of as each connection is made, so that the objects that
come with each (and make it count as garbage) are collected as soon as their size says:
20,000 sessions over wss left a PyPy router at 220 MiB without, 177-183 MiB with it
(:meth:`ReusedBufferConnection.free_now` at close in both)."""

try:
    from __pypy__ import add_memory_pressure as _add_memory_pressure
except ImportError:  # CPython frees it as the last reference goes
    _add_memory_pressure = None


def server_connection(context: SSL.Context) -> SSL.Connection:
    """A server connection on ``context``, reading into reused buffers where it can."""
    if _add_memory_pressure is not None:
        _add_memory_pressure(CONNECTION_C_MEMORY)
    if REUSES_BUFFERS:
        return ReusedBufferConnection(context, None)
    return SSL.Connection(context, None)


class ReusedBufferTLS:
    """Mixin for Twisted's TLS protocol (first in the bases), on a
    :class:`ReusedBufferConnection`.

    Reads: the TCP connection under it reads into one C buffer (``read_target``), whose
    octets go to ``dataReceived`` as a memoryview; Twisted's hands that to ``bio_write``
    (a copy into OpenSSL's BIO) before anything else.

    Writes: Twisted's TLS protocol reads the send BIO after each record it encrypts, into
    a new bytes object for the TCP connection's ``write``. A full record (a large
    message's) is sent from the reused buffer instead when nothing waits before it
    (:meth:`node.fastpath.write_coalescing.CoalescingWrites.write_now`); a smaller one
    (a small message's, or a large one's last) is written as before, so that the small
    messages of one reactor turn still leave together."""

    def read_target(self) -> Any:
        """Room for the next read: as much as the TCP connection reads per turn
        (``bufferSize``, :mod:`node.transports.fairness`: 16 KiB slices, more while the
        rest of a large message comes), at most :data:`BUFFER_SIZE` (OpenSSL's BIO keeps
        the largest size it held for as long as the connection lasts)."""
        _received.get()
        size = getattr(self.transport, "bufferSize", BUFFER_SIZE)  # type: ignore[attr-defined]
        return _received.view[:size] if size < BUFFER_SIZE else _received.view  # type: ignore[index]

    def received_into(self, got: int) -> None:
        self.dataReceived(_received.view[:got])  # type: ignore[attr-defined,index]

    def _flushSendBIO(self) -> None:  # noqa: N802 (Twisted's name)
        connection = self._tlsConnection  # type: ignore[attr-defined]
        write_now = getattr(self.transport, "write_now", None)  # type: ignore[attr-defined]
        if write_now is None or type(connection) is not ReusedBufferConnection:
            super()._flushSendBIO()  # type: ignore[misc]
            return
        try:
            records = connection.bio_read_view(BIO_READ)
        except SSL.WantReadError:  # nothing in the send BIO right now
            return
        if len(records) >= DIRECT_MIN:
            write_now(records)
        else:
            self.transport.write(records.tobytes())  # type: ignore[attr-defined]

    def connectionLost(self, reason: Any) -> None:  # noqa: N802 (Twisted's name)
        """Twisted's, which lets go of the connection at its end: OpenSSL's memory for it is
        freed then (:meth:`ReusedBufferConnection.free_now`)."""
        connection = self._tlsConnection  # type: ignore[attr-defined]
        super().connectionLost(reason)  # type: ignore[misc]
        if type(connection) is ReusedBufferConnection and self._tlsConnection is None:  # type: ignore[attr-defined]
            connection.free_now()

    if not REUSES_BUFFERS:  # pragma: no cover
        read_target = None  # type: ignore[assignment]
