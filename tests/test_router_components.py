"""Router components (issue 14): application sessions run inside the router process,
joined in memory, started after the transports listen and before "Node ready".

Real nodes from the CLI, autobahn-python clients over WebSocket; the components are
our own apps in tests/apps/router_components/ (the shapes of Crossbar.io's examples).
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

import psutil
import pytest
from autobahn.wamp.exception import ApplicationError, SerializationError

from conftest import READY_LINE, REPO, free_port, node_env, router_config, run_cli, start_node, tcp
from wampclient import connect, leave, run

APPS = REPO / "tests" / "apps" / "router_components"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def component_config(port: int, *components: Dict[str, Any], **options: Any) -> Dict[str, Any]:
    config = router_config([{"type": "websocket", "endpoint": dict(tcp(port), **options.pop("endpoint", {}))}])
    router = config["workers"][0]
    router["options"] = dict({"pythonpath": [str(APPS)]}, **options)
    router["components"] = list(components)
    return config


def backend(**extra: Any) -> Dict[str, Any]:
    return dict({"type": "class", "classname": "rc_app.Backend", "realm": "realm1"}, **extra)


def write_config(cbdir: Path, config: Dict[str, Any]) -> Path:
    cbdir.mkdir(parents=True, exist_ok=True)
    (cbdir / "config.json").write_text(json.dumps(config))
    return cbdir


def critical_lines(output: str) -> List[str]:
    return [line for line in output.splitlines() if "[critical]" in line]


def start_refused(tmp_path: Path, *components: Dict[str, Any]) -> Any:
    """Start a node that must refuse to start; returns (exit code, its output)."""
    node = start_node(component_config(free_port(), *components), tmp_path / "node", wait=False)
    try:
        code = node.proc.wait(30)
    finally:
        node.stop()
    return code, node.output()


# --- a running component -------------------------------------------------------------------


def test_class_and_function_components_serve_ws_clients(tmp_path, node_factory):
    """A ws client calls the component's procedures, gets the events it publishes, serves a
    procedure the component calls, publishes to it; the function component's join callback ran."""
    port = free_port()
    node = node_factory(component_config(port, backend(id="backend", extra={"greeting": "hi"}),
                                         {"type": "function", "realm": "realm1", "id": "hooks",
                                          "callbacks": {"connect": "rc_functions.on_connect",
                                                        "join": "rc_functions.on_join"}},
                                         env={"vars": {"RC_TEST_VAR": "from options.env"}}),
                        cbdir=tmp_path / "node")
    output = node.output()
    assert "Router component backend (class rc_app.Backend) joined realm realm1 as role anonymous" in output
    assert "Router component hooks (function, connect=rc_functions.on_connect, join=rc_functions.on_join) " \
           "joined realm realm1" in output
    assert "Node ready: 1 transport(s) listening, 2 router component(s) joined" in output

    async def scenario() -> None:
        client = await connect(f"ws://127.0.0.1:{port}/")
        assert await client.call("com.test.add2", 2, 3) == 5
        events: List[Any] = []
        await client.subscribe(lambda i, text: events.append((i, text)), "com.test.event")
        assert await client.call("com.test.publish", 3) == 3
        await asyncio.wait_for(_until(lambda: len(events) == 3), 10)
        assert events == [(0, "event 0"), (1, "event 1"), (2, "event 2")]
        await client.register(lambda who: f"client of {who}", "com.test.client.name")
        assert await client.call("com.test.ask_client", "wampnode") == "hello client of wampnode"
        client.publish("com.test.to_component", "ping")
        assert await _until_async(lambda: client.call("com.test.received"), ["ping"])
        assert await client.call("com.test.fn.info") == {"authrole": "anonymous", "events": ["connect", "join"]}
        me = await client.call("com.test.whoami")
        assert UUID.match(me.pop("authid")), me
        session = me.pop("session")
        assert me == {"authrole": "anonymous", "authmethod": None, "authprovider": None, "realm": "realm1",
                      "extra": {"greeting": "hi", "cbdir": str(tmp_path / "node")}, "env": "from options.env",
                      "home": os.environ.get("HOME"), "transport": 1}  # TransportDetails.CHANNEL_TYPE_FUNCTION
        # the router's view of the component: a session like any other, on a function-call channel
        details = await client.call("wamp.session.get", session)
        assert (details["authrole"], details["authmethod"], details["transport"]["channel_type"]) == \
            ("anonymous", None, "function")
        await leave(client)

    run(scenario())
    assert node.stop() == 0
    output = node.output()
    assert "Router component backend (class rc_app.Backend) left realm realm1" in output
    assert "[warn]" not in output and "[error]" not in output and "Traceback" not in output, output


