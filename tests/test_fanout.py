"""Fan-out (issue 17): every subscriber gets every event, in publish order, intact.

Real nodes started from the CLI, real clients on 127.0.0.1:

- 1,000 autobahn-python sessions (one asyncio loop) subscribed to one topic get
  every event of a run published by one session, each in publish order;
- a 1 MiB event published to 10 subscribers arrives intact in each, whatever
  serializer (JSON, msgpack, CBOR) and transport (WebSocket, RawSocket) each uses,
  several events in a row in order (the router encodes one EVENT per serializer and
  frames it once per transport kind: each subscriber must still get its own bytes);
- a subscriber that keeps reading a stream of large events, more in all than
  ``max_outgoing_buffer`` while the router's buffer to it never empties, is not
  dropped: the limit is on the bytes waiting, not on the bytes sent while some wait.
"""
from __future__ import annotations

import asyncio
import json
import socket
from typing import Any, Dict, List

import pytest
from autobahn.wamp.types import PublishOptions

from conftest import await_until, free_port, router_config, start_node, tcp
from wampclient import connect, leave, run
from wsraw import RawWebSocket, fast_frame

MiB = 1024 * 1024
SUBSCRIBERS = 1000
EVENTS = 60  # 60,000 deliveries
CONNECTING = 50  # sessions opening at once


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """WebSocket and RawSocket transports taking messages up to 4 MiB."""
    base = tmp_path_factory.mktemp("fanout")
    ports = {"ws": free_port(), "rs": free_port()}
    config = router_config([
        {"type": "websocket", "endpoint": tcp(ports["ws"]), "serializers": ["json", "msgpack", "cbor"],
         "options": {"max_message_size": 4 * MiB, "max_frame_size": 4 * MiB}},
        {"type": "rawsocket", "endpoint": tcp(ports["rs"]), "serializers": ["json", "msgpack", "cbor"],
         "max_message_size": 4 * MiB},
    ])
    running = start_node(config, base / "cbdir")
    running.urls = {"ws": f"ws://127.0.0.1:{ports['ws']}/", "rs": f"rs://127.0.0.1:{ports['rs']}/"}
    running.ports = ports
    yield running
    running.stop()
    assert "Traceback" not in running.output(), running.output()


def test_thousand_subscribers_get_every_event_in_order(node: Any) -> None:
    """1,000 subscribers each receive all EVENTS events of one publisher, in publish order."""
    url = node.urls["ws"]

    async def scenario() -> Dict[int, List[int]]:
        received: Dict[int, List[int]] = {i: [] for i in range(SUBSCRIBERS)}
        sessions: List[Any] = []

        async def subscriber(index: int) -> Any:
            session = await connect(url)
            await session.subscribe(lambda seq, _text, index=index: received[index].append(seq), "fan.out")
            return session

        for start in range(0, SUBSCRIBERS, CONNECTING):
            batch = range(start, min(SUBSCRIBERS, start + CONNECTING))
            sessions += await asyncio.gather(*[subscriber(i) for i in batch])
        publisher = await connect(url)
        for seq in range(EVENTS):
            publisher.publish("fan.out", seq, f"event {seq}")
        # the last one acknowledged: every earlier PUBLISH on this connection was routed before it
        await publisher.publish("fan.out.done", options=PublishOptions(acknowledge=True))
        await await_until(lambda: all(len(seqs) >= EVENTS for seqs in received.values()), 45)
        await leave(publisher, *sessions)
        return received

    received = asyncio.run(asyncio.wait_for(scenario(), 150))
    short = {i: len(seqs) for i, seqs in received.items() if len(seqs) != EVENTS}
    assert not short, f"{len(short)} subscribers did not get {EVENTS} events, e.g. {list(short.items())[:5]}"
    wrong = [i for i, seqs in received.items() if seqs != list(range(EVENTS))]
    assert not wrong, f"{len(wrong)} subscribers got the events out of order, e.g. {received[wrong[0]][:20]}"


