"""Pattern subscriptions and registrations reach no further than the role (issue 19, finding 3),
through a running node with autobahn-python clients.

The issue's reproduction: an exact permission on ``com.example.allowed`` let a prefix
subscription receive ``com.example.allowed.admin`` and ``com.example.allowedX``, and a
prefix registration capture another role's calls to them; an exact deny on
``com.example.pub.secret`` was bypassed by a prefix or wildcard subscription to
``com.example.pub.`` and by ``get_retained``.
"""
from __future__ import annotations

import asyncio

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, RegisterOptions, SubscribeOptions

from conftest import free_port, router_config, start_node, tcp
from wampclient import TIMEOUT, connect, leave, run

ALLOWED = "com.example.allowed"


def perm(uri, match="exact", **allow):
    return {"uri": uri, "match": match, "allow": allow}


ROLES = [
    {"name": "backend", "permissions": [
        perm("", "prefix", call=True, register=True, publish=True, subscribe=True)]},
    {"name": "limited", "permissions": [perm(ALLOWED, call=True, register=True, subscribe=True)]},
    {"name": "reader", "permissions": [
        perm("com.example.pub.", "prefix", subscribe=True),
        perm("com.example.pub.secret")]},  # exact, allows nothing
    {"name": "caller", "permissions": [perm("com.example.", "prefix", call=True)]},
]


@pytest.fixture(scope="module")
def urls(tmp_path_factory):
    ports = {name: free_port() for name in ("backend", "limited", "reader", "caller")}
    transports = [{"type": "websocket", "endpoint": tcp(port),
                   "auth": {"anonymous": {"type": "static", "role": name}}} for name, port in ports.items()]
    node = start_node(router_config(transports, [{"name": "realm1", "roles": ROLES}]),
                      tmp_path_factory.mktemp("pattern-authz"))
    yield {name: f"ws://127.0.0.1:{port}/" for name, port in ports.items()}
    node.stop()
    assert "Traceback" not in node.output(), node.output()


def recorder():
    """An event handler recording (topic, args), and ``until(topic, count)`` awaiting the
    count-th event of a topic."""
    seen = []
    waiting = []  # (topic, count, future)

    def on_event(*args, details=None):
        seen.append((details.topic, list(args)))
        for topic, count, future in waiting:
            if not future.done() and sum(1 for t, _ in seen if t == topic) >= count:
                future.set_result(True)

    async def until(topic, count=1):
        if sum(1 for t, _ in seen if t == topic) >= count:
            return
        future = asyncio.get_event_loop().create_future()
        waiting.append((topic, count, future))
        await asyncio.wait_for(future, TIMEOUT)

    return seen, on_event, until


ACK = PublishOptions(acknowledge=True)


def test_prefix_subscription_on_an_exact_permission(urls):
    """The limited role's prefix subscription to com.example.allowed receives com.example.allowed,
    not com.example.allowed.admin nor com.example.allowedX (published before it, by the same publisher)."""
    async def scenario():
        backend, limited = await connect(urls["backend"]), await connect(urls["limited"])
        seen, on_event, until = recorder()
        await limited.subscribe(on_event, ALLOWED, options=SubscribeOptions(match="prefix", details_arg="details"))
        for topic in (ALLOWED + ".admin", ALLOWED + "X", ALLOWED):
            await backend.publish(topic, topic, options=ACK)
        await until(ALLOWED)
        assert seen == [(ALLOWED, [ALLOWED])]
        await leave(limited, backend)

    run(scenario())


def test_prefix_registration_on_an_exact_permission_captures_nothing(urls):
    """The limited role's prefix registration to com.example.allowed does not get another role's
    calls to com.example.allowed.admin (the backend's com.example. registration does) nor to
    com.example.allowedX (no callee then); it does get com.example.allowed."""
    async def scenario():
        backend, limited = await connect(urls["backend"]), await connect(urls["limited"])
        caller = await connect(urls["caller"])
        await limited.register(lambda *a, **k: "captured", ALLOWED, options=RegisterOptions(match="prefix"))
        await backend.register(lambda *a, **k: "genuine", "com.example.", options=RegisterOptions(match="prefix"))
        assert await caller.call(ALLOWED + ".admin") == "genuine"
        assert await caller.call(ALLOWED) == "captured"
        await backend.leave()
        await asyncio.wait_for(asyncio.shield(backend.disconnected), TIMEOUT)
        with pytest.raises(ApplicationError) as info:
            await caller.call(ALLOWED + "X")
        assert info.value.error == "wamp.error.no_such_procedure"
        await leave(limited, caller)

    run(scenario())


def test_exact_deny_holds_against_prefix_wildcard_and_get_retained(urls):
    """The reader role's exact deny on com.example.pub.secret holds for its prefix and wildcard
    subscriptions to com.example.pub. and for their get_retained."""
    async def scenario():
        backend, reader = await connect(urls["backend"]), await connect(urls["reader"])
        await backend.publish("com.example.pub.secret", "retained secret",
                              options=PublishOptions(acknowledge=True, retain=True))
        await backend.publish("com.example.pub.zzz", "retained news",
                              options=PublishOptions(acknowledge=True, retain=True))
        seen, on_event, until = recorder()
        for match in ("prefix", "wildcard"):
            await reader.subscribe(on_event, "com.example.pub.", options=SubscribeOptions(
                match=match, get_retained=True, details_arg="details"))
        await until("com.example.pub.zzz")  # retained events come oldest first: the secret would be in
        await backend.publish("com.example.pub.secret", "live secret", options=ACK)
        await backend.publish("com.example.pub.news", "live news", options=ACK)
        await until("com.example.pub.news", 2)  # one copy per subscription
        assert sorted(seen) == [("com.example.pub.news", ["live news"])] * 2 + \
            [("com.example.pub.zzz", ["retained news"])] * 2
        await leave(reader, backend)

    run(scenario())