def test_a_component_calling_itself_does_not_recurse(tmp_path, node_factory):
    """5000 calls of its own procedure in a row: in-memory delivery goes through the reactor,
    the stack does not grow, the node answers other clients meanwhile."""
    port = free_port()
    node_factory(component_config(port, backend()), cbdir=tmp_path / "node")

    async def scenario() -> None:
        client, other = await connect(f"ws://127.0.0.1:{port}/"), await connect(f"ws://127.0.0.1:{port}/")
        calls = asyncio.ensure_future(client.call("com.test.self_calls", 5000))
        assert await other.call("com.test.add2", 1, 1) == 2  # answered while the loop runs
        assert await calls == 5000
        await leave(client, other)

    run(scenario())


def test_procedure_raising_gives_the_caller_an_error_and_the_node_carries_on(tmp_path, node_factory):
    """A procedure raising: its caller gets the error; an event handler raising: one line;
    the component serves on either way (Crossbar.io would disconnect it on the second)."""
    port = free_port()
    node = node_factory(component_config(port, backend(id="backend")), cbdir=tmp_path / "node")

    async def scenario() -> None:
        client = await connect(f"ws://127.0.0.1:{port}/")
        with pytest.raises(ApplicationError) as info:
            await client.call("com.test.fail")
        assert info.value.error == "wamp.error.runtime_error"
        assert info.value.args == ("procedure failed on purpose",)
        with pytest.raises(ApplicationError) as info:
            await client.call("com.test.refuse")
        assert info.value.error == "com.test.refused"
        assert await client.call("com.test.add2", 20, 22) == 42
        client.publish("com.test.explode", "boom")  # its handler raises: logged, the session carries on
        client.publish("com.test.to_component", "after")
        assert await _until_async(lambda: client.call("com.test.received"), ["after"])
        await leave(client)

    run(scenario())
    assert node.stop() == 0
    output = node.output()
    errors = [line.split(" ", 1)[1] for line in output.splitlines() if "on purpose" in line]
    assert errors == [
        "[error] Router component backend (class rc_app.Backend): a procedure raised: ValueError: procedure "
        "failed on purpose",
        "[warn] Router component backend (class rc_app.Backend): com.test.refused: refused on purpose",
        "[error] Router component backend (class rc_app.Backend): an event handler raised: ValueError: event "
        "handler failed on purpose: boom"], errors
    assert "Traceback" not in output and " left realm realm1 (" not in output


