"""``metrics`` paths: a real Prometheus scrapes a real node while autobahn clients use it.

The numbers are read back the way an operator reads them, through PromQL on
Prometheus's HTTP API; access rules are checked with curl; with ``processes: 2``
one scrape target sees both router processes.
"""
from __future__ import annotations

import asyncio
import subprocess
from typing import Any, Dict, List, Optional

import pytest

from conftest import await_until, free_port, router_config, tcp
from prometheus import Prometheus, wait_scraped
from wampclient import connect, leave, run
from wsraw import RawWebSocket, frame

REALM = "realm1"


def monitored_config(app_port: int, monitor_port: int, metrics: Optional[Dict[str, Any]] = None,
                     realms: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """An app transport (WAMP over WebSocket and RawSocket) and a monitoring transport on its own port."""
    metrics = metrics if metrics is not None else {"type": "metrics", "allowed_networks": ["127.0.0.1", "::1"]}
    return router_config([
        {"type": "universal", "id": "app", "endpoint": tcp(app_port),
         "websocket": {"ws": {"type": "websocket"}}, "rawsocket": {}},
        {"type": "web", "id": "monitor", "endpoint": tcp(monitor_port), "paths": {"metrics": metrics}},
    ], realms)


def curl(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *args, url],
                          capture_output=True, text=True, timeout=30)


def scrape(port: int, *args: str) -> str:
    result = curl(f"http://127.0.0.1:{port}/metrics", *args)
    body, _, code = result.stdout.rpartition("\n")
    assert code == "200", result.stdout + result.stderr
    return body


