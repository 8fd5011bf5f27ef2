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


def shake_hands(client: SSL.Connection, server: SSL.Connection, rounds: int = 20) -> None:
    """Drive both ends' handshakes, moving records between them, until nothing moves
    (a failed handshake raises ``SSL.Error``)."""
    for _ in range(rounds):
        for conn in (client, server):
            try:
                conn.do_handshake()
            except SSL.WantReadError:
                pass
        if not (pump(client, server) | pump(server, client)):
            return
