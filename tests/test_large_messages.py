"""Large messages (issue 17): 1 MiB and 16 MiB calls and events arrive intact and in order,
messages over the limit are refused cleanly, invalid UTF-8 still fails.

The node validates the UTF-8 of WebSocket text messages with the interpreter's
decoder (node/fastpath/websocket_frames.py, ``DecoderUtf8Validator``) instead of
autobahn's validator, and streams large frames through autobahn's reader. Here:

- raising only ``max_message_size`` is enough: the WebSocket ``max_frame_size``, left
  out, follows it (before, it stayed at 1 MiB and a 1 MiB call closed with 1009);
- a 1 MiB and a (nearly) 16 MiB call round trip over ws, wss and RawSocket with JSON,
  msgpack and CBOR, and between sessions of different serializers and transports:
  the callee sees the caller's bytes and the caller gets the callee's result, each
  byte intact (RawSocket caps a message at 16 MiB, so the largest payload leaves room
  for the WAMP envelope);
- several large calls and events in a row arrive in the order they were sent;
- a message over the limit closes that connection (WebSocket 1009; RawSocket: the
  connection is dropped) and the node goes on serving the other sessions;
- a large text message with invalid UTF-8 gets close code 1007, whole or fragmented,
  and a fragmented one is failed as soon as the bad byte arrives (its final fragment
  is never sent);
- the validator agrees with autobahn's on every chunk of random, randomly split input
  (which chunk makes a message invalid, and whether a valid one ends on a code point).
"""
from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import socket
import ssl
import struct
from typing import Any, List

import cbor2
import pytest
from autobahn.wamp.types import PublishOptions
from autobahn.websocket.utf8validator import Utf8Validator

from conftest import await_until, free_port, router_config, start_node, tcp
from node.config.build import build_rawsocket
from node.config.fragments import websocket_options
from node.config.validation import with_definition_defaults
from node.fastpath.utf8 import DecoderUtf8Validator
from node.fastpath.xormask import (
    C_LOOP, NATIVE, GatheredBuffer, NativeMasker, UnmaskedBuffer, WordMasker, create_xor_masker, unmask_into,
    unmask_joined,
)
from node.wire.scan import SCANS, scan_message
from pki import make_pki
from wampclient import TIMEOUT, connect, leave, raw_websocket, run
from wsraw import RawWebSocket, fast_frame, frame

MiB = 1024 * 1024
LIMIT = 16 * MiB
# the node's first read of a connection's octets (node.transports.fairness.READ_SLICE; importing
# that module would load Twisted into this process, whose clients run on asyncio)
READ_SLICE = 16 * 1024
SERIALIZERS = ["json", "msgpack", "cbor"]


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """ws, wss and RawSocket transports, each accepting messages up to 16 MiB (only
    ``max_message_size`` raised), and a RawSocket transport with the default 1 MiB."""
    base = tmp_path_factory.mktemp("large")
    pki = make_pki(base / "pki")
    ports = {"ws": free_port(), "wss": free_port(), "rs": free_port(), "rs1": free_port()}
    options = {"max_message_size": LIMIT}  # max_frame_size follows it
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt)}
    config = router_config([
        {"type": "websocket", "endpoint": tcp(ports["ws"]), "options": options},
        {"type": "websocket", "endpoint": tcp(ports["wss"], tls=tls), "options": options},
        {"type": "rawsocket", "endpoint": tcp(ports["rs"]), "serializers": SERIALIZERS,
         "max_message_size": LIMIT},
        {"type": "rawsocket", "endpoint": tcp(ports["rs1"]), "serializers": ["json"]},
        {"type": "rawsocket", "endpoint": {"type": "unix", "path": str(base / "rs.sock")}, "serializers": ["json"],
         "max_message_size": LIMIT},
    ])
    running = start_node(config, base / "cbdir")
    running.urls = {"ws": f"ws://127.0.0.1:{ports['ws']}/", "wss": f"wss://127.0.0.1:{ports['wss']}/",
                    "rs": f"rs://127.0.0.1:{ports['rs']}/"}
    running.ports = ports
    running.unix_path = str(base / "rs.sock")
    running.cafile = str(pki.root_crt)
    yield running
    running.stop()
    assert "Traceback" not in running.output(), running.output()


