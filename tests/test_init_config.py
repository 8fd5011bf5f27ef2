"""The config `wampnode init` writes is safe for anonymous visitors (issue 19, finding 14).

The node starts from exactly what `init` wrote (only the ports moved to free ones);
anonymous clients keep pub/sub and RPC, but cannot end other sessions nor read
other peers' addresses through the session meta API.
"""
from __future__ import annotations

import asyncio
import json

import pytest
from autobahn.wamp.exception import ApplicationError

from conftest import free_port, run_cli, start_node
from wampclient import connect, leave, run

NOT_AUTHORIZED = "wamp.error.not_authorized"


@pytest.fixture
def init_node(tmp_path):
    result = run_cli("init", "--appdir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    cbdir = tmp_path / ".crossbar"
    config = json.loads((cbdir / "config.json").read_text())
    ports = []
    for transport in config["workers"][0]["transports"]:
        transport["endpoint"]["port"] = port = free_port()
        transport["endpoint"]["interface"] = "127.0.0.1"
        ports.append(port)
    node = start_node(config, cbdir)
    try:
        yield f"ws://127.0.0.1:{ports[0]}/ws"
    finally:
        node.stop()


async def _refused(awaitable) -> str:
    with pytest.raises(ApplicationError) as refused:
        await awaitable
    return refused.value.error


def test_anonymous_cannot_kill_sessions_or_read_peer_addresses(init_node):
    url = init_node

    async def scenario():
        victims = [await connect(url) for _ in range(3)]
        visitor = await connect(url)
        try:
            assert await _refused(visitor.call("wamp.session.kill_by_authrole", "anonymous")) == NOT_AUTHORIZED
            assert await _refused(visitor.call("wamp.session.kill", victims[0]._session_id)) == NOT_AUTHORIZED
            assert await _refused(visitor.call("wamp.session.kill_by_authid", "anonymous")) == NOT_AUTHORIZED
            assert await _refused(visitor.call("wamp.session.get", victims[0]._session_id)) == NOT_AUTHORIZED
            assert await _refused(visitor.subscribe(lambda *a: None, "wamp.session.on_join")) == NOT_AUTHORIZED
            assert await visitor.call("wamp.session.count") == 4
            assert victims[0]._session_id in await visitor.call("wamp.session.list")
            assert all(v.is_attached() for v in victims)
            # the application itself still works for anonymous visitors
            await victims[1].register(lambda x: x * 2, "com.example.double")
            assert await visitor.call("com.example.double", 21) == 42
            seen = asyncio.get_event_loop().create_future()
            await victims[2].subscribe(lambda x: seen.set_result(x), "com.example.news")
            visitor.publish("com.example.news", "hello", options=None)
            assert await asyncio.wait_for(seen, 5) == "hello"
        finally:
            await leave(visitor, *victims)

    run(scenario())
