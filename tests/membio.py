"""Moving TLS bytes between two pyOpenSSL connections in memory (no sockets), for handshake tests."""
from __future__ import annotations

from OpenSSL import SSL


def pump(source: SSL.Connection, sink: SSL.Connection) -> bool:
    """Move everything ``source`` has to send into ``sink``; True if anything moved."""
    moved = False
    while True:
        try:
            data = source.bio_read(65536)
        except SSL.WantReadError:
            return moved
        sink.bio_write(data)
        moved = True
