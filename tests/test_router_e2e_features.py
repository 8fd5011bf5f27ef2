"""Advanced Profile features through a running node, with autobahn-python clients.

One node (started from the CLI) serves every test in this module; each test uses
two or more sessions so that the router really routes, over json, msgpack and cbor.
"""
from __future__ import annotations

import asyncio

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, PublishOptions, RegisterOptions, SubscribeOptions

from conftest import await_until, free_port, router_config, start_node, tcp
from wampclient import connect, leave, run

SERIALIZERS = ["json", "msgpack", "cbor"]


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    port = free_port()
    realms = [{"name": "realm1", "roles": [],
               "store": {"type": "memory", "event-history": [{"uri": "com.hist", "match": "exact", "limit": 3}]}}]
    node = start_node(router_config([{"type": "websocket", "endpoint": tcp(port)}], realms),
                      tmp_path_factory.mktemp("router-e2e"))
    yield f"ws://127.0.0.1:{port}/"
    node.stop()
    assert "Traceback" not in node.output(), node.output()


def collector():
    queue: asyncio.Queue = asyncio.Queue()

    def handler(*args, **kwargs):
        queue.put_nowait((args, kwargs))

    return queue, handler


async def next_item(queue, timeout=5):
    return await asyncio.wait_for(queue.get(), timeout)


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_pattern_subscriptions_and_publisher_options(url, serializer):
    """Prefix/wildcard subscriptions get events with their topic; exclude_me, exclude and eligible filter."""
    async def scenario():
        a = await connect(url, serializer=serializer)
        b = await connect(url, serializer=serializer)
        c = await connect(url, serializer=serializer)
        qa, ha = collector()
        qc, hc = collector()
        await a.subscribe(lambda *args, details=None: ha(details.topic, *args), "com.pfx.",
                          options=SubscribeOptions(match="prefix", details_arg="details"))
        await c.subscribe(hc, "com..wild", options=SubscribeOptions(match="wildcard"))
        await b.publish("com.pfx.one", 1, options=PublishOptions(acknowledge=True))
        assert await next_item(qa) == (("com.pfx.one", 1), {})
        await b.publish("com.x.wild", 2, options=PublishOptions(acknowledge=True))
        assert await next_item(qc) == ((2,), {})
        await a.subscribe(ha, "com.pfx.self")
        await a.publish("com.pfx.self", 3, options=PublishOptions(acknowledge=True, exclude_me=False))
        got = [await next_item(qa), await next_item(qa)]
        assert sorted(map(repr, got)) == sorted(map(repr, [(("com.pfx.self", 3), {}), ((3,), {})]))
        await b.publish("com.pfx.two", 4, options=PublishOptions(acknowledge=True, exclude=[a._session_id]))
        await b.publish("com.pfx.two", 5, options=PublishOptions(acknowledge=True, eligible=[a._session_id]))
        assert await next_item(qa) == (("com.pfx.two", 5), {})
        assert qa.empty()
        await leave(a, b, c)

    run(scenario())


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_retained_event_and_history(url, serializer):
    """A retained event reaches a late subscriber; wamp.subscription.get_events returns the history."""
    async def scenario():
        pub = await connect(url, serializer=serializer)
        await pub.publish("com.retained", "state-1", options=PublishOptions(retain=True, acknowledge=True))
        for i in range(5):
            await pub.publish("com.hist", i, options=PublishOptions(acknowledge=True))
        sub = await connect(url, serializer=serializer)
        q, h = collector()
        await sub.subscribe(h, "com.retained", options=SubscribeOptions(get_retained=True))
        assert await next_item(q) == (("state-1",), {})
        subscription = await sub.subscribe(h, "com.hist")
        history = await sub.call("wamp.subscription.get_events", subscription.id)
        assert [e["args"] for e in history] == [[2], [3], [4]]
        await leave(pub, sub)

    run(scenario())


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_shared_registration_roundrobin_and_disclosure(url, serializer):
    """roundrobin alternates between callees; in an open realm the caller is disclosed to the callee."""
    async def scenario():
        callees = [await connect(url, serializer=serializer) for _ in range(2)]
        caller = await connect(url, serializer=serializer)
        for i, callee in enumerate(callees):
            await callee.register(lambda i=i, details=None: [i, details.caller], f"com.rr.{serializer}",
                                  options=RegisterOptions(invoke="roundrobin", details_arg="details"))
        answers = [await caller.call(f"com.rr.{serializer}") for _ in range(4)]
        assert [a[0] for a in answers] == [0, 1, 0, 1]
        assert {a[1] for a in answers} == {caller._session_id}
        await leave(caller, *callees)

    run(scenario())