def sample(text: str, name: str, **labels: str) -> Optional[float]:
    """The value of one sample in Prometheus text (labels given must match, others may be present)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            return float(value)
    return None


def test_prometheus_sees_sessions_and_calls(node_factory):
    """Prometheus scraping the node: the session gauge follows the sessions open, the
    call counter rises by exactly the calls made, and call errors, publications,
    events and messages by type are there too."""
    app, monitor = free_port(), free_port()
    node_factory(monitored_config(app, monitor))
    url = f"ws://127.0.0.1:{app}/ws"
    sessions_expr = f'sum(wampnode_sessions{{realm="{REALM}"}})'
    calls_expr = f'sum(wampnode_calls_total{{realm="{REALM}"}})'
    with Prometheus([f"127.0.0.1:{monitor}"]) as prometheus:
        wait_scraped(prometheus)
        assert prometheus.wait_value(sessions_expr, 0) == 0
        calls_before = prometheus.value(calls_expr)
        assert calls_before == 0

        async def traffic() -> None:
            callee = await connect(url)
            caller = await connect(url)
            subscriber = await connect(f"rs://127.0.0.1:{app}")
            received: List[int] = []
            await callee.register(lambda x: x * 2, "com.example.double")
            await subscriber.subscribe(lambda n: received.append(n), "com.example.topic")
            for i in range(7):
                assert await caller.call("com.example.double", i) == 2 * i
            for i in range(5):
                await caller.publish("com.example.topic", i, options=_ack())
            with pytest.raises(Exception):
                await caller.call("com.example.missing")
            assert await await_until(lambda: len(received) == 5)
            # three sessions open, two of them over WebSocket: what Prometheus must have seen
            seen = await asyncio.get_event_loop().run_in_executor(
                None, prometheus.wait_value, sessions_expr, 3)
            assert seen == 3, f"prometheus saw {seen} sessions, 3 are open"
            by_type = prometheus.query(f'wampnode_sessions{{realm="{REALM}",transport="app"}}')
            assert {r["metric"]["type"]: float(r["value"][1]) for r in by_type} == {"websocket": 2, "rawsocket": 1}
            await leave(subscriber)
            seen = await asyncio.get_event_loop().run_in_executor(None, prometheus.wait_value, sessions_expr, 2)
            assert seen == 2, f"prometheus saw {seen} sessions after one left, 2 are open"
            await leave(callee, caller)

        run(traffic())
        assert prometheus.wait_value(calls_expr, calls_before + 8) == calls_before + 8  # 7 answered, 1 missing
        assert prometheus.wait_value(
            f'wampnode_call_errors_total{{realm="{REALM}",reason="no_such_procedure"}}', 1) == 1
        assert prometheus.wait_value(f'wampnode_publications_total{{realm="{REALM}"}}', 5) == 5
        assert prometheus.wait_value(f'wampnode_events_delivered_total{{realm="{REALM}"}}', 5) == 5
        assert prometheus.wait_value('wampnode_messages_received_total{type="CALL"}', 8) == 8
        assert prometheus.wait_value('wampnode_messages_sent_total{type="INVOCATION"}', 7) == 7
        assert prometheus.wait_value('wampnode_messages_sent_total{type="EVENT"}', 5) == 5
        assert prometheus.wait_value(sessions_expr, 0) == 0
        assert prometheus.wait_value(f'sum(wampnode_sessions_closed_total{{realm="{REALM}",reason="goodbye"}})',
                                     3) == 3
        assert prometheus.wait_value('wampnode_auth_successes_total{method="anonymous"}', 3) == 3
        assert prometheus.value('wampnode_bytes_received_total{transport="app"}') > 0
        assert prometheus.value('wampnode_bytes_sent_total{transport="app"}') > 0
        assert prometheus.value("process_resident_memory_bytes") > 0


def _ack() -> Any:
    from autobahn.wamp.types import PublishOptions

    return PublishOptions(acknowledge=True)


def test_metrics_allowed_networks(node_factory):
    """A request from an address outside allowed_networks gets 403 and no numbers."""
    app, monitor = free_port(), free_port()
    node_factory(monitored_config(app, monitor, {"type": "metrics", "allowed_networks": ["10.0.0.0/8"]}))
    result = curl(f"http://127.0.0.1:{monitor}/metrics")
    body, _, code = result.stdout.rpartition("\n")
    assert code == "403"
    assert "127.0.0.1 is not in allowed_networks" in body
    assert "wampnode_" not in body


def test_metrics_basic_auth(node_factory, tmp_path):
    """With credentials: 401 with a Basic challenge without them or with wrong ones (logged as a failed
    login), 200 with them; Prometheus's own basic_auth gets through."""
    app, monitor = free_port(), free_port()
    node = node_factory(monitored_config(app, monitor, {
        "type": "metrics", "credentials": {"prometheus": "$METRICS_PASSWORD"}}),
        env={"METRICS_PASSWORD": "s3cret-scrape"})
    url = f"http://127.0.0.1:{monitor}/metrics"
    none = curl(url, "-D", "-")
    assert none.stdout.endswith("\n401")
    assert 'WWW-Authenticate: Basic realm="wampnode metrics"' in none.stdout
    wrong = curl(url, "-u", "prometheus:guess")
    assert wrong.stdout.endswith("\n401") and "wampnode_" not in wrong.stdout
    assert node.wait_for("authentication failed: peer=127.0.0.1 method=http-basic realm=- authid='prometheus'")
    assert sample(scrape(monitor, "-u", "prometheus:s3cret-scrape"), "wampnode_info") == 1
    with Prometheus([f"127.0.0.1:{monitor}"],
                    basic_auth={"username": "prometheus", "password": "s3cret-scrape"}) as prometheus:
        wait_scraped(prometheus)
        assert prometheus.value("wampnode_info") == 1


