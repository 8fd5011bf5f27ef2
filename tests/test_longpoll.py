"""The ``longpoll`` web path: WAMP over HTTP long-poll, with npm ``autobahn``'s long-poll transport,
autobahn-python over WebSocket on the other side, and plain HTTP requests for what clients do wrong.

The browser side (autobahn-browser in headless Chromium) is tests/test_longpoll_browser.py.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Dict, List, Optional, Tuple

import pytest

from conftest import await_until, free_port, router_config, run_cli, tcp
from longpollkit import RawLongPoll, js_line, post, run_js
from wampclient import connect, leave, run


def longpoll_config(port: int, options: Optional[Dict[str, Any]] = None, auth: Optional[Dict[str, Any]] = None,
                    web_options: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    lp: Dict[str, Any] = {"type": "longpoll", "options": options or {}}
    if auth is not None:
        lp["auth"] = auth
    web: Dict[str, Any] = {"type": "web", "endpoint": tcp(port), "paths": {"ws": {"type": "websocket"}, "lp": lp}}
    if web_options:
        web["options"] = web_options
    realm = {"name": "realm1", "roles": [{"name": "anonymous", "permissions": [
        {"uri": "", "match": "prefix", "allow": {"call": True, "register": True, "publish": True,
                                                 "subscribe": True}}]}]}
    return router_config([web], realms=[realm])


def assert_clean(node: Any) -> None:
    output = node.output()
    assert node.proc.poll() is None and "Traceback" not in output, output


async def exchange(lp_url: str, ws_url: str, prefix: str) -> Tuple[Dict[str, Any], List[Any], int]:
    """npm autobahn over long-poll at ``lp_url``, autobahn-python over WebSocket at ``ws_url``: each calls
    the other's procedure and publishes to the other (longpoll_client.mjs's ``exchange``)."""
    from autobahn.wamp.types import PublishOptions

    ws = await connect(ws_url)
    got: asyncio.Future = asyncio.get_running_loop().create_future()
    await ws.register(lambda a, b: a * b, f"{prefix}.py.mul")
    await ws.subscribe(lambda *args: got.done() or got.set_result(list(args)), f"{prefix}.to_py")
    proc = await run_js({"WAMP_URL": lp_url, "WAMP_PREFIX": prefix})
    try:
        ready = await js_line(proc)
        deadline = time.monotonic() + 10  # on another node the registration takes a moment to arrive
        while await ws.call("wamp.registration.lookup", f"{prefix}.lp.add") is None:
            assert time.monotonic() < deadline, "the long-poll session's registration never showed"
            await asyncio.sleep(0.05)
        total = await ws.call(f"{prefix}.lp.add", 2, 3)
        await ws.publish(f"{prefix}.to_lp", "hello long-poll", options=PublishOptions(acknowledge=True))
        event = await asyncio.wait_for(got, 20)
        summary = await js_line(proc)
        assert await asyncio.wait_for(proc.wait(), 20) == 0, (await proc.stderr.read()).decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert summary["session"] == ready["ready"]
    await leave(ws)
    return summary, event, total


def check_exchange(result: Tuple[Dict[str, Any], List[Any], int]) -> None:
    summary, event, total = result
    assert total == 5
    assert event == [42, "hello long-poll"]
    assert summary["product"] == 42 and summary["event"] == ["hello long-poll"]
    assert summary["authrole"] == "anonymous"


def test_autobahn_js_longpoll_and_websocket_sessions_route_to_each_other(node_factory):
    """npm autobahn over long-poll and autobahn-python over WebSocket: each calls the other's procedure,
    each gets the other's event."""
    port = free_port()
    node = node_factory(longpoll_config(port))
    check_exchange(run(exchange(f"http://127.0.0.1:{port}/lp", f"ws://127.0.0.1:{port}/ws", "com.lp.exchange")))
    assert_clean(node)


def test_longpoll_session_on_one_node_and_websocket_session_on_another(node_factory, nats_server):
    """Two nodes joined through NATS are one router: the long-poll session on one and the WebSocket
    session on the other call each other and get each other's events."""
    ports = [free_port(), free_port()]
    nodes = []
    for port in ports:
        config = longpoll_config(port)
        config["workers"][0]["options"] = {"backplane": {"type": "nats", "url": nats_server}}
        nodes.append(node_factory(config))
    check_exchange(run(exchange(f"http://127.0.0.1:{ports[0]}/lp", f"ws://127.0.0.1:{ports[1]}/ws",
                                "com.lp.cluster")))
    for node in nodes:
        assert_clean(node)


