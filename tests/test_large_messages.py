"""Large messages (issue 17): 1 MiB and 16 MiB calls arrive intact, invalid UTF-8 still fails.

The node validates the UTF-8 of WebSocket text messages with the interpreter's
decoder (node/fastpath/websocket_frames.py, ``DecoderUtf8Validator``) instead of
autobahn's validator, and streams large frames through autobahn's reader. Here:

- a 1 MiB and a (nearly) 16 MiB call round trip over ws, wss and RawSocket on a node
  whose ``max_message_size`` (and WebSocket ``max_frame_size``) is raised to 16 MiB: the callee sees the caller's bytes
  and the caller gets the callee's result, each byte intact (RawSocket caps a message
  at 16 MiB, so the largest payload leaves room for the WAMP envelope);
- a large text message with invalid UTF-8 gets close code 1007, whole or fragmented,
  and a fragmented one is failed as soon as the bad byte arrives (its final fragment
  is never sent);
- the validator agrees with autobahn's on every chunk of random, randomly split input
  (which chunk makes a message invalid, and whether a valid one ends on a code point).
"""
from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from autobahn.websocket.utf8validator import Utf8Validator

from conftest import free_port, router_config, start_node, tcp
from node.fastpath.utf8 import DecoderUtf8Validator
from pki import make_pki
from wampclient import TIMEOUT, connect, leave, raw_websocket, run

MiB = 1024 * 1024
LIMIT = 16 * MiB


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """ws, wss and RawSocket transports, each accepting messages up to 16 MiB."""
    base = tmp_path_factory.mktemp("large")
    pki = make_pki(base / "pki")
    ports = {"ws": free_port(), "wss": free_port(), "rs": free_port()}
    options = {"max_message_size": LIMIT, "max_frame_size": LIMIT}
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt)}
    config = router_config([
        {"type": "websocket", "endpoint": tcp(ports["ws"]), "options": options},
        {"type": "websocket", "endpoint": tcp(ports["wss"], tls=tls), "options": options},
        {"type": "rawsocket", "endpoint": tcp(ports["rs"]), "serializers": ["json", "msgpack"],
         "max_message_size": LIMIT},
    ])
    running = start_node(config, base / "cbdir")
    running.urls = {"ws": f"ws://127.0.0.1:{ports['ws']}/", "wss": f"wss://127.0.0.1:{ports['wss']}/",
                    "rs": f"rs://127.0.0.1:{ports['rs']}/"}
    running.cafile = str(pki.root_crt)
    yield running
    running.stop()
    assert "Traceback" not in running.output(), running.output()


def payload(size: int) -> str:
    """Text of ``size`` characters that is not one repeated byte (a shifted or cut
    copy would not compare equal), with non-ASCII characters in it."""
    unit = "".join(chr(0x20 + (i * 7) % 90) for i in range(997)) + "κόσμε€"
    return (unit * (size // len(unit) + 1))[:size]


def largest_payload(limit: int) -> int:
    """The most characters of :func:`payload` whose JSON text fits ``limit`` octets
    with room for the envelope ``[48, id, {}, "procedure", [...]]``."""
    size = limit
    while True:
        encoded = len(json.dumps(payload(size), ensure_ascii=False).encode())
        if encoded <= limit - 4096:
            return size
        size -= encoded - (limit - 4096)


HUGE = largest_payload(LIMIT)


def round_trip(node: Any, transport: str, size: int, serializer: str = "json") -> None:
    async def scenario() -> None:
        url = node.urls[transport]
        callee = await connect(url, serializer=serializer, cafile=node.cafile)
        caller = await connect(url, serializer=serializer, cafile=node.cafile)
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


@pytest.mark.parametrize("transport", ["ws", "wss", "rs"])
def test_1mib_call_round_trip_is_intact(node: Any, transport: str) -> None:
    round_trip(node, transport, MiB)


def test_1mib_call_round_trip_with_msgpack_is_intact(node: Any) -> None:
    round_trip(node, "ws", MiB, "msgpack")


@pytest.mark.parametrize("transport", ["ws", "wss", "rs"])
def test_16mib_call_round_trip_is_intact(node: Any, transport: str) -> None:
    assert HUGE > 15.5 * MiB
    round_trip(node, transport, HUGE)


def closes_with(node: Any, send: Any) -> Any:
    """The close code after ``send(protocol)`` on a plain wamp.2.json WebSocket."""
    async def scenario() -> Any:
        protocol, factory = await raw_websocket(node.urls["ws"], ["wamp.2.json"])
        send(protocol)
        code, _reason = await asyncio.wait_for(factory.closed, TIMEOUT)
        return code

    return run(scenario())


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