def test_metrics_count_failures_and_refusals(node_factory):
    """Failed logins by method, protocol violations and max_connections refusals reach the metrics."""
    app, monitor = free_port(), free_port()
    realms = [{"name": REALM, "roles": [{"name": "user", "permissions": [
        {"uri": "", "match": "prefix", "allow": {"call": True, "register": True, "publish": True,
                                                 "subscribe": True}}]}]}]
    config = monitored_config(app, monitor, realms=realms)
    config["workers"][0]["transports"][0] = {
        "type": "web", "id": "app", "endpoint": tcp(app),
        "paths": {"ws": {"type": "websocket", "options": {"max_connections": 1},
                         "auth": {"ticket": {"type": "static", "principals": {
                             "alice": {"ticket": "right", "role": "user"}}}}}}}
    node_factory(config)
    url = f"ws://127.0.0.1:{app}/ws"

    async def clients() -> None:
        good = await connect(url, authmethods=["ticket"], authid="alice", secret="right")
        # a second connection is one too many (max_connections 1): refused in the handshake
        with pytest.raises(Exception):
            await connect(url, authmethods=["ticket"], authid="alice", secret="right")
        await leave(good)
        bad = await connect(url, authmethods=["ticket"], authid="alice", secret="wrong", join=False)
        with pytest.raises(ConnectionError, match="not_authorized"):
            await asyncio.wait_for(bad.joined, 10)

    run(clients())
    # bytes that are no WAMP message: a protocol violation of the transport
    ws = RawWebSocket(app, "/ws", protocols=["wamp.2.json"])
    try:
        ws.send(frame(0x1, b"this is not JSON"))
        assert ws.read_close()[0] == 1002
    finally:
        ws.shutdown()
    text = scrape(monitor)
    assert sample(text, "wampnode_auth_failures_total", method="ticket") == 1
    assert sample(text, "wampnode_auth_successes_total", method="ticket") == 1
    assert sample(text, "wampnode_connections_refused_total", transport="app", limit="max_connections") == 1
    assert sample(text, "wampnode_protocol_violations_total", transport="app") == 1
    assert sample(text, "wampnode_sessions_closed_total", realm=REALM, reason="goodbye") == 1


def test_one_scrape_sees_every_process(tmp_path):
    """processes: 2 on shared ports: whichever process a scrape reaches answers for both
    (each sample labelled process="i/2"); sessions add up to those open, none counted twice."""
    import shutil

    if not shutil.which("nats-server"):
        pytest.fail("nats-server is not installed: run tests/run.sh (it installs tests/apt-packages.txt)")
    from conftest import start_node

    app, monitor = free_port(), free_port()
    config = monitored_config(app, monitor)
    for transport in config["workers"][0]["transports"]:
        transport["endpoint"]["shared"] = True
    config["workers"][0]["options"] = {"processes": 2}
    node = start_node(config, tmp_path / "cluster", wait=False)
    try:
        assert node.wait_for("All router processes ready", 40), node.output()
        with Prometheus([f"127.0.0.1:{monitor}"]) as prometheus:
            wait_scraped(prometheus)
            assert prometheus.wait_value("count(wampnode_process_answered == 1)", 2) == 2

            async def sessions() -> None:
                clients = [await connect(f"ws://127.0.0.1:{app}/ws") for _ in range(6)]
                seen = await asyncio.get_event_loop().run_in_executor(
                    None, prometheus.wait_value, f'sum(wampnode_sessions{{realm="{REALM}"}})', 6)
                assert seen == 6, f"prometheus saw {seen} sessions over both processes, 6 are open"
                await leave(*clients)

            run(sessions())
            processes = prometheus.query("wampnode_info")
            assert sorted(r["metric"]["process"] for r in processes) == ["1/2", "2/2"]
            assert prometheus.value("sum(wampnode_backplane_frames_sent_total)") > 0
            assert prometheus.value("sum(wampnode_backplane_messages_received_total)") > 0
            assert prometheus.value("sum(wampnode_backplane_resyncs_total)") == 0
        assert sample(scrape(monitor), "wampnode_process_answered", process="2/2") == 1
    finally:
        node.stop()


def test_worker_restarts_and_running_state_are_metrics(node_factory):
    """Hosted guests show up as wampnode_worker_restarts_total and wampnode_worker_running,
    labelled by their configured id: a guest that keeps failing counts its restarts, a
    guest that runs is 1."""
    app_port, monitor_port = free_port(), free_port()
    config = monitored_config(app_port, monitor_port)
    config["workers"] += [
        {"type": "guest", "id": "flaky", "executable": "sh", "arguments": ["-c", "exit 3"],
         "options": {"restart": "restart-always"}},
        {"type": "guest", "id": "steady", "executable": "sh", "arguments": ["-c", "exec sleep 60"]},
    ]
    node = node_factory(config)
    assert node.wait_for("restarting it in 1 s", 15), node.output()  # the second restart is on its way
    text = scrape(monitor_port)
    assert sample(text, "wampnode_worker_restarts_total", worker="flaky", type="guest") >= 1, text
    assert sample(text, "wampnode_worker_running", worker="steady", type="guest") == 1, text
    assert sample(text, "wampnode_worker_restarts_total", worker="steady", type="guest") == 0, text