def test_longpoll_needs_a_single_router_process(tmp_path):
    """With processes: 2 a long-poll client's requests could reach either process: refused in one line."""
    config = longpoll_config(free_port())
    config["workers"][0]["transports"][0]["endpoint"]["shared"] = True
    config["workers"][0]["options"] = {"processes": 2}
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = run_cli("check", "--cbdir", str(tmp_path))
    assert result.returncode == 2
    assert ("workers[0].transports[0].paths.lp: a long-poll client's requests must all reach one process, "
            "and 2 router processes share this port") in result.stderr
    assert "Traceback" not in result.stderr


def test_client_that_stops_polling_is_dropped_after_session_timeout(node_factory):
    """A long-poll client gone silent keeps its registration until session_timeout, then its session
    ends: the registration vanishes, its testament is published and the router says it left."""
    port = free_port()
    node = node_factory(longpoll_config(port, {"session_timeout": 2, "request_timeout": 1}))
    prefix = "com.lp.stall"

    async def scenario() -> Tuple[float, float, List[Any], int, int]:
        ws = await connect(f"ws://127.0.0.1:{port}/ws")
        loop = asyncio.get_running_loop()
        testament: asyncio.Future = loop.create_future()
        left: asyncio.Future = loop.create_future()
        await ws.subscribe(lambda *args: testament.done() or testament.set_result(list(args)), f"{prefix}.testament")
        await ws.subscribe(lambda session, *rest: left.done() or left.set_result(session), "wamp.session.on_leave")
        proc = await run_js({"WAMP_URL": f"http://127.0.0.1:{port}/lp", "WAMP_PREFIX": prefix,
                             "WAMP_MODE": "stall"})
        ready = await js_line(proc)
        assert await asyncio.wait_for(proc.wait(), 20) == 0, (await proc.stderr.read()).decode()
        stopped = time.monotonic()
        registration = await ws.call("wamp.registration.lookup", f"{prefix}.stall")
        assert registration is not None  # still there: the client has not been silent long enough
        deadline = stopped + 15
        while await ws.call("wamp.registration.lookup", f"{prefix}.stall") is not None:
            assert time.monotonic() < deadline, "the silent client's registration never vanished"
            await asyncio.sleep(0.1)
        vanished = time.monotonic() - stopped
        args = await asyncio.wait_for(testament, 10)
        session = await asyncio.wait_for(left, 10)
        await leave(ws)
        return vanished, stopped, args, session, ready["ready"]

    vanished, _, args, session, ready = run(scenario())
    assert 1.5 <= vanished <= 6, vanished  # session_timeout 2 s, not the moment the client stopped
    assert args == ["gone"]
    assert session == ready
    assert "no request for" in node.output() and "session_timeout 2 s" in node.output()
    assert_clean(node)


@pytest.mark.parametrize("limit", [{"queue_limit_messages": 3}, {"queue_limit_bytes": 300}])
def test_client_letting_its_queue_overflow_is_dropped(node_factory, limit):
    """Events pile up for a subscriber that does not poll; past a queue limit it is dropped (404)."""
    port = free_port()
    node = node_factory(longpoll_config(port, dict(limit, request_timeout=1)))
    raw = RawLongPoll(port)
    raw.join()
    assert raw.send([32, 1, {}, "com.lp.queue"]) == 204
    status, subscribed = raw.receive()
    assert status == 200 and subscribed[0] == 33

    async def publish() -> None:
        from autobahn.wamp.types import PublishOptions

        ws = await connect(f"ws://127.0.0.1:{port}/ws")
        for i in range(3):  # within both limits (each event is about 60 octets)
            await ws.publish("com.lp.queue", i, options=PublishOptions(acknowledge=True))
        await ws.call("wamp.session.count")  # a round trip: the events were routed
        status, event = raw.receive()
        assert status == 200 and event[0] == 36 and event[4] == [0]
        for i in range(3, 10):
            await ws.publish("com.lp.queue", "x" * 40, options=PublishOptions(acknowledge=True))
        assert await await_until(lambda: "Dropping long-poll transport" in node.output())
        await leave(ws)

    run(publish())
    status, body = raw.receive()
    assert status == 404, body
    assert "over queue_limit_messages" in node.output()
    assert_clean(node)