def payload(size: int, salt: int) -> str:
    """``size`` characters that differ from event to event and are not one repeated
    byte (a cut or shifted copy would not compare equal), with non-ASCII ones."""
    unit = "".join(chr(0x20 + (i * 7 + salt) % 90) for i in range(997)) + f"κόσμε€{salt}"
    return (unit * (size // len(unit) + 1))[:size]


def test_one_mib_event_reaches_ten_subscribers_intact(node: Any) -> None:
    """A 1 MiB event reaches 10 subscribers (JSON, msgpack, CBOR; WebSocket and RawSocket) intact, in order."""
    kinds = [("ws", "json")] * 4 + [("ws", "msgpack"), ("ws", "cbor"), ("rs", "json"), ("rs", "json"),
                                     ("rs", "msgpack"), ("rs", "cbor")]
    rounds = 3
    events = [payload(MiB, salt) for salt in range(rounds)]

    async def scenario() -> List[List[Any]]:
        received: List[List[Any]] = [[] for _ in kinds]
        subscribers = []
        for index, (transport, serializer) in enumerate(kinds):
            session = await connect(node.urls[transport], serializer=serializer)
            await session.subscribe(lambda seq, text, index=index: received[index].append((seq, text)), "fan.big")
            subscribers.append(session)
        publisher = await connect(node.urls["ws"])
        for seq, text in enumerate(events):
            await publisher.publish("fan.big", seq, text, options=PublishOptions(acknowledge=True))
        await await_until(lambda: all(len(got) >= rounds for got in received), 30)
        await leave(publisher, *subscribers)
        return received

    received = run(scenario())
    for (transport, serializer), got in zip(kinds, received):
        assert [seq for seq, _ in got] == list(range(rounds)), f"{transport}/{serializer}: {[s for s, _ in got]}"
        for seq, text in got:
            assert text == events[seq], f"{transport}/{serializer}: event {seq} arrived changed"


def test_steady_reader_of_more_than_max_outgoing_buffer_is_kept(tmp_path: Any) -> None:
    """A subscriber that keeps reading 24 MB of events, while the router's buffer to it
    never empties, is not dropped at max_outgoing_buffer (6 MiB) and gets them all.

    The reader takes 1 MB events with at most 6 unread: more than the kernel buffers
    of one connection hold (the sender's at most ``tcp_wmem`` max, 4 MiB here, the
    reader's 64 KiB), so some always wait in the router, about 2 MB, never 6 MiB."""
    port = free_port()
    node = start_node(router_config([{"type": "websocket", "endpoint": tcp(port),
                                      "options": {"max_outgoing_buffer": 6 * MiB}}]), tmp_path / "cbdir")
    try:
        size, window, count = 1_000_000, 6, 24
        reader = RawWebSocket(port, protocols=["wamp.2.json"])
        reader.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # no receive autotuning
        publisher = RawWebSocket(port, protocols=["wamp.2.json"])
        for client in (reader, publisher):
            client.send(fast_frame(1, json.dumps([1, "realm1", {"roles": {"subscriber": {}, "publisher": {}}}])
                                   .encode()))
            assert json.loads(client.read_frame()[2])[0] == 2  # WELCOME
        reader.send(fast_frame(1, json.dumps([32, 1, {}, "steady"]).encode()))
        assert json.loads(reader.read_frame()[2])[0] == 33  # SUBSCRIBED
        text = "y" * size

        def publish(seq: int) -> None:
            publisher.send(fast_frame(1, json.dumps([16, seq + 1, {}, "steady", [seq, text]]).encode()))

        for seq in range(window):
            publish(seq)
        for seq in range(count):
            fin, opcode, data = reader.read_frame()
            assert opcode == 1, f"event {seq}: opcode {opcode} ({data[:2].hex()} {data[2:]!r}): dropped"
            message = json.loads(data)
            assert message[0] == 36 and message[4] == [seq, text], f"event {seq}: {str(message)[:200]}"
            if seq + window < count:
                publish(seq + window)  # the next one only now: never more than the window unread
        assert "max_outgoing_buffer" not in node.output(), node.output()
        reader.close()
        publisher.close()
    finally:
        node.stop()