def test_a_component_that_leaves_is_logged_and_not_restarted(tmp_path, node_factory):
    """One component leaves on its own, another is killed with wamp.session.kill: one line
    each, neither comes back, the node serves on."""
    port = free_port()
    node = node_factory(component_config(port, {"type": "class", "classname": "rc_app.Leaver", "realm": "realm1",
                                                "id": "leaver"}, backend(id="backend")), cbdir=tmp_path / "node")

    async def scenario() -> None:
        client = await connect(f"ws://127.0.0.1:{port}/")
        assert await client.call("com.test.leave_now") == "leaving"
        assert await _until_async(lambda: client.call("wamp.session.count"), 2)
        victim = (await client.call("com.test.whoami"))["session"]
        await client.call("wamp.session.kill", victim, reason="com.test.kicked", message="go away")
        assert await _until_async(lambda: client.call("wamp.session.count"), 1)
        for procedure in ("com.test.leave_now", "com.test.add2"):
            with pytest.raises(ApplicationError) as info:
                await client.call(procedure, 1, 2)
            assert info.value.error == "wamp.error.no_such_procedure"
        await leave(client)

    run(scenario())
    assert node.wait_for("Router component backend (class rc_app.Backend) left", 5)
    left = [line.split("] ", 1)[1] for line in node.output().splitlines() if " left realm" in line]
    assert left == [f"Router component {name} left realm realm1 ({why}); router components are not restarted "
                    "(as in Crossbar.io), the node carries on without it"
                    for name, why in (("leaver (class rc_app.Leaver)", "it sent GOODBYE"),
                                      ("backend (class rc_app.Backend)", "com.test.kicked: go away"))], left
    assert all("[warn]" in line for line in node.output().splitlines() if " left realm" in line)
    assert "session closed with reason" not in node.output()  # autobahn's own warning: said once, above
    assert node.proc.poll() is None
    assert node.stop() == 0


def test_node_ready_comes_after_a_slow_onjoin(tmp_path):
    """onJoin takes a second: the ready line comes after it, and the procedure it registers
    last already answers when the line appears."""
    port = free_port()
    node = start_node(component_config(port, {"type": "class", "classname": "rc_app.SlowJoin", "realm": "realm1"}),
                      tmp_path / "node", wait=False)
    try:
        assert node.wait_for(READY_LINE, 20), node.output()

        async def scenario() -> None:
            client = await connect(f"ws://127.0.0.1:{port}/")
            assert await client.call("com.test.slow") == "slow but there"
            await leave(client)

        run(scenario())
        lines = node.output().splitlines()
        listening = next(i for i, l in enumerate(lines) if "Listening:" in l)
        joined = next(i for i, l in enumerate(lines) if "Router component component001" in l)
        ready = next(i for i, l in enumerate(lines) if READY_LINE in l)
        assert listening < joined < ready
        stamps = [_stamp(lines[i]) for i in (listening, ready)]
        assert stamps[1] - stamps[0] >= 0.9, lines
    finally:
        assert node.stop() == 0


# --- failures at start -----------------------------------------------------------------------


def test_a_class_name_that_does_not_resolve_exits_2_with_one_line(tmp_path):
    code, output = start_refused(tmp_path, backend(classname="rc_app.NoSuchSession", id="backend"))
    assert code == 2
    (line,) = critical_lines(output)
    assert line.endswith(f"{tmp_path / 'node' / 'config.json'}: workers[0].components[0].classname: router "
                         f"component backend (class rc_app.NoSuchSession): module 'rc_app' "
                         f"({APPS / 'rc_app.py'}) has no 'NoSuchSession'. Fix the name"), line
    assert READY_LINE not in output and "Traceback" not in output


def test_a_class_that_is_no_session_exits_2(tmp_path):
    code, output = start_refused(tmp_path, backend(classname="rc_app.NotASession"))
    assert code == 2
    (line,) = critical_lines(output)
    assert "component001 (class rc_app.NotASession): rc_app.NotASession is not a subclass of " \
           "autobahn.twisted.wamp.ApplicationSession" in line


def test_a_module_that_fails_to_import_exits_1_with_one_line(tmp_path):
    code, output = start_refused(tmp_path, backend(classname="rc_broken.Session"))
    assert code == 1
    (line,) = critical_lines(output)
    assert line.endswith("Router component component001 (class rc_broken.Session): importing module 'rc_broken' "
                         "raised ModuleNotFoundError: No module named 'wampnode_no_such_dependency'. Install what "
                         "it imports"), line