def test_malformed_requests_get_4xx_and_the_node_carries_on(node_factory):
    """Every way of getting the protocol wrong is a 4xx with a one-line reason; then a session still works."""
    port = free_port()
    node = node_factory(longpoll_config(port, {"allowed_origins": ["https://app.example"], "max_transports": 2},
                                        web_options={"max_request_body": 1000}))
    status, body, _ = post(port, "/lp", method="GET")
    assert status == 200 and b"WAMP-over-Longpoll" in body
    cases = [
        ("/lp/open", b"{not json", "POST", {}, 400, b"no JSON"),
        ("/lp/open", b"[1, 2]", "POST", {}, 400, b"protocols"),
        ("/lp/open", b'{"protocols": ["wamp.2.xml"]}', "POST", {}, 400, b"no common WAMP protocol"),
        ("/lp/open", b'{"protocols": ["wamp.2.json"]}', "PUT", {}, 405, b"only POST"),
        ("/lp/nosuchtransport/send", b"[1]", "POST", {}, 404, b"no long-poll transport"),
        ("/lp/open/extra/segments", b"", "POST", {}, 404, b"not a long-poll URL"),
        ("/lp/open", b'{"protocols": ["wamp.2.json"]}', "POST", {"Origin": "https://evil.example"}, 403,
         b"not allowed"),
        ("/lp/open", b'{"protocols": ["' + b"x" * 2000 + b'"]}', "POST", {}, 413, b""),
    ]
    for path, body, method, headers, code, text in cases:
        status, answer, _ = post(port, path, body, method, headers)
        assert status == code and text in answer, (path, method, status, answer)
        assert answer.count(b"\n") <= 1 or code == 413, answer
    # an allowed origin gets CORS headers with credentials
    status, body, headers = post(port, "/lp/open", b'{"protocols": ["wamp.2.json"]}',
                                 headers={"Origin": "https://app.example"})
    assert status == 200 and headers["access-control-allow-origin"] == "https://app.example"
    assert headers["access-control-allow-credentials"] == "true"
    # a message that is no WAMP: 400, and the session ends with ABORT for its last receive
    raw = RawLongPoll(port)
    raw.join()
    status, answer, _ = post(port, f"{raw.base}/send", b"[999, {}]")
    assert status == 400 and b"could not decode" in answer
    status, abort = raw.receive()
    assert status == 200 and abort[0] == 3 and abort[2] == "wamp.error.protocol_violation"
    assert raw.receive()[0] == 404
    # max_transports 2: the first transport is still open (never joined; hello_timeout 10 s), one more fits
    RawLongPoll(port)
    status, answer, _ = post(port, "/lp/open", b'{"protocols": ["wamp.2.json"]}')
    assert status == 503 and b"max_transports" in answer
    # the node carries on: WebSocket sessions are served as before
    run(_ws_roundtrip(port))
    assert_clean(node)


async def _ws_roundtrip(port: int) -> None:
    ws = await connect(f"ws://127.0.0.1:{port}/ws")
    assert await ws.call("wamp.session.count") >= 1
    await leave(ws)


def test_longpoll_session_authenticates_with_the_paths_auth(node_factory):
    """A long-poll path with ticket auth: the right ticket joins with its role, a wrong one is refused."""
    port = free_port()
    auth = {"ticket": {"type": "static", "principals": {"joe": {"ticket": "secret!", "role": "anonymous"}}}}
    node = node_factory(longpoll_config(port, auth=auth))
    for ticket, expected in (("secret!", 2), ("wrong", 3)):
        raw = RawLongPoll(port)
        assert raw.send([1, "realm1", {"roles": {"caller": {}}, "authmethods": ["ticket"], "authid": "joe"}]) == 204
        status, challenge = raw.receive()
        assert status == 200 and challenge[0] == 4 and challenge[1] == "ticket", challenge
        assert raw.send([5, ticket, {}]) == 204
        status, answer = raw.receive()
        assert status == 200 and answer[0] == expected, answer
        if expected == 2:
            assert answer[2]["authid"] == "joe" and answer[2]["authrole"] == "anonymous"
            assert answer[2]["authmethod"] == "ticket"
            assert raw.send([6, {}, "wamp.close.normal"]) == 204
            assert raw.receive()[1][0] == 6
    assert_clean(node)