def payload(size: int, salt: int = 0) -> str:
    """Text of ``size`` characters that is not one repeated byte (a shifted or cut
    copy would not compare equal), with non-ASCII characters and characters JSON
    escapes (``"``, ``\\``) in it; ``salt`` makes messages of one size differ."""
    unit = "".join(chr(0x20 + (i * 7 + salt) % 90) for i in range(997)) + "κόσμε€"
    return (unit * (size // len(unit) + 1))[:size]


def largest_payload(limit: int) -> int:
    """The most characters of :func:`payload` whose JSON text fits ``limit`` octets
    with room for the envelope ``[48, id, {}, "procedure", [...]]`` (msgpack and CBOR
    carry the same text in fewer octets: JSON escapes some characters)."""
    size = limit
    while True:
        encoded = len(json.dumps(payload(size), ensure_ascii=False).encode())
        if encoded <= limit - 4096:
            return size
        size -= encoded - (limit - 4096)


HUGE = largest_payload(LIMIT)
SIZES = {"1mib": MiB, "16mib": HUGE}


def test_frame_limit_follows_the_message_limit() -> None:
    """Left out, ``max_frame_size`` is ``max_message_size``; set, it stays as set."""
    assert websocket_options().max_frame_size == websocket_options().max_message_size == MiB
    assert websocket_options({"max_message_size": LIMIT}).max_frame_size == LIMIT
    assert websocket_options({"max_message_size": 0}).max_frame_size == 0
    assert websocket_options({"max_message_size": LIMIT, "max_frame_size": 4096}).max_frame_size == 4096


def test_outgoing_buffer_holds_four_of_the_largest_messages() -> None:
    """Left out, ``max_outgoing_buffer`` is 4 MiB, or four messages of ``max_message_size``
    if more (0, no message limit: 4 MiB); set, it stays as set."""
    assert websocket_options().max_outgoing_buffer == 4 * MiB
    assert websocket_options({"max_message_size": 4096}).max_outgoing_buffer == 4 * MiB
    assert websocket_options({"max_message_size": 0}).max_outgoing_buffer == 4 * MiB
    assert websocket_options({"max_message_size": LIMIT}).max_outgoing_buffer == 4 * LIMIT
    assert websocket_options({"max_message_size": LIMIT, "max_outgoing_buffer": 0}).max_outgoing_buffer == 0

    def rawsocket(**keys: Any) -> int:
        raw = {"type": "rawsocket", "endpoint": tcp(1), **keys}
        return build_rawsocket(with_definition_defaults("rawsocket_service", raw), "transport").max_outgoing_buffer

    assert rawsocket() == rawsocket(max_message_size=4096) == 4 * MiB
    assert rawsocket(max_message_size=LIMIT) == rawsocket(options={"max_message_size": LIMIT}) == 4 * LIMIT
    assert rawsocket(max_message_size=LIMIT, options={"max_outgoing_buffer": 5}) == 5


def round_trip(node: Any, size: int, caller_via: str = "ws", caller_ser: str = "json",
               callee_via: str = "", callee_ser: str = "") -> None:
    """A call of ``size`` characters and its (reversed) result, both checked whole."""
    async def scenario() -> None:
        callee = await connect(node.urls[callee_via or caller_via], serializer=callee_ser or caller_ser,
                               cafile=node.cafile)
        caller = await connect(node.urls[caller_via], serializer=caller_ser, cafile=node.cafile)
        seen = []

        def echo(text: str) -> str:
            seen.append(text)
            return text[::-1]

        await callee.register(echo, "com.large.echo")
        sent = payload(size)
        result = await asyncio.wait_for(caller.call("com.large.echo", sent), 4 * TIMEOUT)
        assert len(seen) == 1 and seen[0] == sent  # INVOCATION intact
        assert result == sent[::-1]  # RESULT intact
        assert await caller.call("com.large.echo", "ab") == "ba"  # the sessions go on
        await leave(callee, caller)

    run(scenario())


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("serializer", SERIALIZERS)
@pytest.mark.parametrize("transport", ["ws", "wss", "rs"])
def test_large_call_round_trip_is_intact(node: Any, transport: str, serializer: str, size: str) -> None:
    assert HUGE > 15.5 * MiB
    round_trip(node, SIZES[size], transport, serializer)


@pytest.mark.parametrize("caller, callee, size", [
    (("ws", "json"), ("rs", "msgpack"), "1mib"),
    (("rs", "cbor"), ("wss", "json"), "1mib"),
    (("wss", "msgpack"), ("ws", "cbor"), "1mib"),
    (("ws", "msgpack"), ("rs", "json"), "16mib"),
])
def test_large_call_between_serializers_is_intact(node: Any, caller: Any, callee: Any, size: str) -> None:
    """The router turns each message into the other side's serializer (no bytes spliced
    across serializers)."""
    round_trip(node, SIZES[size], caller[0], caller[1], callee[0], callee[1])


COUNT = 6  # large messages in a row


def test_large_calls_in_a_row_keep_their_order(node: Any) -> None:
    """Six 1 MiB calls issued at once: the callee sees them in the order sent and each
    caller gets its own result."""
    async def scenario() -> None:
        callee = await connect(node.urls["rs"], serializer="msgpack")
        caller = await connect(node.urls["ws"], serializer="json")
        seen: List[str] = []

        def echo(text: str) -> str:
            seen.append(text)
            return text[::-1]

        await callee.register(echo, "com.large.order")
        sent = [payload(MiB, salt) for salt in range(COUNT)]
        done: List[int] = []
        calls = []
        for i, text in enumerate(sent):
            call = asyncio.ensure_future(caller.call("com.large.order", text))
            call.add_done_callback(lambda _f, i=i: done.append(i))
            calls.append(call)
        results = await asyncio.wait_for(asyncio.gather(*calls), 4 * TIMEOUT)
        assert seen == sent  # INVOCATIONs in order, intact
        assert results == [text[::-1] for text in sent]
        assert done == list(range(COUNT))  # RESULTs in order
        await leave(callee, caller)

    run(scenario())


def test_large_events_in_a_row_keep_their_order(node: Any) -> None:
    """Six 1 MiB events published at once reach subscribers on every transport and
    serializer, each event whole and in the order published."""
    async def scenario() -> None:
        subscribers = [await connect(node.urls[via], serializer=ser, cafile=node.cafile)
                       for via, ser in (("ws", "json"), ("wss", "cbor"), ("rs", "msgpack"))]
        received: List[List[str]] = [[] for _ in subscribers]
        for got, subscriber in zip(received, subscribers):
            await subscriber.subscribe(got.append, "com.large.events")
        publisher = await connect(node.urls["rs"], serializer="cbor")
        sent = [payload(MiB, salt) for salt in range(COUNT)]
        acks = [publisher.publish("com.large.events", text, options=PublishOptions(acknowledge=True))
                for text in sent]
        await asyncio.wait_for(asyncio.gather(*acks), 4 * TIMEOUT)
        # the node writes each event before it acknowledges the last: wait for the reads
        await await_until(lambda: all(len(got) >= COUNT for got in received), 4 * TIMEOUT)
        for got in received:
            assert len(got) == COUNT and got == sent
        await leave(publisher, *subscribers)

    run(scenario())


def test_large_event_over_wss_to_a_late_reader_arrives_whole_before_what_follows(node: Any) -> None:
    """Over TLS the node encrypts a large message a step at a time, as the socket takes it
    (node.tls.handshake_protocol), so what it writes meanwhile waits behind the rest: a
    subscriber that reads only after a 12 MiB event (more than the kernel's buffers on
    both sides hold) and a small one were published gets the whole event first, then the
    small one."""
    tls = ssl.create_default_context(cafile=node.cafile)
    subscriber = RawWebSocket(node.ports["wss"], protocols=["wamp.2.json"], tls=tls, timeout=4 * TIMEOUT)
    subscriber.send(frame(1, json.dumps([1, "realm1", {"roles": {"subscriber": {}}}]).encode()))
    assert json.loads(subscriber.read_frame()[2])[0] == 2  # WELCOME
    subscriber.send(frame(1, json.dumps([32, 1, {}, "com.large.late"]).encode()))
    assert json.loads(subscriber.read_frame()[2])[0] == 33  # SUBSCRIBED
    large = payload(12 * MiB, salt=3)

    async def publish() -> None:
        publisher = await connect(node.urls["ws"])
        for text in (large, "after"):  # acknowledged: the node has written each EVENT before
            await asyncio.wait_for(publisher.publish("com.large.late", text,
                                                     options=PublishOptions(acknowledge=True)), 4 * TIMEOUT)
        await leave(publisher)

    try:
        run(publish())
        events = [json.loads(subscriber.read_frame()[2]) for _ in range(2)]
        assert [event[0] for event in events] == [36, 36]
        assert events[0][4] == [large] and events[1][4] == ["after"]
    finally:
        subscriber.shutdown()


async def rawsocket_session(address: Any) -> Any:
    """A joined WAMP session over RawSocket with JSON, spoken by hand: (reader, writer).
    ``address``: a TCP port on 127.0.0.1, or the path of a Unix socket."""
    if isinstance(address, str):
        reader, writer = await asyncio.open_unix_connection(address)
    else:
        reader, writer = await asyncio.open_connection("127.0.0.1", address)
    writer.write(bytes([0x7F, 0xF1, 0, 0]))  # 16 MiB wanted, JSON
    assert (await reader.readexactly(4))[:2] == bytes([0x7F, 0xF1])
    writer.write(rawsocket_message([1, "realm1", {"roles": {"caller": {}}}]))
    assert (await read_rawsocket_message(reader))[0] == 2  # WELCOME
    return reader, writer


def rawsocket_message(msg: Any) -> bytes:
    data = json.dumps(msg).encode()
    return struct.pack("!I", len(data)) + data


async def read_rawsocket_message(reader: Any) -> Any:
    length = struct.unpack("!I", await reader.readexactly(4))[0]
    return json.loads(await reader.readexactly(length))


@pytest.mark.parametrize("endpoint", ["tcp", "unix"])
def test_rawsocket_stream_of_large_and_small_calls_in_odd_pieces(node: Any, endpoint: str) -> None:
    """Calls of sizes around the node's read steps (16 KiB, 1 MiB) back to back in one
    stream, written in pieces that split lengths and payloads anywhere: every one is
    answered, whole and in order (the node gathers large messages itself, reading the
    rest of one in the turn it begins where it can: TCP and Unix sockets)."""
    sizes = [200 * 1024, 10, MiB + 3, 5, 16 * 1024 - 40, 16 * 1024 + 1, 3 * MiB, 1, 64 * 1024, 100]

    async def scenario() -> None:
        callee = await connect(node.urls["ws"], serializer="msgpack")
        await callee.register(lambda text: text[::-1], "com.large.stream")
        reader, writer = await rawsocket_session(node.ports["rs"] if endpoint == "tcp" else node.unix_path)
        texts = [payload(size, salt) for salt, size in enumerate(sizes)]
        stream = b"".join(rawsocket_message([48, i + 1, {}, "com.large.stream", [text]])
                          for i, text in enumerate(texts))

        async def collect() -> None:
            # while the stream is written: the node stops reading from a peer that does
            # not read what it is sent (max_outgoing_buffer), and a Unix socket holds
            # far less than one result
            for i, text in enumerate(texts):
                result = await asyncio.wait_for(read_rawsocket_message(reader), 4 * TIMEOUT)
                assert result[:2] == [50, i + 1] and result[3] == [text[::-1]], (i, result[:3])

        results = asyncio.ensure_future(collect())
        rng, pos = random.Random(5), 0
        while pos < len(stream):
            piece = rng.choice([1, 2, 3, 5, 4093, 16384, 70000, 300000])
            writer.write(stream[pos:pos + piece])
            pos += piece
            await writer.drain()
        await results
        writer.close()
        await leave(callee)

    run(scenario())


def closes_with(node: Any, send: Any) -> Any:
    """The close code after ``send(protocol)`` on a plain wamp.2.json WebSocket."""
    async def scenario() -> Any:
        protocol, factory = await raw_websocket(node.urls["ws"], ["wamp.2.json"])
        send(protocol)
        code, _reason = await asyncio.wait_for(factory.closed, TIMEOUT)
        return code

    return run(scenario())


def still_serves(node: Any) -> None:
    """A new session on each large transport calls a procedure of a session that was
    there all along."""
    async def scenario() -> None:
        callee = await connect(node.urls["ws"])
        await callee.register(lambda text: text.upper(), "com.large.upper")
        for via in ("ws", "wss", "rs"):
            caller = await connect(node.urls[via], cafile=node.cafile)
            assert await asyncio.wait_for(caller.call("com.large.upper", "ok"), TIMEOUT) == "OK"
            await leave(caller)
        await leave(callee)

    run(scenario())


def test_websocket_message_over_the_limit_closes_with_1009(node: Any) -> None:
    """One octet over 16 MiB (a CALL): close 1009, and the node serves the others."""
    text = b'[48, 1, {}, "com.large.echo", ["' + b"x" * LIMIT + b'"]]'

    assert closes_with(node, lambda protocol: protocol.sendMessage(text[:LIMIT + 1], isBinary=False)) == 1009
    still_serves(node)


def test_rawsocket_message_over_the_limit_drops_the_connection(node: Any) -> None:
    """On a RawSocket transport with the default 1 MiB, a message announced larger is
    not read: the connection ends, and the node serves the others."""
    with socket.create_connection(("127.0.0.1", node.ports["rs1"]), timeout=TIMEOUT) as sock:
        sock.sendall(bytes([0x7F, 0xF1, 0, 0]))  # 16 MiB wanted, JSON
        assert sock.recv(4)[0] == 0x7F
        sock.sendall(struct.pack("!I", MiB + 1))  # a regular message one octet over 1 MiB
        sock.sendall(b"[" * 65536)
        chunk = b"x"
        while chunk:  # the node closes; whatever it sent before is read up to the end
            chunk = sock.recv(65536)
    still_serves(node)


def test_large_text_message_with_invalid_utf8_gets_1007(node: Any) -> None:
    text = b'["' + payload(MiB).encode() + b'\xff"]'
    assert closes_with(node, lambda protocol: protocol.sendMessage(text, isBinary=False)) == 1007


def test_large_text_message_with_a_surrogate_gets_1007(node: Any) -> None:
    text = b'["' + payload(MiB).encode() + "\ud800".encode("utf-8", "surrogatepass") + b'"]'
    assert closes_with(node, lambda protocol: protocol.sendMessage(text, isBinary=False)) == 1007


def test_fragmented_text_message_fails_fast_on_invalid_utf8(node: Any) -> None:
    """The first fragments (1 MiB) end in the first bytes of a code point above U+10FFFF:
    the node closes with 1007 although the message never ends."""
    def send(protocol: Any) -> None:
        protocol.sendFrame(opcode=1, payload=b'["' + payload(MiB // 2).encode(), fin=False)
        protocol.sendFrame(opcode=0, payload=payload(MiB // 2).encode() + b"\xf4\x90", fin=False)

    assert closes_with(node, send) == 1007


def test_fragmented_text_message_split_inside_a_code_point_is_accepted(node: Any) -> None:
    """Valid text split inside a code point across fragments is one valid message: the
    node answers the (malformed WAMP) message as a protocol error, not with 1007."""
    euro = "€".encode()

    def send(protocol: Any) -> None:
        protocol.sendFrame(opcode=1, payload=b'["' + payload(MiB // 2).encode() + euro[:1], fin=False)
        protocol.sendFrame(opcode=0, payload=euro[1:] + b'"]', fin=True)

    assert closes_with(node, send) != 1007


def test_large_frame_fails_on_the_read_with_invalid_utf8_before_it_ends(node: Any) -> None:
    """One text frame announcing 4 MiB whose first MiB holds a byte no UTF-8 text can
    have: the node closes with 1007 although the rest never comes (the large frame is
    checked piece by piece as it is gathered), and serves the others."""
    start = b'["' + payload(MiB).encode() + b"\xff"
    ws = RawWebSocket(node.ports["ws"], protocols=["wamp.2.json"])
    try:
        ws.send(fast_frame(1, start.ljust(4 * MiB, b"x"))[:len(start) + 64])
        code, _reason, _frames = ws.read_close()
        assert code == 1007
    finally:
        ws.shutdown()
    still_serves(node)


@pytest.mark.parametrize("bad", [False, True])
def test_large_frame_whose_rest_trickles_in_arrives_intact_or_fails_where_it_breaks(node: Any, bad: bool) -> None:
    """A 3 MiB text CALL written in pieces of 97 KiB with pauses between them, so the
    node reads its rest over many turns, a part at a time (on PyPy straight into the
    frame's C memory, ``pull_into_frame``), with code points cut between parts: it is
    answered intact; with one octet no UTF-8 text can have near its end, it gets 1007
    only once that octet has come."""
    text = payload(3 * MiB // 2, salt=5)  # two octets a character or more here and there
    data = json.dumps([48, 1, {}, "com.large.trickle", [text]], ensure_ascii=False).encode()
    if bad:
        data = data[:-100] + b"\xff" + data[-99:]
    octets = frame(1, data, mask=bytes([0x5A, 0xC3, 0x01, 0xFE]))  # a mask that changes every octet

    async def scenario() -> None:
        callee = await connect(node.urls["rs"], serializer="cbor")
        await callee.register(lambda text: text[::-1], "com.large.trickle")
        ws = welcomed(node)
        try:
            for pos in range(0, len(octets), 97 * 1024 + 1):
                ws.send(octets[pos:pos + 97 * 1024 + 1])
                await asyncio.sleep(0.002)
            if bad:
                code, _reason, _frames = await asyncio.get_running_loop().run_in_executor(None, ws.read_close)
                assert code == 1007
            else:
                _fin, _opcode, answer = await asyncio.get_running_loop().run_in_executor(None, ws.read_frame)
                result = json.loads(answer)
                assert result[:2] == [50, 1] and result[3] == [text[::-1]], result[:3]
        finally:
            ws.shutdown()
        await leave(callee)

    run(scenario())
    still_serves(node)


@pytest.mark.parametrize("tail, code", [(b"\xe2\x82", 1007), (b"\xe2\x82\xac", None)])
def test_large_frame_ending_inside_a_code_point_gets_1007(node: Any, tail: bytes, code: Any) -> None:
    """A large text frame that ends in the first two octets of "€" is invalid UTF-8
    (1007); with the third octet it is valid text (and malformed WAMP: not 1007)."""
    ws = RawWebSocket(node.ports["ws"], protocols=["wamp.2.json"])
    try:
        ws.send(fast_frame(1, b'["' + payload(MiB).encode() + tail))
        got, _reason, _frames = ws.read_close()
        assert (got == 1007) == (code == 1007), got
    finally:
        ws.shutdown()


def test_large_frames_split_anywhere_between_reads_arrive_intact(node: Any) -> None:
    """Two large CALLs and a small one in a single stream over a plain WebSocket, sent
    in pieces that cut headers, masks and code points: each is answered, intact, in order."""
    sizes = [MiB + 1, 10, 200 * 1024]

    async def scenario() -> None:
        callee = await connect(node.urls["rs"], serializer="cbor")
        await callee.register(lambda text: text[::-1], "com.large.split")
        ws = welcomed(node)
        try:
            texts = [payload(size, salt) for salt, size in enumerate(sizes)]
            stream = b"".join(frame(1, json.dumps([48, i + 1, {}, "com.large.split", [text]],
                                                  ensure_ascii=False).encode(), mask=bytes([i + 1, 2, 3, 4]))
                              for i, text in enumerate(texts))
            rng, pos = random.Random(9), 0
            while pos < len(stream):
                piece = rng.choice([1, 2, 3, 7, 4093, 70001, 300007])
                ws.send(stream[pos:pos + piece])
                pos += piece
                await asyncio.sleep(0)  # the callee's session answers meanwhile
            for i, text in enumerate(texts):
                _fin, _opcode, data = await asyncio.get_running_loop().run_in_executor(None, ws.read_frame)
                result = json.loads(data)
                assert result[:2] == [50, i + 1] and result[3] == [text[::-1]], (i, result[:3])
        finally:
            ws.shutdown()
        await leave(callee)

    run(scenario())


# a serializer of the raw session: subprotocol, frame opcode, encode, decode
RAW_CODECS = {"json": ("wamp.2.json", 1, lambda value: json.dumps(value, ensure_ascii=False).encode(), json.loads),
              "cbor": ("wamp.2.cbor", 2, cbor2.dumps, cbor2.loads)}


def welcomed(node: Any, serializer: str = "json") -> RawWebSocket:
    """A raw WebSocket with a joined session (caller role)."""
    protocol, opcode, encode, decode = RAW_CODECS[serializer]
    ws = RawWebSocket(node.ports["ws"], protocols=[protocol])
    ws.send(fast_frame(opcode, encode([1, "realm1", {"roles": {"caller": {}}}])))
    assert decode(ws.read_frame()[2])[0] == 2  # WELCOME
    return ws


@pytest.mark.parametrize("serializer", ["json", "cbor"])
@pytest.mark.parametrize("size", [20 * 1024, 70 * 1024, 240 * 1024])
def test_frames_spanning_reads_are_read_with_their_rest_and_arrive_intact(node: Any, size: int,
                                                                          serializer: str) -> None:
    """A CALL larger than one read slice, written whole right after a small one, so the
    node's first read ends inside it (at a payload offset that is no multiple of 4: the
    mask lines up differently in the rest): the node reads its rest at once and unmasks
    both parts as one payload (under the large-frame threshold and over it; near the
    join limit the rest may not all be there yet, and what came is gathered as before).
    Its text (non-ASCII characters, JSON escapes) comes back intact, in order.
    A binary (CBOR) frame is not UTF-8 checked: a wrongly unmasked rest would reach the
    callee as it is (a text frame's would fail the check, and autobahn would read it again)."""
    _protocol, opcode, encode, decode = RAW_CODECS[serializer]

    async def scenario() -> None:
        callee = await connect(node.urls["rs"], serializer="cbor")
        await callee.register(lambda text: text[::-1], "com.large.joined")
        ws = welcomed(node, serializer)
        try:
            text = payload(size, 3)
            body = encode([48, 2, {}, "com.large.joined", [text]])
            big = frame(opcode, body, mask=b"\x9a\x03\x7f\xe1")
            first = READ_SLICE - (len(big) - len(body))  # of the read, what is not the large frame's header
            pad = ""
            while True:  # the small CALL's frame makes the first read end inside the large one's payload, unaligned
                small = frame(opcode, encode([48, 1, {}, "com.large.joined", ["ab" + pad]]))
                if (first - len(small)) % 4:
                    break
                pad += "c"
            ws.send(small + big)
            results = []
            for _ in range(2):
                _fin, _opcode, data = await asyncio.get_running_loop().run_in_executor(None, ws.read_frame)
                results.append(decode(data))
            assert results[0][:2] == [50, 1] and results[0][3] == [("ab" + pad)[::-1]]
            assert results[1][:2] == [50, 2] and results[1][3] == [text[::-1]]
        finally:
            ws.shutdown()
            await leave(callee)  # its registration goes with it, also when the test failed

    run(scenario())


@pytest.mark.parametrize("size", [40 * 1024, 100 * 1024])
def test_frame_spanning_reads_with_invalid_utf8_in_its_rest_gets_1007(node: Any, size: int) -> None:
    """The invalid octet comes in the part of the frame read with its rest (under and
    over the large-frame threshold): close 1007, and the node serves the others."""
    ws = welcomed(node)
    try:
        ws.send(frame(1, b'[48, 1, {}, "com.large.echo", ["' + payload(size).encode() + b'\xff"]]'))
        code, _reason, _frames = ws.read_close()
        assert code == 1007
    finally:
        ws.shutdown()
    still_serves(node)


@pytest.mark.skipif(not C_LOOP, reason="the node's C loop was not built")
def test_unmask_joined_unmasks_two_reads_as_one_payload() -> None:
    """:func:`unmask_joined` (a frame read with its rest): the first read's octets from
    any offset, cut anywhere, then the rest, come out as the unmasked payload (a
    ``bytearray``), with whether all of it is ASCII."""
    rng = random.Random(4096)
    for _ in range(500):
        mask, text, masked = masked_text(rng)
        cut = rng.randint(0, len(text))
        lead = rng.randint(0, 7)
        first = bytes(rng.randrange(256) for _ in range(lead)) + masked[:cut]
        out, ascii = unmask_joined(mask, memoryview(first)[lead:], masked[cut:])
        assert type(out) is bytearray
        assert out == text and ascii == bytes(text).isascii()


def test_validator_agrees_with_autobahns_on_random_split_input() -> None:
    rng = random.Random(17)
    singles = [bytes([b]) for b in (0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                                    0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF)]
    texts = [t.encode() for t in ("κόσμε", "\U0010FFFF", "\uD7FF", "\uE000", "a", "€", "\U00010000")]
    for _ in range(20000):
        data = b"".join(rng.choice(singles) if rng.random() < 0.5 else rng.choice(texts)
                        for _ in range(rng.randint(1, 8)))
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(0, 4)))) + [len(data)]
        ours, theirs, start = DecoderUtf8Validator(), Utf8Validator(), 0
        for cut in cuts:
            chunk, start = data[start:cut], cut
            expected, got = theirs.validate(chunk), ours.validate(chunk)
            assert got[0] == expected[0], (data, cuts, chunk, got, expected)
            if not expected[0]:
                break
            assert got[1] == expected[1], (data, cuts, chunk, got, expected)
        ours.reset()
        assert ours.validate("ok€".encode()) == (True, True, 5, 5)


def test_two_16mib_events_in_a_row_reach_a_subscriber(node: Any) -> None:
    """Two events of (nearly) 16 MiB published back to back: the subscriber gets both,
    whole; the second waits behind the first in the node's outgoing buffer (4 MiB by
    default) and must not get the subscriber dropped as one that stopped reading."""
    async def scenario() -> None:
        subscriber = await connect(node.urls["ws"], serializer="msgpack")
        got: List[str] = []
        await subscriber.subscribe(got.append, "com.large.huge")
        publisher = await connect(node.urls["rs"], serializer="json")
        sent = [payload(HUGE, salt) for salt in range(2)]
        acks = [publisher.publish("com.large.huge", text, options=PublishOptions(acknowledge=True))
                for text in sent]
        await asyncio.wait_for(asyncio.gather(*acks), 4 * TIMEOUT)
        await await_until(lambda: len(got) >= 2 or not subscriber.is_attached(), 4 * TIMEOUT)
        assert got == sent
        await leave(publisher, subscriber)

    run(scenario())


# the node's maskers: the C loop only where it was built
NODE_MASKERS = [WordMasker] + ([NativeMasker] if C_LOOP else [])


@pytest.mark.parametrize("masker_class", NODE_MASKERS)
def test_node_maskers_unmask_random_split_input_like_rfc6455(masker_class: Any) -> None:
    """:class:`WordMasker` and :class:`NativeMasker` (the node's maskers) XOR each octet
    with mask[i % 4] across chunks of any length, keeping autobahn's pointer."""
    rng = random.Random(6455)
    for _ in range(2000):
        mask = bytes(rng.randrange(256) for _ in range(4))
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
        cuts = sorted(rng.sample(range(len(data) + 1), min(len(data) + 1, rng.randint(0, 5)))) + [len(data)]
        masker, start, out = masker_class(mask), 0, b""
        for cut in cuts:
            out += masker.process(data[start:cut])
            start = cut
            assert masker.pointer() == cut
        assert out == bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))


def test_the_c_loop_is_built_and_autobahns_frames_keep_a_native_masker() -> None:
    """The install builds the node's C loop (CI has the compiler and the Python headers:
    a failed build shows here, not only as a slower node); autobahn's own frame methods
    unmask with autobahn's masker where that is native (NVX), else with the C loop."""
    assert C_LOOP, "node/fastpath/_native_unmask was not built: see node/fastpath/native_unmask_build.py"
    masker = create_xor_masker(b"abcd", MiB)
    if NATIVE:
        assert not isinstance(masker, (WordMasker, NativeMasker))
    else:
        assert type(masker) is NativeMasker
    assert masker.process(b"\0" * 10) == b"abcdabcdab"


def masked_text(rng: random.Random) -> Any:
    """A random mask, a payload of mostly ASCII octets (up to two that are not), and the
    payload masked with it (RFC 6455 section 5.3)."""
    mask = bytes(rng.randrange(256) for _ in range(4))
    payload = bytearray(rng.randrange(128) for _ in range(rng.randint(1, 200)))
    for _ in range(rng.randint(0, 2)):
        payload[rng.randrange(len(payload))] = rng.randrange(128, 256)
    return mask, payload, bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))


@pytest.mark.skipif(not C_LOOP, reason="the node's C loop was not built")
def test_c_loop_unmasks_reads_into_a_frame_buffer_and_tells_which_are_ascii() -> None:
    """:func:`unmask_into` with the C loop (a large frame's reads on CPython): reads of
    any length land unmasked at their place in the buffer, each answer saying whether
    exactly that read's octets were all ASCII."""
    rng = random.Random(6455)
    for _ in range(500):
        mask, payload, masked = masked_text(rng)
        buffer = bytearray(len(payload))
        view, masker, filled = memoryview(buffer), NativeMasker(mask), 0
        while filled < len(payload):
            take = rng.randint(1, len(payload) - filled)
            ascii = unmask_into(masker, view[filled:filled + take], memoryview(masked)[filled:filled + take])
            assert ascii == bytes(payload[filled:filled + take]).isascii()
            filled += take
        assert buffer == payload
    with pytest.raises(ValueError):  # fewer masked octets than the target would read
        unmask_into(NativeMasker(b"abcd"), memoryview(bytearray(8)), b"1234567")


@pytest.mark.skipif(not C_LOOP, reason="the node's C loop was not built")
def test_unmasked_buffer_gathers_random_reads_and_tells_which_are_ascii() -> None:
    """:class:`UnmaskedBuffer` (a large frame on PyPy): reads of any length, at any
    offset of their read and of the payload, come out unmasked as one payload, each
    read's answer saying whether exactly its octets were all ASCII. Reads come as bytes
    (handed to C as they are) or as views (through ``ffi.from_buffer``)."""
    rng = random.Random(1007)
    for _ in range(500):
        mask, payload, masked = masked_text(rng)
        buffer = UnmaskedBuffer(mask, len(payload))
        filled = 0
        while filled < len(payload):
            take = rng.randint(1, len(payload) - filled)
            lead = rng.randint(0, 7)  # the frame's octets start later in the read
            read: Any = bytes(rng.randrange(256) for _ in range(lead)) + masked[filled:filled + take] + b"tail"
            if rng.random() < 0.5:
                read = memoryview(bytearray(read))
            ascii = buffer.unmask(filled, read, lead, take)
            assert ascii == bytes(payload[filled:filled + take]).isascii()
            assert buffer.octets(filled, take) == payload[filled:filled + take]
            filled += take
        assert buffer.payload() == payload
    buffer = UnmaskedBuffer(b"abcd", 8)  # the C loop trusts its bounds: they are checked before it runs
    for offset, read, start, count in ((4, b"12345", 0, 5), (0, b"123", 1, 3), (-1, b"1", 0, 1)):
        with pytest.raises(ValueError):
            buffer.unmask(offset, read, start, count)
    with pytest.raises(ValueError):
        buffer.octets(6, 3)


@pytest.mark.skipif(not C_LOOP, reason="the node's C loop was not built")
def test_gathered_buffer_puts_random_reads_and_reads_straight_into_its_space() -> None:
    """:class:`GatheredBuffer` (a large RawSocket message on PyPy): parts copied from
    reads at any offset (bytes or views), and parts a socket read writes straight into
    :meth:`space`, come out as one payload; bounds are checked before C copies."""
    rng = random.Random(4)
    left, right = socket.socketpair()
    try:
        for _ in range(200):
            payload = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3000)))
            buffer = GatheredBuffer(len(payload))
            filled = 0
            while filled < len(payload):
                take = rng.randint(1, len(payload) - filled)
                if rng.random() < 0.3:  # the kernel writes it where it belongs
                    left.sendall(payload[filled:filled + take])
                    got = 0
                    while got < take:
                        got += right.recv_into(buffer.space(filled + got, take - got))
                else:
                    lead = rng.randint(0, 7)
                    read: Any = b"x" * lead + payload[filled:filled + take] + b"tail"
                    if rng.random() < 0.5:
                        read = memoryview(bytearray(read))
                    buffer.put(filled, read, lead, take)
                assert buffer.octets(filled, take) == payload[filled:filled + take]
                filled += take
            assert buffer.payload() == payload
    finally:
        left.close()
        right.close()
    buffer = GatheredBuffer(8)
    for offset, read, start, count in ((4, b"12345", 0, 5), (0, b"123", 1, 3), (-1, b"1", 0, 1)):
        with pytest.raises(ValueError):
            buffer.put(offset, read, start, count)
    with pytest.raises(ValueError):
        buffer.space(6, 3)