@pytest.mark.parametrize("classname, error", [
    ("rc_app.FailingJoin", "onJoin raised RuntimeError: join failed on purpose"),
    ("rc_app.FailingInit", "its constructor raised RuntimeError: constructor failed on purpose"),
])
def test_code_failing_while_starting_exits_1_with_one_line(tmp_path, classname, error):
    code, output = start_refused(tmp_path, backend(id="app"), backend(classname=classname, id="failing"))
    assert code == 1
    (line,) = critical_lines(output)
    assert line.endswith(f"[critical] Router component failing (class {classname}): {error}"), line
    assert READY_LINE not in output and "Traceback" not in output
    assert "[warn]" not in output and "[error]" not in output, output  # nothing but the one line


def test_debug_shows_the_traceback_of_a_failing_onjoin(tmp_path):
    cbdir = write_config(tmp_path / "node", component_config(free_port(), backend(classname="rc_app.FailingJoin")))
    result = run_cli("--debug", "start", "--cbdir", str(cbdir), timeout=30)
    assert result.returncode == 1
    assert "Traceback" in result.stdout and 'rc_app.py", line' in result.stdout, result.stdout


def test_a_join_callback_raising_exits_1(tmp_path):
    code, output = start_refused(tmp_path, {"type": "function", "realm": "realm1",
                                            "callbacks": {"join": "rc_functions.failing_join"}})
    assert code == 1
    (line,) = critical_lines(output)
    assert line.endswith("Router component component001 (function, join=rc_functions.failing_join): a join "
                         "callback raised ValueError: join callback failed on purpose"), line


# --- processes: N ------------------------------------------------------------------------------


def test_with_two_processes_components_run_in_process_1_and_come_back_with_it(tmp_path):
    """Process 1 runs the component; a client on process 2 calls it through the backplane.
    Process 1 killed with SIGKILL: the supervisor restarts it, the component joins again, and
    the client on process 2 reaches it again."""
    from test_cluster_e2e import process_of

    port = free_port()
    node = start_node(component_config(port, backend(), processes=2, endpoint={"shared": True}),
                      tmp_path / "node", wait=False)
    try:
        assert node.wait_for("All router processes ready", 40), node.output()
        workers = {p.environ()["WAMPNODE_PROCESS"]: p.pid for p in psutil.Process(node.proc.pid).children()
                   if "node.process.cluster_worker" in " ".join(p.cmdline())}
        output = node.output()
        assert "[router 1/2] Router component component001 (class rc_app.Backend) joined" in output
        assert "[router 2/2] Router components run in router process 1 only: 1 component(s)" in output
        assert output.count("Router component component001 (class rc_app.Backend) joined") == 1

        async def scenario() -> None:
            client = None
            for _ in range(60):  # the kernel spreads connections over the two processes
                candidate = await connect(f"ws://127.0.0.1:{port}/")
                if process_of(candidate, list(workers.values())) == workers["2/2"]:
                    client = candidate
                    break
                await leave(candidate)
            assert client is not None, "no connection landed on process 2"
            assert await client.call("com.test.add2", 1, 2) == 3
            os.kill(workers["1/2"], signal.SIGKILL)

            async def answers() -> bool:
                try:
                    return await asyncio.wait_for(client.call("com.test.add2", 2, 2), 10) == 4
                except ApplicationError:  # while the component is away
                    return False

            assert await _until_async(answers, True, timeout=30)
            await leave(client)

        run(scenario())
        assert node.wait_for("Router process 1/2", 5) and node.wait_for("is back", 5)
        assert node.output().count("Router component component001 (class rc_app.Backend) joined") == 2
    finally:
        assert node.stop() == 0


# --- helpers ---------------------------------------------------------------------------------


async def _until(predicate: Any, interval: float = 0.02) -> None:
    while not predicate():
        await asyncio.sleep(interval)


