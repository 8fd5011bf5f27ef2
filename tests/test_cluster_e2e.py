"""Several router processes, and several nodes, acting as one router through NATS.

Real processes throughout: ``python -m node start`` with ``processes: 2`` (which
starts its own nats-server and two workers sharing the port), or two nodes
joined through a nats-server the test starts on a free port; autobahn-python
asyncio clients. A client's process is found from the kernel's socket table
(psutil): the worker holding the server side of the client's TCP connection.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Dict, List

import psutil
import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallOptions, PublishOptions, RegisterOptions

from conftest import REPO, free_port, node_env, router_config, run_cli, start_node, tcp
from wampclient import ClientSession, connect, leave, run

READY = "All router processes ready"


def cluster_config(port: int, processes: int = 2, backplane: Dict = None) -> Dict:
    endpoint = dict(tcp(port), shared=True)
    config = router_config([{"type": "websocket", "endpoint": endpoint}])
    options: Dict = {"processes": processes}
    if backplane is not None:
        options["backplane"] = backplane
    config["workers"][0]["options"] = options
    return config


def worker_pids(supervisor_pid: int) -> List[int]:
    children = psutil.Process(supervisor_pid).children()
    return sorted(p.pid for p in children if "node.process.cluster_worker" in " ".join(p.cmdline()))


def process_of(session: ClientSession, pids: List[int]) -> int:
    """The pid of the router process serving ``session``'s TCP connection."""
    client_port = session._transport.transport.get_extra_info("sockname")[1]
    for pid in pids:
        for conn in psutil.Process(pid).net_connections("tcp"):
            if conn.raddr and conn.raddr.port == client_port:
                return pid
    raise AssertionError(f"no router process holds the connection from port {client_port}")


async def spread(url: str, pids: List[int], limit: int = 40) -> Dict[int, List[ClientSession]]:
    """Connect clients until every router process has at least two; the kernel picks."""
    by_process: Dict[int, List[ClientSession]] = {pid: [] for pid in pids}
    extra: List[ClientSession] = []
    for _ in range(limit):
        session = await connect(url)
        pid = process_of(session, pids)
        if len(by_process[pid]) < 2:
            by_process[pid].append(session)
        else:
            extra.append(session)
        if all(len(v) >= 2 for v in by_process.values()):
            break
    await leave(*extra)
    assert all(len(v) >= 2 for v in by_process.values()), f"connections not spread: { {k: len(v) for k, v in by_process.items()} }"
    return by_process


