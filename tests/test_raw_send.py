"""The sends from a buffer's own memory (node.fastpath.raw_send), on real sockets.

They are what the node's TCP and Unix connections use on PyPy; here they are loaded on
either interpreter and checked against a socket pair: the octets arrive in order and
intact from bytes, bytearrays and views of them, a full socket buffer takes part of a
send (or raises EWOULDBLOCK when it takes none), and a peer that closed gives EPIPE as an
OSError, never a signal."""
from __future__ import annotations

import errno
import os
import socket
from typing import Iterator, Tuple

import pytest

from node.fastpath import raw_send


@pytest.fixture(scope="module", autouse=True)
def loaded() -> None:
    assert raw_send.SENDS_FROM_BUFFERS or raw_send._load()


@pytest.fixture
def pair() -> Iterator[Tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    left.setblocking(False)
    yield left, right
    left.close()
    right.close()


def _receive(sock: socket.socket, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = sock.recv(size - got)
        assert chunk
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def test_one_buffer_up_to_the_limit(pair: Tuple[socket.socket, socket.socket]) -> None:
    left, right = pair
    data = os.urandom(5000)
    assert raw_send.send_buffer(left.fileno(), data, 1000) == 1000
    assert raw_send.send_buffer(left.fileno(), memoryview(data)[1000:], 1 << 20) == 4000
    assert _receive(right, 5000) == data


def test_pieces_of_every_kind_in_order(pair: Tuple[socket.socket, socket.socket]) -> None:
    left, right = pair
    source = os.urandom(3000)
    pieces = [b"head", memoryview(source)[7:2000], bytearray(b"middle"), memoryview(bytearray(source))[2000:]]
    expected = b"".join(bytes(piece) for piece in pieces)
    assert raw_send.send_buffers(left.fileno(), pieces) == len(expected)
    assert _receive(right, len(expected)) == expected


def test_a_full_socket_takes_part_then_nothing(pair: Tuple[socket.socket, socket.socket]) -> None:
    left, right = pair
    big = os.urandom(16 * 1024 * 1024)
    sent = raw_send.send_buffers(left.fileno(), [b"x", memoryview(big)])
    assert 0 < sent < len(big) + 1
    with pytest.raises(OSError) as failure:
        while True:
            sent += raw_send.send_buffer(left.fileno(), memoryview(big)[sent - 1:], 1 << 20)
    assert failure.value.errno in (errno.EAGAIN, errno.EWOULDBLOCK)
    got = _receive(right, sent)
    assert got == b"x" + big[:sent - 1]


def test_a_closed_peer_is_an_error_not_a_signal(pair: Tuple[socket.socket, socket.socket]) -> None:
    left, right = pair
    right.close()
    with pytest.raises(OSError) as failure:
        raw_send.send_buffer(left.fileno(), b"gone", 100)
    assert failure.value.errno in (errno.EPIPE, errno.ECONNRESET)
    with pytest.raises(OSError) as failure:
        raw_send.send_buffers(left.fileno(), [b"gone", b"too"])
    assert failure.value.errno in (errno.EPIPE, errno.ECONNRESET)
