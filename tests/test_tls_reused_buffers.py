"""TLS through reused C buffers (node.tls.reused_buffers).

- In memory (two pyOpenSSL connections joined by memory BIOs): the node's server
  connection reads what pyOpenSSL's own would, record by record, in both directions and
  at every size from 1 octet to several records, with pyOpenSSL's errors (nothing to
  read, the peer's close); the bytes it returns stay what they were after the next read.
- Through a node started from the CLI: 16 MiB calls over wss leave the node's RSS
  growth within three times the message (issue 17's target; a PyPy router grew by eight
  times before: every TLS read and record made a C buffer or a copy its collector freed
  late), and medium messages, whose records leave from the reused buffer while the
  kernel takes them, arrive whole and in order with small ones between them; 64 KiB
  calls leave no memory behind.
"""
from __future__ import annotations

import asyncio
import gc
import random
from typing import Any, List

import psutil
import pytest
from OpenSSL import SSL

from conftest import free_port, router_config, tcp
from membio import pump, shake_hands
from node.tls.context import server_tls
from node.tls.reused_buffers import BUFFER_SIZE, REUSES_BUFFERS, ReusedBufferConnection, ReusedBufferTLS
from peak_rss import PeakRss
from pki import make_pki, tls_options
from wampclient import TIMEOUT, connect, leave, run

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def connected_pair(pki: Any) -> Any:
    """(client, server) after a handshake through memory BIOs; the server is the node's."""
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.load_verify_locations(str(pki.root_crt))
    ctx.set_verify(SSL.VERIFY_PEER)
    client = SSL.Connection(ctx, None)
    client.set_connect_state()
    server = server_tls(tls_options(pki.leaf_key, pki.chain_crt)).serverConnectionForTLS(None)
    server.set_accept_state()
    shake_hands(client, server)
    return client, server


def read_all(conn: SSL.Connection, bufsiz: int) -> bytes:
    """What ``conn`` has decrypted, read ``bufsiz`` at a time; each piece kept as returned."""
    pieces: List[bytes] = []
    while True:
        try:
            pieces.append(conn.recv(bufsiz))
        except SSL.WantReadError:
            return b"".join(pieces)


def test_server_connections_are_the_reusing_kind() -> None:
    assert REUSES_BUFFERS  # the pyOpenSSL this node installs has the binding it calls


@pytest.mark.parametrize("size", [1, 100, 16 * 1024 - 1, 16 * 1024, 16 * 1024 + 1, 100_000, 3 * BUFFER_SIZE + 5])
def test_reads_both_ways_give_what_was_sent(pki: Any, size: int) -> None:
    client, server = connected_pair(pki)
    assert type(server) is ReusedBufferConnection
    rng = random.Random(size)
    for _ in range(3):
        data = rng.randbytes(size)
        client.sendall(data)
        pump(client, server)  # the node's bio_write of the client's records
        kept = read_all(server, 2 ** 15)  # the node's recv, as Twisted calls it
        assert kept == data
        sent, reverse = 0, data[::-1]
        while sent < size:  # the node's send, as Twisted calls it: 16 KiB at a time, bytes or views
            piece = reverse[sent:sent + 2 ** 14]
            sent += server.send(piece if sent % 2 else memoryview(piece))
        wire = []
        while True:  # the node's bio_read, as Twisted calls it
            try:
                wire.append(server.bio_read(2 ** 15))
            except SSL.WantReadError:
                break
        assert all(len(piece) <= 2 ** 15 for piece in wire)
        for piece in wire:
            client.bio_write(piece)
        assert read_all(client, 65536) == data[::-1]
        assert kept == data  # what recv returned is not the reused buffer


def test_bio_read_view_reads_records_and_says_when_there_are_none(pki: Any) -> None:
    client, server = connected_pair(pki)
    with pytest.raises(SSL.WantReadError):
        server.bio_read_view(2 ** 15)
    server.sendall(b"x" * 40_000)
    views = []
    while True:
        try:
            views.append(server.bio_read_view(2 ** 15).tobytes())
        except SSL.WantReadError:
            break
    for octets in views:
        client.bio_write(octets)
    assert read_all(client, 65536) == b"x" * 40_000


def test_peek_and_close_behave_as_pyopenssl_says(pki: Any) -> None:
    client, server = connected_pair(pki)
    client.sendall(b"peek me")
    pump(client, server)
    assert server.recv(100, 2) == b"peek me"  # MSG_PEEK: pyOpenSSL's own path
    assert server.recv(100) == b"peek me"
    with pytest.raises(SSL.WantReadError):
        server.recv(100)
    client.shutdown()
    pump(client, server)
    with pytest.raises(SSL.ZeroReturnError):
        server.recv(100)