async def until(predicate, timeout: float = 10.0, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    port = free_port()
    node = start_node(cluster_config(port), tmp_path_factory.mktemp("cluster"), wait=False)
    if not node.wait_for(READY, 40):
        node.stop()
        raise AssertionError(f"cluster did not become ready:\n{node.output()}")
    yield node, f"ws://127.0.0.1:{port}/", worker_pids(node.proc.pid)
    node.stop()


def test_events_cross_processes_both_ways(two_processes):
    """A subscriber on one process gets events published on the other, in publisher order, both ways."""
    node, url, pids = two_processes
    assert len(pids) == 2

    async def scenario():
        groups = await spread(url, pids)
        (p1a, p1b), (p2a, p2b) = groups[pids[0]], groups[pids[1]]
        received: Dict[str, list] = {"p1": [], "p2": []}
        # A subscription stays in its own process (publications go to every process):
        # SUBSCRIBED means it is in place.
        await p1a.subscribe(lambda x: received["p1"].append(x), "com.cross")
        await p2a.subscribe(lambda x: received["p2"].append(x), "com.cross")
        for i in range(20):
            await p2b.publish("com.cross", i, options=PublishOptions(acknowledge=True))
        await p1b.publish("com.cross", "from-1", options=PublishOptions(acknowledge=True))
        assert await until(lambda: _true(len(received["p1"]) == 21 and len(received["p2"]) == 21), 5), received
        for got in received.values():  # WAMP orders events per publisher, not across publishers
            assert [x for x in got if x != "from-1"] == list(range(20)) and "from-1" in got
        await leave(p1a, p1b, p2a, p2b)

    run(scenario())


async def _true(value: bool) -> bool:
    return value


async def registered(session, *uris: str, timeout: float = 5.0) -> bool:
    """Whether the router process of ``session`` knows a registration of every one of ``uris``
    within ``timeout`` s: another process's REGISTER reaches it through the backplane."""
    async def known() -> bool:
        return all([await session.call("wamp.registration.lookup", uri) is not None for uri in uris])

    return await until(known, timeout)


def test_calls_cross_processes_with_result_error_and_progress(two_processes):
    """A callee on one process answers callers on the other: result, error URI, progressive results."""
    node, url, pids = two_processes

    async def scenario():
        groups = await spread(url, pids)
        callee, caller = groups[pids[1]][0], groups[pids[0]][0]

        async def add(a, b):
            return a + b

        def fail():
            raise ApplicationError("com.example.failed", "as asked")

        async def count(n, details=None):
            for i in range(n):
                details.progress(i)
            return n

        await callee.register(add, "com.add")
        await callee.register(fail, "com.fail")
        await callee.register(count, "com.count", options=RegisterOptions(details_arg="details"))
        assert await registered(caller, "com.add", "com.fail", "com.count")
        assert await caller.call("com.add", 2, 3) == 5
        with pytest.raises(ApplicationError) as error:
            await caller.call("com.fail")
        assert error.value.error == "com.example.failed"
        progress: list = []
        assert await caller.call("com.count", 3, options=CallOptions(on_progress=progress.append)) == 3
        assert progress == [0, 1, 2]
        with pytest.raises(ApplicationError) as error:
            await caller.call("com.nobody")
        assert error.value.error == "wamp.error.no_such_procedure"
        await leave(*groups[pids[0]], *groups[pids[1]])

    run(scenario())


def test_meta_api_counts_sessions_of_every_process(two_processes):
    """wamp.session.count and wamp.session.list give the same whole-router answer on every process."""
    node, url, pids = two_processes

    async def scenario():
        groups = await spread(url, pids)
        everyone = [s for group in groups.values() for s in group]
        ids = sorted(s._session_id for s in everyone)
        for pid in pids:
            asker = groups[pid][0]
            assert await asker.call("wamp.session.count") == len(everyone)
            assert sorted(await asker.call("wamp.session.list")) == ids
            other = groups[[p for p in pids if p != pid][0]][0]
            details = await asker.call("wamp.session.get", other._session_id)
            assert details["session"] == other._session_id
        await leave(*everyone)

    run(scenario())


def test_crashed_process_is_restarted_and_its_sessions_leave(tmp_path):
    """After SIGKILL of one router process the supervisor starts a new one; the others drop its sessions."""
    port = free_port()
    node = start_node(cluster_config(port), tmp_path / "crash", wait=False)
    try:
        assert node.wait_for(READY, 40), node.output()
        pids = worker_pids(node.proc.pid)
        url = f"ws://127.0.0.1:{port}/"

        async def scenario():
            groups = await spread(url, pids)
            survivor = groups[pids[0]][0]
            before = await survivor.call("wamp.session.count")
            os.kill(pids[1], signal.SIGKILL)

            async def dropped():
                return await survivor.call("wamp.session.count") == before - len(groups[pids[1]])

            assert await until(dropped, 10)
            await leave(*groups[pids[0]])

        run(scenario())
        assert node.wait_for("is back", 20), node.output()
        new_pids = worker_pids(node.proc.pid)
        assert len(new_pids) == 2 and pids[0] in new_pids and pids[1] not in new_pids
    finally:
        assert node.stop() == 0
    assert "Traceback" not in node.output(), node.output()


def test_stop_ends_every_process_with_exit_0(tmp_path):
    """`wampnode reload` reaches every worker; `wampnode stop` ends supervisor (exit 0), workers and nats-server."""
    port = free_port()
    cbdir = tmp_path / "stop"
    node = start_node(cluster_config(port), cbdir, wait=False)
    try:
        assert node.wait_for(READY, 40), node.output()
        children = psutil.Process(node.proc.pid).children()
        assert sorted("nats-server" in " ".join(p.cmdline()) for p in children) == [False, False, True]
        assert (cbdir / "nats-server.conf").stat().st_mode & 0o077 == 0
        assert run_cli("reload", "--cbdir", str(cbdir)).returncode == 0
        for index in (1, 2):
            assert node.wait_for(f"[router {index}/2] Received SIGHUP", 10), node.output()
        result = run_cli("stop", "--cbdir", str(cbdir))
        assert result.returncode == 0, result.stdout + result.stderr
        assert node.proc.wait(10) == 0
        gone, alive = psutil.wait_procs(children, timeout=5)
        assert alive == []
    finally:
        node.stop()


def test_worker_that_cannot_listen_stops_the_node(tmp_path):
    """A port held without SO_REUSEPORT makes the workers fail; the node exits 1 and says why."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        node = start_node(cluster_config(port), tmp_path / "busy", wait=False)
        assert node.proc.wait(40) == 1
    output = node.output()
    assert "address already in use" in output and "ended before it was ready" in output
    assert not [p for p in psutil.process_iter(["cmdline"]) if str(tmp_path / "busy") in " ".join(p.info["cmdline"] or [])]


def test_processes_need_shared_tcp_endpoints(tmp_path):
    """processes > 1 with a non-shared TCP endpoint or a Unix socket is a configuration error."""
    config = cluster_config(free_port())
    del config["workers"][0]["transports"][0]["endpoint"]["shared"]
    config["workers"][0]["transports"].append(
        {"type": "rawsocket", "endpoint": {"type": "unix", "path": str(tmp_path / "s.sock")}})
    (tmp_path / "config.json").write_text(__import__("json").dumps(config))
    result = run_cli("check", "--cbdir", str(tmp_path))
    assert result.returncode == 2
    assert "workers[0].transports[0].endpoint.shared: the 2 router processes must all listen on port" in result.stderr
    assert "workers[0].transports[1].endpoint: a Unix socket cannot be shared by the 2 router processes" \
        in result.stderr


def test_missing_nats_server_is_reported(tmp_path):
    """Without nats-server on PATH and no backplane.url, start fails with exit 1 and the fix."""
    node = start_node(cluster_config(free_port()), tmp_path / "nonats", wait=False,
                      env={"PATH": str(tmp_path)})
    assert node.proc.wait(30) == 1
    assert "nats-server is not installed (not on PATH). Install it" in node.output()


def test_single_process_node_does_not_import_nats():
    """Without processes or backplane the node loads neither node.cluster nor nats-py."""
    code = ("import sys; import node.process.node, node.workers.router, node.router, node.transports, node.commands.main; "
            "from node.config.build import build_cluster; "
            "assert build_cluster({'processes': 1}) is None; "
            "print(sorted(m for m in sys.modules if m == 'nats' or m.startswith(('nats.', 'node.cluster'))))")
    result = subprocess.run([sys.executable, "-c", code], env=node_env(), capture_output=True, text=True,
                            cwd=str(REPO))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_two_nodes_through_one_nats_server_are_one_router(tmp_path, nats_server):
    """Two single-process nodes naming one NATS server share sessions, events and calls."""
    ports = [free_port(), free_port()]
    nodes = []
    try:
        for i, port in enumerate(ports):
            config = router_config([{"type": "websocket", "endpoint": tcp(port)}])
            config["workers"][0]["options"] = {"backplane": {"type": "nats", "url": nats_server}}
            nodes.append(start_node(config, tmp_path / f"n{i}"))

        async def scenario():
            a = await connect(f"ws://127.0.0.1:{ports[0]}/")
            b = await connect(f"ws://127.0.0.1:{ports[1]}/")
            got: list = []
            await b.subscribe(got.append, "com.nodes")
            await b.register(lambda x: x * 2, "com.double")
            assert await registered(a, "com.double")
            await a.publish("com.nodes", "hello", options=PublishOptions(acknowledge=True))
            assert await a.call("com.double", 21) == 42
            assert await until(lambda: _true(got == ["hello"]), 5)
            assert sorted(await a.call("wamp.session.list")) == sorted([a._session_id, b._session_id])
            await leave(a, b)

        run(scenario())
    finally:
        for node in nodes:
            assert node.stop() == 0
    for node in nodes:
        assert "Backplane: joined NATS at nats://127.0.0.1" in node.output()
        assert "Traceback" not in node.output()


def test_processes_end_when_the_supervisor_is_killed(tmp_path):
    """SIGKILL of the supervisor takes its workers and its nats-server down with it."""
    node = start_node(cluster_config(free_port()), tmp_path / "orphans", wait=False)
    try:
        assert node.wait_for(READY, 40), node.output()
        children = psutil.Process(node.proc.pid).children()
        node.proc.kill()
        node.proc.wait(5)
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert alive == []
    finally:
        node.stop()
