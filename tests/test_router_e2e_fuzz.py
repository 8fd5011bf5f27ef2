"""Fuzz: 1,000 malformed or out-of-place WAMP messages against a running node.

While bad sessions keep arriving (json and msgpack over WebSocket), a well-behaved
session publishes and calls; the node must answer every bad session with ABORT or a
close, stay up, and never lose an event or result of the good session.
"""
from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import msgpack
from autobahn.wamp.types import PublishOptions

from conftest import await_until, free_port, router_config, tcp
from wampclient import connect, leave, raw_websocket, run

HELLO = [1, "realm1", {"roles": {"subscriber": {}, "publisher": {}, "caller": {}, "callee": {}}}]
ROUTER_ONLY = [2, 4, 17, 33, 35, 36, 50, 65, 67, 68, 69]
CLIENT_TYPES = [1, 3, 5, 6, 8, 16, 32, 34, 48, 49, 64, 66, 70]
BAD_MESSAGES = 1000


def junk(rng: random.Random):
    return rng.choice([None, True, -1, 2**60, 1.5, "", "x" * rng.randint(1, 40), [], {}, {"a": [1]}, [[]]])


def bad_session(rng: random.Random):
    """(send HELLO first?, one bad message as a Python value or raw bytes)."""
    kind = rng.randrange(7)
    if kind == 0:
        return rng.random() < 0.5, bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    if kind == 1:
        return True, rng.choice([{"not": "a list"}, "string", 42, None, []])
    if kind == 2:
        return True, [rng.randint(100, 10**6)] + [junk(rng) for _ in range(rng.randint(0, 4))]
    if kind == 3:  # a client message type with wrong arity or types
        return True, [rng.choice(CLIENT_TYPES[4:])] + [junk(rng) for _ in range(rng.choice([0, 1, 2, 7]))]
    if kind == 4:  # a message only a router may send
        return True, [rng.choice(ROUTER_ONLY), rng.randint(1, 100), {}, "com.x"][: rng.randint(2, 4)]
    if kind == 5:  # a routing message before HELLO
        return False, rng.choice([[32, 1, {}, "com.t"], [16, 1, {}, "com.t"], [48, 1, {}, "com.p"]])
    return True, HELLO  # a second HELLO


def encode(value, serializer):
    if isinstance(value, bytes):
        return value, True
    if serializer == "json":
        return json.dumps(value).encode(), False
    return msgpack.packb(value), True


def decode(payload, serializer):
    try:
        return json.loads(payload) if serializer == "json" else msgpack.unpackb(payload)
    except Exception:
        return None


async def one_bad_session(url, serializer, hello_first, bad):
    protocol, factory = await raw_websocket(url, [f"wamp.2.{serializer}"])
    if hello_first:
        protocol.sendMessage(*encode(HELLO, serializer))
    protocol.sendMessage(*encode(bad, serializer))
    code, _ = await asyncio.wait_for(factory.closed, 10)
    replies = [decode(p, serializer) for p in factory.messages]
    aborted = any(isinstance(r, list) and r and r[0] == 3 for r in replies)
    return aborted, code


async def good_session(url, stop):
    """Publish and call until told to stop; returns (published, received, calls, results)."""
    sub = await connect(url, serializer="msgpack")
    pub = await connect(url, serializer="json")
    received = []
    await sub.subscribe(received.append, "com.fuzz.topic")
    await sub.register(lambda x: x * 2, "com.fuzz.double")
    sent = calls = 0
    while not stop.is_set():
        await pub.publish("com.fuzz.topic", sent, options=PublishOptions(acknowledge=True))
        sent += 1
        assert await pub.call("com.fuzz.double", calls) == calls * 2
        calls += 1
        await asyncio.sleep(0.01)  # pacing, not a wait: the bad sessions get most of the turns
    await await_until(lambda: len(received) == sent, 2)
    await leave(sub, pub)
    return sent, received, calls


def test_fuzz_bad_sessions_while_good_session_routes(node_factory):
    """1,000 bad sessions are each aborted or closed; the good session loses nothing; the node stays up."""
    port = free_port()
    # The router drops a connection whose closing handshake takes longer than
    # close_handshake_timeout (1 s by default): on a loaded 2-core machine the
    # clients here can be that slow to answer, and the drop would read as 1006.
    # A generous timeout keeps the check below about the router sending a close.
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port),
                                        "options": {"close_handshake_timeout": 10000}}]))
    url = f"ws://127.0.0.1:{port}/"
    rng = random.Random(4)
    cases = [(rng.choice(["json", "msgpack"]),) + bad_session(rng) for _ in range(BAD_MESSAGES)]

    async def scenario():
        stop = asyncio.Event()
        good = asyncio.ensure_future(good_session(url, stop))
        limit = asyncio.Semaphore(16)

        async def guarded(case):
            async with limit:
                return await one_bad_session(url, *case)

        outcomes = await asyncio.gather(*(guarded(c) for c in cases))
        stop.set()
        sent, received, calls = await good
        return outcomes, sent, received, calls

    outcomes, sent, received, calls = run(scenario())
    # every bad session was closed by the router with a close frame (1000 after an ABORT,
    # 1002 for a protocol error), none dropped (1006) or left open (a TimeoutError)
    assert {code for _, code in outcomes} <= {1000, 1002}, Counter(code for _, code in outcomes)
    assert sum(aborted for aborted, _ in outcomes) > BAD_MESSAGES * 0.9  # most were told why with an ABORT before the close
    assert sent > 10 and calls == sent
    assert received == list(range(sent))
    output = node.output()
    assert node.proc.poll() is None and "Traceback" not in output