def _malloc_in_use() -> int:
    """Octets C's allocator has handed out and not had back (glibc's ``mallinfo2``)."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("struct mallinfo2 { size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks,"
             " fordblks, keepcost; }; struct mallinfo2 mallinfo2(void);")
    return ffi.dlopen(None).mallinfo2().uordblks


@pytest.mark.skipif(not (C_LOOP and SCANS), reason="the node's C modules were not built")
def test_reads_handed_to_c_leave_no_copies_behind() -> None:
    """The C unmasker and scanner take each read where it is. On PyPy ``ffi.from_buffer``
    of a bytes object still in the nursery (any read under about 135 KB) copies it into
    C memory that the collector does not count and frees only at a later major
    collection: 64 KiB calls grew a PyPy router's RSS by 1.5 GB in 12 s that way. Here
    1,000 fresh 64 KiB reads through each path would leave 3 x 64 MB behind."""
    data = os.urandom(2 * 65536)
    mask = b"\x01\x02\x03\x04"
    gc.collect()  # a major collection now, none due in the loop: what it leaves stays to be counted
    before = _malloc_in_use()
    for i in range(1000):
        read = data[i % 64:i % 64 + 65536]  # a fresh bytes object, as each socket read is
        NativeMasker(mask).process_checked(read)
        memory = UnmaskedBuffer(mask, 65536)
        memory.unmask(0, read, 0, 65536)
        memory.release()
        scan_message("msgpack", read)
    grown = _malloc_in_use() - before
    assert grown < 16 * MiB, f"{grown / MiB:.0f} MiB of C memory left behind by 1,000 reads of 64 KiB"


def test_validator_ascii_chunks_after_held_back_bytes_agree_with_autobahns() -> None:
    """An all-ASCII chunk is passed without decoding only when nothing is held back:
    after the start of a multi-octet sequence it still fails (or completes) as autobahn's does."""
    cases = [[b"abc", b"\xe2\x82", b"AB"], [b"\xe2", b"\x82\xac", b"xyz"], [b"x" * 70000, b"\xf0\x9f", b"\x98"],
             [b"ok", b"\xed", b"A"], [b"\x7f" * 3, b"plain", b""]]
    for chunks in cases:
        ours, theirs = DecoderUtf8Validator(), Utf8Validator()
        for chunk in chunks:
            expected, got = theirs.validate(chunk), ours.validate(chunk)
            assert got[:2] == expected[:2] and got[3] == expected[3], (chunks, chunk, got, expected)
            if not expected[0]:
                break


@pytest.mark.parametrize("masker_class", NODE_MASKERS)
def test_node_maskers_tell_whether_what_they_unmasked_is_ascii(masker_class: Any) -> None:
    """``process_checked`` (a large text frame's reads on PyPy): the unmasked octets and
    whether all are ASCII, one non-ASCII octet anywhere (in the words or the last 1 to 3)
    making it False."""
    rng = random.Random(17)
    for _ in range(2000):
        mask = bytes(rng.randrange(256) for _ in range(4))
        data = bytearray(rng.randrange(128) for _ in range(rng.randint(0, 40)))
        if data and rng.random() < 0.5:
            data[rng.randrange(len(data))] = rng.randrange(128, 256)
        masker = masker_class(mask)
        skip = rng.randint(0, 5)
        masker.process(b"\0" * skip)
        masked = bytes(byte ^ mask[(i + skip) % 4] for i, byte in enumerate(data))
        assert masker.process_checked(masked) == (bytes(data), bytes(data).isascii())