@pytest.mark.parametrize("serializer", SERIALIZERS)
def test_progressive_results_timeout_and_cancel(url, serializer):
    """Progressive results arrive in order; a router timeout and a CANCEL both end in wamp.error.canceled."""
    async def scenario():
        callee = await connect(url, serializer=serializer)
        caller = await connect(url, serializer=serializer)

        async def progressive(n, details=None):
            for i in range(n):
                details.progress(i)
            return "done"

        invoked: list = []
        interrupted: list = []

        async def slow():
            invoked.append(True)
            try:
                await asyncio.sleep(30)  # the behaviour under test: a callee that outlasts the call
            except asyncio.CancelledError:
                interrupted.append(True)
                raise
            return "too late"

        await callee.register(progressive, f"com.prog.{serializer}", options=RegisterOptions(details_arg="details"))
        await callee.register(slow, f"com.slow.{serializer}")
        seen = []
        result = await caller.call(f"com.prog.{serializer}", 3, options=CallOptions(on_progress=seen.append))
        assert (seen, result) == ([0, 1, 2], "done")
        with pytest.raises(ApplicationError) as info:
            await caller.call(f"com.slow.{serializer}", options=CallOptions(timeout=300))
        assert info.value.error == "wamp.error.canceled"
        assert await await_until(lambda: len(interrupted) == 1, 5)  # the timeout interrupted the callee
        call = asyncio.ensure_future(caller.call(f"com.slow.{serializer}"))
        assert await await_until(lambda: len(invoked) == 2, 5)  # the call reached the callee
        call.cancel()
        with pytest.raises((asyncio.CancelledError, ApplicationError)):
            await call
        assert await await_until(lambda: len(interrupted) == 2, 5)  # the CANCEL interrupted the callee
        await leave(caller, callee)

    run(scenario())


def test_callee_disconnect_answers_pending_call(url):
    """A caller waiting on a callee that disconnects gets an error promptly, never a hang."""
    async def scenario():
        callee = await connect(url)
        caller = await connect(url)
        started = asyncio.get_event_loop().create_future()

        async def hang():
            started.set_result(True)
            await asyncio.sleep(30)  # the behaviour under test: a callee that never answers

        await callee.register(hang, "com.hang")
        call = asyncio.ensure_future(caller.call("com.hang"))
        await asyncio.wait_for(started, 5)
        callee._transport.close()
        with pytest.raises(ApplicationError) as info:
            await asyncio.wait_for(call, 5)
        assert info.value.error == "wamp.error.canceled"
        await leave(caller)

    run(scenario())


def test_meta_api_and_testament(url):
    """Meta procedures describe sessions and registrations; a testament fires when its session goes."""
    async def scenario():
        watcher = await connect(url)
        other = await connect(url, authid="bob")
        info = await watcher.call("wamp.session.get", other._session_id)
        assert info["authid"] == "bob" and info["authrole"] == "anonymous"
        assert other._session_id in await watcher.call("wamp.session.list")
        reg = await other.register(lambda: 1, "com.meta.p")
        assert await watcher.call("wamp.registration.lookup", "com.meta.p") == reg.id
        assert await watcher.call("wamp.registration.list_callees", reg.id) == [other._session_id]
        q, h = collector()
        await watcher.subscribe(h, "com.testament")
        leaves, on_leave = collector()
        await watcher.subscribe(on_leave, "wamp.session.on_leave")
        await other.call("wamp.session.add_testament", "com.testament", ["gone"], {"who": "bob"})
        other_id = other._session_id
        other._transport.close()
        assert await next_item(q) == (("gone",), {"who": "bob"})
        assert (await next_item(leaves))[0][0] == other_id
        assert await watcher.call("wamp.registration.lookup", "com.meta.p") is None
        await leave(watcher)

    run(scenario())