def test_a_freed_connection_raises_instead_of_touching_freed_memory(pki: Any) -> None:
    client, server = connected_pair(pki)
    client.sendall(b"before")
    pump(client, server)
    assert server.recv(100) == b"before"
    server.free_now()
    for use in (lambda: server.recv(100), lambda: server.send(b"x"), lambda: server.bio_read(100),
                lambda: server.bio_write(b"x"), lambda: server.get_peer_finished(), lambda: server.shutdown()):
        with pytest.raises(AttributeError):
            use()
    server.free_now()  # twice: nothing more happens
    del server
    gc.collect()  # pyOpenSSL's own free (ffi.gc) does not run again: no double free


def test_the_read_target_keeps_to_the_read_size_of_the_connection_under_it() -> None:
    """The TCP connection's per-turn read size (16 KiB slices for fairness, more during a
    large message) bounds each read into the reused buffer, up to the buffer's size."""
    class Under:
        bufferSize = 16 * 1024

    tls = ReusedBufferTLS()
    tls.transport = Under()
    assert len(tls.read_target()) == 16 * 1024
    Under.bufferSize = 1024 * 1024
    assert len(tls.read_target()) == BUFFER_SIZE


# --- through a node started from the CLI ---------------------------------------------


@pytest.fixture
def wss_node(node_factory: Any, pki: Any) -> Any:
    port = free_port()
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt)}
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port, tls=tls),
                                        "options": {"max_message_size": 16 * MiB + 4096}}]))
    node.url = f"wss://127.0.0.1:{port}/"
    node.cafile = str(pki.root_crt)
    yield node
    assert "Traceback" not in node.output(), node.output()


def test_16mib_calls_over_wss_grow_the_node_by_at_most_three_times_the_message(wss_node: Any) -> None:
    """Three 16 MiB echo calls on a fresh node: the RSS peak over the RSS before them.
    Each call crosses TLS four times (CALL and YIELD in, INVOCATION and RESULT out)."""
    size = 16 * MiB

    async def scenario() -> float:
        callee = await connect(wss_node.url, cafile=wss_node.cafile)
        await callee.register(lambda text: text, "com.big.echo")
        caller = await connect(wss_node.url, cafile=wss_node.cafile)
        assert await caller.call("com.big.echo", "warm") == "warm"
        text = "y" * size
        with PeakRss(wss_node.proc.pid, every=0.005) as rss:
            for _ in range(3):
                assert await asyncio.wait_for(caller.call("com.big.echo", text), 8 * TIMEOUT) == text
        await leave(caller, callee)
        return rss.growth / size

    growth = run(scenario())
    assert growth <= 3.0, f"RSS grew by {growth:.1f} times the message"


def test_many_64kib_calls_over_wss_leave_no_memory_behind(wss_node: Any) -> None:
    """3,000 calls of 64 KiB: the node's RSS grows by less than 150 MiB (its collector's
    cycle). On PyPy every 16 KiB of plaintext handed to OpenSSL was moved into C memory
    that its collector did not count, and the node grew by 280 MiB in 2,000 calls."""
    process = psutil.Process(wss_node.proc.pid)

    async def scenario() -> int:
        callee = await connect(wss_node.url, cafile=wss_node.cafile)
        await callee.register(lambda text: text, "com.medium.echo")
        caller = await connect(wss_node.url, cafile=wss_node.cafile)
        text = "m" * (64 * 1024)
        for _ in range(200):
            await caller.call("com.medium.echo", text)
        before = process.memory_info().rss
        for _ in range(3000):
            assert await caller.call("com.medium.echo", text) == text
        grown = process.memory_info().rss - before
        await leave(caller, callee)
        return grown

    grown = run(scenario())
    assert grown < 150 * MiB, f"RSS grew by {grown / MiB:.0f} MiB"


def test_medium_messages_over_wss_arrive_whole_and_in_order_between_small_ones(wss_node: Any) -> None:
    """Messages of one to several TLS records, each followed by a small one, published at
    once to a subscriber: every record of a medium message leaves from the reused buffer
    while nothing waits before it, and is copied into the queue when something does."""
    rng = random.Random(7)
    sizes = [rng.choice([16 * 1024 - 40, 16 * 1024 + 3, 40_000, 70_000, 300_000]) for _ in range(40)]
    sent: List[Any] = []
    for index, size in enumerate(sizes):
        sent.append("".join(chr(0x41 + (index + i) % 26) for i in range(64)) * (size // 64))
        sent.append(index)

    async def scenario() -> None:
        subscriber = await connect(wss_node.url, cafile=wss_node.cafile)
        got: List[Any] = []
        await subscriber.subscribe(got.append, "com.mixed")
        publisher = await connect(wss_node.url, cafile=wss_node.cafile)
        for item in sent:
            publisher.publish("com.mixed", item)
        for _ in range(400):
            if len(got) >= len(sent):
                break
            await asyncio.sleep(0.05)
        assert got == sent
        await leave(publisher, subscriber)

    run(scenario())