async def _until_async(probe: Any, wanted: Any, timeout: float = 10.0, interval: float = 0.05) -> bool:
    """Await ``probe()`` until it returns ``wanted`` (True) or ``timeout`` s pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if await probe() == wanted:
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)


def _stamp(line: str) -> float:
    """Seconds of a log line's timestamp (2026-01-01T10:00:00.123Z)."""
    clock = line.split(" ", 1)[0].split("T")[1].rstrip("Z")
    hours, minutes, seconds = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_values_a_client_cannot_decode_give_an_error_not_silence(tmp_path, node_factory):
    """A component returns a set (no JSON): the ws caller gets wamp.error.invalid_payload
    instead of waiting forever; an event with an object is skipped with a warning; the
    component calling a ws callee with such a value gets the error too."""
    port = free_port()
    node = node_factory(component_config(port, backend(classname="rc_app.Unserializable")), cbdir=tmp_path / "node")

    async def scenario() -> None:
        client = await connect(f"ws://127.0.0.1:{port}/")
        with pytest.raises(SerializationError) as info:  # autobahn's class for wamp.error.invalid_payload
            await client.call("com.test.a_set")
        assert str(info.value) == "RESULT cannot be encoded for its receiver: TypeError: Object of type set is " \
                                  "not JSON serializable"
        events: List[Any] = []
        await client.subscribe(lambda *args: events.append(args), "com.test.event")
        await client.register(lambda value: "unreachable", "com.test.client.echo")
        assert await client.call("com.test.call_client_with_a_set") == (
            "SerializationError: INVOCATION cannot be encoded for its receiver: TypeError: Object of type set is "
            "not JSON serializable")
        await client.call("com.test.publish_object")
        await client.call("com.test.publish_text")
        await asyncio.wait_for(_until(lambda: events), 10)
        assert events == [("text",)]
        await leave(client)

    run(scenario())
    output = node.output()
    for what in ("RESULT", "INVOCATION", "EVENT"):
        assert f"[warn] {what} for session " in output and "cannot be encoded for it (TypeError" in output, output
    assert node.stop() == 0


@pytest.mark.parametrize("inherit, kept", [(True, ["DROP", "KEEP"]), (False, []), (["KEEP"], ["KEEP"])])
def test_router_options_env_and_pythonpath_apply_to_the_process(tmp_path, inherit, kept):
    """options.env makes the process environment what Crossbar.io computes for the router
    worker (inherit, vars, PYTHONUNBUFFERED); pythonpath goes in front of sys.path, once.
    (In a process of its own: the module loads autobahn's Twisted flavour.)"""
    code = f"""
import json, sys
from node.config.model import ProcessEnv, RouterOptions
from node.workers.component_loading import prepare_process
environ = {{"KEEP": "k", "DROP": "d"}}
options = RouterOptions(pythonpath=("/x/a", "/x/b"), env=ProcessEnv(
    inherit={inherit if isinstance(inherit, bool) else tuple(inherit)!r}, vars={{"NEW": "n"}}, path="env"))
before = list(sys.path)
prepare_process(options, environ)
prepare_process(options, environ)
print(json.dumps([environ, sys.path[:2], sys.path[2:] == before]))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=node_env(), timeout=60)
    assert result.returncode == 0, result.stderr
    environ, front, rest_unchanged = json.loads(result.stdout)
    assert front == ["/x/a", "/x/b"] and rest_unchanged
    assert environ == dict({"NEW": "n", "PYTHONUNBUFFERED": "1"}, **{k: k.lower()[0] for k in kept})


def test_stopping_while_a_component_joins_is_one_line(tmp_path):
    """SIGTERM while onJoin still runs: the component leaves, one line says the start did
    not complete, exit 1 (the node never was ready), nothing else logged as an error."""
    node = start_node(component_config(free_port(), {"type": "class", "classname": "rc_app.SlowJoin",
                                                     "realm": "realm1"}), tmp_path / "node", wait=False)
    try:
        assert node.wait_for("Listening:", 20), node.output()
        node.signal(signal.SIGTERM)
        assert node.proc.wait(20) == 1
    finally:
        node.stop()
    output = node.output()
    assert critical_lines(output)[0].endswith(
        "Router component component001 (class rc_app.SlowJoin): the node was stopped before it had joined"), output
    assert len(critical_lines(output)) == 1 and READY_LINE not in output and "Traceback" not in output, output
