"""Realm limits through a running node (issue 19): long URIs, per-session limits, retained events.

Each test starts a node from the CLI with a realm configured as in production
(roles with an empty-prefix rule like Crossbar's ``init`` role, or limits set low)
and drives it with autobahn-python clients over WebSocket on 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, List, Tuple

import psutil
import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, RegisterOptions, SubscribeOptions

from conftest import free_port, router_config, tcp
from wampclient import connect, leave, run

ALLOW_ALL = {"call": True, "register": True, "publish": True, "subscribe": True}
BIG_MESSAGES = 4 * 1024 * 1024  # room for a 1 MiB URI in one message


def start(node_factory: Any, **options: Any) -> Tuple[str, Any]:
    """A node whose realm1 gives role `anonymous` everything through the empty prefix:
    its URL, and a function giving the node process's CPU seconds so far."""
    port = free_port()
    realm = {"name": "realm1", "options": options,
             "roles": [{"name": "anonymous", "permissions": [{"uri": "", "match": "prefix", "allow": ALLOW_ALL}]}]}
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port),
                                        "options": {"max_message_size": BIG_MESSAGES,
                                                    "max_frame_size": BIG_MESSAGES}}], [realm]))
    process = psutil.Process(node.proc.pid)

    def cpu() -> float:
        times = process.cpu_times()
        return times.user + times.system

    return f"ws://127.0.0.1:{port}", cpu


class CallWatch:
    """Another session calling an echo procedure in a loop, recording each call's latency
    (asyncio.run cancels the loop if a test fails before stopping it)."""

    def __init__(self, caller: Any) -> None:
        self.caller = caller
        self.latencies: List[float] = []
        self._stop = False
        self._task = asyncio.ensure_future(self._loop())

    async def _loop(self) -> None:
        while not self._stop:
            start = time.perf_counter()
            assert await self.caller.call("com.echo", 1) == 1
            self.latencies.append(time.perf_counter() - start)
            await asyncio.sleep(0.005)

    async def stop(self) -> List[float]:
        self._stop = True
        await self._task
        return self.latencies


async def timed(request: Any) -> tuple:
    """(seconds, result or the ApplicationError raised) of ``request()``, timed from
    before the request is sent (autobahn sends when it is called, not when awaited)."""
    start = time.perf_counter()
    try:
        result = await request()
    except ApplicationError as e:
        result = e
    return time.perf_counter() - start, result


LONG_URIS = [("300 kB", "com.long." + "segment." * 37500 + "end"),  # 300,013 octets
             ("1 MiB", "com.long." + "x" * (1 << 20))]


def test_long_uris_refused_in_milliseconds_while_other_calls_stay_fast(node_factory: Any) -> None:
    """With the default max_uri_length, a 300 kB and a 1 MiB URI (publish, subscribe, call)
    are refused with invalid_uri naming the option within milliseconds of router CPU, and
    another session's calls meanwhile stay fast (a 300 kB URI used to take 11 s of router
    CPU, freezing every session). Latencies include the clients' own work: they share a loop."""
    url, node_cpu = start(node_factory)

    async def scenario() -> None:
        callee, caller, listener, sender = [await connect(url) for _ in range(4)]
        await callee.register(lambda x: x, "com.echo")
        await listener.subscribe(lambda *a, **k: None, "com.", options=SubscribeOptions(match="prefix"))
        watch = CallWatch(caller)
        await asyncio.sleep(0.05)
        cpu = node_cpu()
        for label, uri in LONG_URIS:
            for action in (lambda uri=uri: sender.publish(uri, options=PublishOptions(acknowledge=True)),
                           lambda uri=uri: sender.subscribe(lambda *a: None, uri),
                           lambda uri=uri: sender.call(uri)):
                seconds, answer = await timed(action)
                assert isinstance(answer, ApplicationError), (label, answer)
                assert answer.error == "wamp.error.invalid_uri" and "max_uri_length" in answer.args[0]
                assert seconds < 1.0, (label, seconds)
        cpu = node_cpu() - cpu
        latencies = await watch.stop()
        assert cpu < 1.0, f"the node spent {cpu:.2f} s of CPU"
        assert latencies and max(latencies) < 0.5, max(latencies)
        await leave(callee, caller, listener, sender)

    run(scenario())


