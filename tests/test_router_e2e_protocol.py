"""Wire-level protocol rules against a running node: raw WebSocket frames, no WAMP library."""
from __future__ import annotations

import asyncio
import json

import pytest

from conftest import await_until, free_port, router_config, start_node, tcp
from wampclient import raw_websocket, run

HELLO = [1, "realm1", {"roles": {"subscriber": {}, "publisher": {}, "caller": {}, "callee": {}}}]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    port = free_port()
    realms = [{"name": "realm1", "roles": []}, {"name": "strict", "roles": [], "options": {"uri_check": "strict"}}]
    node = start_node(router_config([{"type": "websocket", "endpoint": tcp(port)}], realms),
                      tmp_path_factory.mktemp("router-wire"))
    yield f"ws://127.0.0.1:{port}/"
    node.stop()
    assert "Traceback" not in node.output(), node.output()


async def exchange(url, *messages, wait_close=True):
    """Send JSON messages one by one, each once the one before was answered (every message
    these tests send gets one reply); return (decoded replies, close code or None)."""
    protocol, factory = await raw_websocket(url, ["wamp.2.json"])
    for sent, msg in enumerate(messages, 1):
        if factory.closed.done():
            break
        protocol.sendMessage(json.dumps(msg).encode() if not isinstance(msg, bytes) else msg)
        await await_until(lambda: len(factory.messages) >= sent or factory.closed.done(), 5)
    code = None
    if wait_close:
        code, _ = await asyncio.wait_for(factory.closed, 5)
    elif not factory.closed.done():
        protocol.sendClose()
    return [json.loads(m) for m in factory.messages], code


def abort_of(replies):
    aborts = [r for r in replies if r[0] == 3]
    assert aborts, replies
    return aborts[-1]


@pytest.mark.parametrize("messages, fragment", [
    ([[32, 1, {}, "com.t"]], "before HELLO"),
    ([HELLO, HELLO], "second HELLO"),
    ([HELLO, [999, 1]], "999"),
    ([HELLO, [32, 1, {}]], "SUBSCRIBE"),  # wrong arity
    ([HELLO, [16, "x", {}, "com.t"]], "PUBLISH"),  # wrong type of request id
    ([HELLO, [36, 1, 2, {}]], "EVENT"),  # a router-to-client message from a client
])
def test_protocol_violations_abort_and_close(url, messages, fragment):
    """Each protocol violation gets ABORT wamp.error.protocol_violation saying what was wrong, then close."""
    replies, code = run(exchange(url, *messages))
    abort = abort_of(replies)
    assert abort[2] == "wamp.error.protocol_violation"
    assert fragment in json.dumps(abort[1]) + abort[2], abort


def test_unknown_realm_aborts(url):
    """HELLO for a realm that does not exist gets ABORT wamp.error.no_such_realm."""
    replies, _ = run(exchange(url, [1, "nope", HELLO[2]]))
    assert abort_of(replies)[2] == "wamp.error.no_such_realm"


def test_goodbye_any_reason_gets_goodbye_normal(url):
    """A client GOODBYE with any reason is answered with GOODBYE wamp.close.normal, as Crossbar.io answers."""
    replies, _ = run(exchange(url, HELLO, [6, {}, "com.my.reason"]))
    assert replies[0][0] == 2  # WELCOME
    assert replies[1] == [6, {}, "wamp.close.normal"]


@pytest.mark.parametrize("message", [
    [32, 7, {}, "com..bad"],          # empty component in an exact SUBSCRIBE
    [64, 7, {}, "com.bad uri"],       # whitespace in REGISTER
])
def test_invalid_uri_is_error_not_abort(url, message):
    """A request with an invalid URI gets ERROR wamp.error.invalid_uri and the session stays up."""
    replies, _ = run(exchange(url, HELLO, message, [48, 8, {}, "wamp.session.count"], wait_close=False))
    assert replies[1][:3] == [8, message[0], 7] and replies[1][4] == "wamp.error.invalid_uri", replies
    assert replies[2][0] == 50 and replies[2][1] == 8  # the session still answers calls


@pytest.mark.parametrize("message, success", [
    ([32, 7, {}, "com.Upper.case"], 33),                     # SUBSCRIBE
    ([16, 7, {"acknowledge": True}, "com.dash-topic"], 17),  # PUBLISH
    ([64, 7, {}, "com.example.Proc"], 65),                   # REGISTER
])
def test_invalid_uri_strict_realm(url, message, success):
    """A URI valid under the loose rules succeeds on a loose realm and gets ERROR invalid_uri on a strict one."""
    loose, _ = run(exchange(url, HELLO, message, wait_close=False))
    assert loose[1][0] == success, loose
    strict_hello = [1, "strict", HELLO[2]]
    replies, _ = run(exchange(url, strict_hello, message, [48, 8, {}, "wamp.session.count"], wait_close=False))
    assert replies[1][:3] == [8, message[0], 7] and replies[1][4] == "wamp.error.invalid_uri", replies
    assert replies[2][0] == 50 and replies[2][1] == 8