def test_long_uris_routed_in_milliseconds_without_a_length_limit(node_factory: Any) -> None:
    """With max_uri_length 0 (no limit), a 300 kB and a 1 MiB URI are routed within
    milliseconds through the empty-prefix role rule and prefix subscriptions and
    registrations: matching costs time linear in the URI's length."""
    url, node_cpu = start(node_factory, max_uri_length=0)

    async def scenario() -> None:
        callee, caller, listener, sender = [await connect(url) for _ in range(4)]
        await callee.register(lambda x: x, "com.echo")
        await callee.register(lambda *a, **k: "pattern", "com.long.", options=RegisterOptions(match="prefix"))
        topics: asyncio.Queue = asyncio.Queue()
        await listener.subscribe(lambda *a, details=None: topics.put_nowait(details.topic), "com.",
                                 options=SubscribeOptions(match="prefix", details_arg="details"))
        watch = CallWatch(caller)
        await asyncio.sleep(0.05)
        cpu = node_cpu()
        for label, uri in LONG_URIS:
            seconds, answer = await timed(
                lambda uri=uri: sender.publish(uri, options=PublishOptions(acknowledge=True)))
            assert not isinstance(answer, ApplicationError) and seconds < 1.0, (label, seconds, answer)
            assert await asyncio.wait_for(topics.get(), 5) == uri
            seconds, answer = await timed(lambda uri=uri: sender.call(uri))
            assert answer == "pattern" and seconds < 1.0, (label, seconds, answer)
        cpu = node_cpu() - cpu
        latencies = await watch.stop()
        assert cpu < 1.0, f"the node spent {cpu:.2f} s of CPU"
        assert latencies and max(latencies) < 0.5, max(latencies)
        await leave(callee, caller, listener, sender)

    run(scenario())


def limit_error(answer: Any, option: str) -> bool:
    return isinstance(answer, ApplicationError) and answer.error == "wamp.error.limit_exceeded" \
        and option in answer.args[0]


def test_per_session_limits_refuse_with_limit_exceeded(node_factory: Any) -> None:
    """Past max_subscriptions_per_session, max_registrations_per_session and
    max_pending_calls_per_session a session's request gets ERROR wamp.error.limit_exceeded
    naming the option; another session is not affected, and answered calls free places."""
    url, _ = start(node_factory, max_subscriptions_per_session=5, max_registrations_per_session=3,
                max_pending_calls_per_session=2)

    async def scenario() -> None:
        busy, other, callee = await connect(url), await connect(url), await connect(url)
        for i in range(5):
            await busy.subscribe(lambda *a: None, f"com.topic{i}")
        answer = (await timed(lambda: busy.subscribe(lambda *a: None, "com.topic5")))[1]
        assert limit_error(answer, "max_subscriptions_per_session"), answer
        await other.subscribe(lambda *a: None, "com.topic5")
        for i in range(3):
            await busy.register(lambda: None, f"com.proc{i}")
        answer = (await timed(lambda: busy.register(lambda: None, "com.proc3")))[1]
        assert limit_error(answer, "max_registrations_per_session"), answer
        release = asyncio.get_event_loop().create_future()

        async def slow() -> str:
            await release
            return "done"

        await callee.register(slow, "com.slow")
        pending = [asyncio.ensure_future(busy.call("com.slow")) for _ in range(2)]
        answer = (await timed(lambda: busy.call("com.slow")))[1]
        assert limit_error(answer, "max_pending_calls_per_session"), answer
        other_call = asyncio.ensure_future(other.call("com.slow"))
        release.set_result(None)
        assert await asyncio.gather(*pending, other_call) == ["done"] * 3
        assert await busy.call("com.slow") == "done"
        await leave(busy, other, callee)

    run(scenario())


def test_retained_events_bounded_oldest_dropped(node_factory: Any) -> None:
    """With max_retained_events 100, 1,000 retained publications to distinct topics leave
    the newest 100, which outlive their publisher (the node used to keep every one)."""
    url, _ = start(node_factory, max_retained_events=100)

    async def scenario() -> None:
        publisher = await connect(url)
        for start_index in range(0, 1000, 100):
            await asyncio.gather(*[publisher.publish(f"com.state.{i}", i,
                                                     options=PublishOptions(retain=True, acknowledge=True))
                                   for i in range(start_index, start_index + 100)])
        await leave(publisher)
        late = await connect(url)
        got: List[int] = []
        await late.subscribe(lambda i: got.append(i), "com.state.",
                             options=SubscribeOptions(match="prefix", get_retained=True))
        await late.call("wamp.session.count")  # the retained events came before this answer
        assert sorted(got) == list(range(900, 1000))
        await leave(late)

    run(scenario())


@pytest.fixture
def node_factory(node_factory: Any) -> Any:
    """The conftest factory; every node must end without a traceback in its log."""
    started: List[Any] = []

    def factory(*args: Any, **kwargs: Any) -> Any:
        node = node_factory(*args, **kwargs)
        started.append(node)
        return node

    yield factory
    for node in started:
        assert "Traceback" not in node.output(), node.output()
