"""Container and guest workers, run by a real node started from the CLI (issue 14).

Our own apps (tests/apps/): Python components in a container and a Node.js guest,
each driven by a client that calls its procedure, receives its events and serves
the procedure it calls; then the lifecycle: restart and shutdown policies with
backoff, stop with GOODBYE, no orphan when the node is killed, watch, status.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
import textwrap
import time
import urllib.request

import pytest
from autobahn.wamp.exception import ApplicationError

from conftest import READY_LINE, free_port, run_cli, wait_until
from hosting import (NODEJS, alive, call_until, component, config, container, exercise, group_alive,
                     nodejs_guest, python_guest, status_file, worker_status)
from test_systemd_notify import NotifySocket
from wampclient import connect, leave, run

needs_node = pytest.mark.skipif(NODEJS is None, reason="Node.js is not installed")


def pids_of(cbdir) -> dict:
    return {w["id"]: w["pid"] for w in status_file(cbdir)["workers"]}


@needs_node
def test_container_and_guest_components_answer(node_factory):
    """A class and a function component in a container and a Node.js guest answer a client;
    a procedure that raises reaches the caller as an error; status and nodeinfo list both
    workers; SIGHUP restarts nothing; SIGTERM: every component says GOODBYE, exit 0, no child left."""
    port = free_port()
    fn = {"type": "function", "callbacks": {"join": "hostedapp.on_join"}, "realm": "realm1",
          "extra": {"prefix": "fn"}, "transport": component(port)["transport"]}
    node = node_factory(config(port, container(port, component(port), fn, env={"vars": {"HOSTED_FLAG": "on"}}),
                               nodejs_guest(port)))
    url = f"ws://127.0.0.1:{port}/ws"

    async def scenario() -> None:
        await exercise(url, "app")
        await exercise(url, "js", result_topic=True)
        session = await connect(url)
        assert await call_until(session, "fn.upper", "hello") == "HELLO"
        with pytest.raises(ApplicationError) as raised:
            await session.call("app.fail")
        assert raised.value.error == "app.error.failed"
        assert await session.call("app.add2", 20, 22) == 42  # the component carries on
        whoami = await session.call("app.whoami")
        assert whoami["extra"] == {"prefix": "app", "cbdir": str(node.cbdir)}
        assert whoami["cwd"] == str(node.cbdir) and whoami["flag"] == "on"
        await leave(session)

    run(scenario())
    output = node.output()
    assert "[backend] backend app printed this" in output  # a print() of the component, tagged
    assert output.index("[backend] Every component joined") < output.index(READY_LINE)

    status = run_cli("status", "--cbdir", str(node.cbdir))
    assert status.returncode == 0, status.stdout + status.stderr
    pids = pids_of(node.cbdir)
    assert f"container backend: running, pid {pids['backend']}, uptime 00:00:" in status.stdout
    assert "restarts 0 (2 of 2 component(s) joined)" in status.stdout
    assert f"guest jsguest: running, pid {pids['jsguest']}, uptime 00:00:" in status.stdout
    request = urllib.request.Request(f"http://127.0.0.1:{port}/info", headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        workers = json.loads(response.read())["workers"]
    assert [(w["id"], w["type"], w["state"], w["pid"], w["restarts"]) for w in workers] == [
        ("backend", "container", "running", pids["backend"], 0), ("jsguest", "guest", "running", pids["jsguest"], 0)]
    assert all(w["uptime"] >= 0 for w in workers)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/info", timeout=5) as response:
        page = response.read().decode()
    assert f"id backend, type container, pid {pids['backend']}, state running" in page

    node.signal(signal.SIGHUP)
    assert node.wait_for("TLS certificates and keys reloaded")
    assert pids_of(node.cbdir) == pids and all(w["restarts"] == 0 for w in status_file(node.cbdir)["workers"])

    assert node.stop() == 0
    output = node.output()
    assert "[backend] Component component001 left (wamp.close.normal)" in output
    assert "[backend] Component component002 left (wamp.close.normal)" in output
    assert "[jsguest] SIGTERM: leaving" in output
    assert "Container backend (pid {}) stopped (exit code 0)".format(pids["backend"]) in output
    assert "Guest jsguest (pid {}) stopped (exit code 0)".format(pids["jsguest"]) in output
    assert not any(alive(pid) or group_alive(pid) for pid in pids.values())
    assert not (node.cbdir / "node.status.json").exists()
    assert "Traceback" not in output


def test_ready_comes_after_every_component_joined(tmp_path, node_factory):
    """sd_notify READY=1 (and "Node ready") wait for a component whose onJoin takes 1 s: the
    moment READY arrives, its procedure can be called without a retry."""
    port = free_port()
    sock = NotifySocket()
    try:
        node = node_factory(config(port, container(port, component(port, classname="hostedapp.SlowBackend"))),
                            env=sock.env(), wait=False)
        sock.wait_for("READY", node)

        async def scenario() -> None:
            session = await connect(f"ws://127.0.0.1:{port}/ws")
            assert await session.call("app.add2", 1, 2) == 3
            await leave(session)

        run(scenario())
        assert "workers: 1 container(s)" in sock.messages[-1]["STATUS"]
        assert node.wait_for(READY_LINE)
    finally:
        sock.close()


def test_component_retries_until_its_router_is_there(tmp_path, node_factory):
    """A node with only a container, whose router (another node) starts later: the component
    retries with backoff, joins when the router is up, and only then is the node ready. A
    SIGTERM while it still retries exits 0 too."""
    port = free_port()
    hosting_only = {"version": 2, "workers": [container(port)]}
    waiting = node_factory(hosting_only, cbdir=tmp_path / "waiting", wait=False)
    refused = f"Component component001: cannot connect to tcp 127.0.0.1:{port}: ConnectionRefusedError"
    assert wait_until(lambda: waiting.output().count(refused) >= 2, 15), waiting.output()
    assert READY_LINE not in waiting.output()
    node_factory(config(port), cbdir=tmp_path / "router")
    assert waiting.wait_for(READY_LINE, 15), waiting.output()
    assert "Node ready: 0 transport(s) listening, workers: 1 container(s)" in waiting.output()

    never = node_factory({"version": 2, "workers": [container(free_port())]}, cbdir=tmp_path / "never", wait=False)
    assert wait_until(lambda: "cannot connect to tcp" in never.output(), 15)
    pid = worker_status(never.cbdir, "backend")["pid"]
    assert never.stop() == 0
    assert not alive(pid)


def test_container_killed_restarts_and_registrations_return(node_factory):
    """SIGKILL of a restart-always container: its registrations go (no_such_procedure), it is
    restarted after 0.5 s, and they come back."""
    port = free_port()
    node = node_factory(config(port, container(port, restart="restart-always")))
    first = worker_status(node.cbdir, "backend")["pid"]

    async def scenario() -> None:
        session = await connect(f"ws://127.0.0.1:{port}/ws")
        assert await session.call("app.add2", 2, 3) == 5
        os.kill(first, signal.SIGKILL)
        errors = []

        async def gone() -> bool:
            try:
                await session.call("app.add2", 2, 3)
            except ApplicationError as e:
                errors.append(e.error)  # a call in flight when the callee went: wamp.error.canceled
            return bool(errors) and errors[-1] == "wamp.error.no_such_procedure"

        deadline = time.monotonic() + 10
        while not await gone() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)  # the polling interval
        assert errors and errors[-1] == "wamp.error.no_such_procedure", errors
        assert set(errors) <= {"wamp.error.canceled", "wamp.error.no_such_procedure"}, errors
        assert await call_until(session, "app.add2", 2, 3) == 5
        await leave(session)

    run(scenario())
    assert node.wait_for("restarting it in 0.5 s (restart-always)")
    assert f"Container backend (pid {first}) ended (signal SIGKILL)" in node.output()
    assert wait_until(lambda: (worker_status(node.cbdir, "backend") or {}).get("state") == "running")
    now = worker_status(node.cbdir, "backend")
    assert now["restarts"] == 1 and now["pid"] != first and alive(now["pid"]) and not alive(first)
    assert "Container backend is back" in node.output()


def test_component_policies_restart_on_failed_and_shutdown(node_factory):
    """Two containers. ``restart-never`` + ``shutdown-manual``: a killed session stays down and the
    container carries on. ``restart-on-failed`` + ``shutdown-on-last-component-stopped``: a killed
    session (a failure) is restarted in the same process; a clean leave is not, and as the last
    component it ends the container (exit 0), and a container that ends for good stops the node (0)."""
    port = free_port()
    node = node_factory(config(
        port,
        container(port, component(port, prefix="a"), worker_id="keeper", restart="restart-on-failed",
                  shutdown="shutdown-on-last-component-stopped"),
        container(port, component(port, prefix="b"), worker_id="oneshot")))
    keeper = worker_status(node.cbdir, "keeper")["pid"]

    async def scenario() -> None:
        session = await connect(f"ws://127.0.0.1:{port}/ws")
        b = await session.call("b.whoami")
        await session.call("wamp.session.kill", b["session"])
        assert wait_until(lambda: "Component component002 failed" in node.output())
        with pytest.raises(ApplicationError) as raised:
            await session.call("b.add2", 1, 1)
        assert raised.value.error == "wamp.error.no_such_procedure"
        a = await session.call("a.whoami")
        await session.call("wamp.session.kill", a["session"])
        again = None
        for _ in range(200):
            again = await call_until(session, "a.whoami")
            if again["session"] != a["session"]:
                break
        assert again["session"] != a["session"] and again["pid"] == a["pid"] == keeper
        # the restarted component registers its procedures one after another: whoami may come first
        assert await call_until(session, "a.leave") == "leaving"
        await leave(session)

    run(scenario())
    assert wait_until(lambda: node.proc.poll() is not None, 15)
    assert node.proc.returncode == 0
    output = node.output()
    assert "Component component002 failed: wamp.close.killed" in output
    assert "not restarted (restart-never)" in output and "The container carries on (shutdown-manual)" in output
    assert "Component component001 failed: wamp.close.killed" in output
    assert "restarting it in 0.5 s (restart-on-failed)" in output
    assert "Component component001 left cleanly; not restarted (restart-on-failed)" in output
    assert "Stopping the container (shutdown-on-last-component-stopped)" in output
    assert f"Container keeper (pid {keeper}) ended (exit code 0); not restarted (restart-on-failed)" in output
    assert "Container keeper ended (exit code 0) and is not restarted (restart-on-failed): stopping the node" in output


def test_restart_never_container_killed_stops_the_node(node_factory):
    """A container that ends and is not restarted stops the node, exit code 1 after a signal."""
    port = free_port()
    node = node_factory(config(port, container(port)))
    pid = worker_status(node.cbdir, "backend")["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: node.proc.poll() is not None, 15)
    assert node.proc.returncode == 1
    assert (f"Container backend (pid {pid}) ended (signal SIGKILL); not restarted (restart-never)"
            in node.output())


def test_component_that_cannot_join_stops_the_start(tmp_path, node_factory):
    """A component refused by the router (wrong WAMP-CRA secret) in a restart-never container:
    one line names it, the start fails with exit code 1."""
    port = free_port()
    cfg = config(port, container(port, component(port, auth={"wampcra": {"authid": "carl", "secret": "wrong"}})))
    cfg["workers"][0]["transports"][0]["paths"]["ws"]["auth"] = {"wampcra": {"type": "static", "users": {
        "carl": {"secret": "right", "role": "backend"}}}}
    cfg["workers"][0]["realms"][0]["roles"] = [{"name": "backend", "permissions": [
        {"uri": "", "match": "prefix", "allow": {"call": True, "register": True, "publish": True,
                                                 "subscribe": True}}]}]
    node = node_factory(cfg, wait=False)
    assert wait_until(lambda: node.proc.poll() is not None, 20)
    assert node.proc.returncode == 1
    output = node.output()
    assert "Component component001 could not join: wamp.error.not_authorized" in output
    assert "container backend ended (exit code 1) before its components joined" in output
    assert READY_LINE not in output and "Traceback" not in output


def test_any_component_failed_ends_the_container_and_the_node(node_factory):
    """``shutdown-on-any-component-failed``: a killed session ends its container (exit 1), and the
    container, not restarted, stops the node with exit code 1."""
    port = free_port()
    node = node_factory(config(port, container(port, component(port, prefix="a"), component(port, prefix="b"),
                                               shutdown="shutdown-on-any-component-failed")))

    async def scenario() -> None:
        session = await connect(f"ws://127.0.0.1:{port}/ws")
        a = await session.call("a.whoami")
        await session.call("wamp.session.kill", a["session"])
        await leave(session)

    run(scenario())
    assert wait_until(lambda: node.proc.poll() is not None, 15)
    assert node.proc.returncode == 1
    output = node.output()
    assert "Stopping the container (shutdown-on-any-component-failed)" in output
    assert "Container backend ended (exit code 1) and is not restarted (restart-never): stopping the node" in output
    assert "Component component002 left (wamp.close.normal)" in output  # the other one said GOODBYE


def test_onjoin_that_raises_fails_the_component(node_factory):
    """A component whose onJoin raises fails (one line, no traceback at info), is restarted with
    backoff as restart-always says, and keeps the node from being ready; SIGTERM still exits 0."""
    port = free_port()
    node = node_factory(config(port, container(port, component(port), component(port, classname="hostedapp.Refuses"),
                                               restart="restart-always")), wait=False)
    assert node.wait_for("restarting it in 1 s (restart-always)", 20), node.output()
    output = node.output()
    assert "Component component002: onJoin raised; closing its session: RuntimeError: refusing to start" in output
    assert ("Component component002 failed: onJoin raised RuntimeError: refusing to start; restarting it in 0.5 s"
            in output)
    assert READY_LINE not in output and "Traceback" not in output
    assert node.stop() == 0


def test_container_components_authenticate(node_factory):
    """Container components log in with ticket, WAMP-CRA (salted) and, where PyNaCl is installed,
    cryptosign, and join with the router's authid and role."""
    port = free_port()
    methods = {"ticket": {"ticket": {"authid": "tom", "ticket": "t1cket"}},
               "wampcra": {"wampcra": {"authid": "carl", "secret": "pw"}}}
    auth = {"ticket": {"type": "static", "principals": {"tom": {"ticket": "t1cket", "role": "backend"}}},
            "wampcra": {"type": "static", "users": {"carl": {"secret": "pw", "role": "backend", "salt": "s4lt",
                                                             "iterations": 50, "keylen": 32}}}}
    try:
        from autobahn.wamp.auth import create_authenticator

        signer = create_authenticator("cryptosign", privkey="11" * 32)
        methods["cryptosign"] = {"cryptosign": {"authid": "cindy", "privkey": "11" * 32}}
        auth["cryptosign"] = {"type": "static", "principals": {"cindy": {
            "realm": "realm1", "role": "backend", "authorized_keys": [signer.authextra["pubkey"]]}}}
    except Exception:  # PyNaCl is a CPython-only dependency: no cryptosign client elsewhere
        pass
    components = [component(port, prefix=name, auth=method) for name, method in methods.items()]
    cfg = config(port, container(port, *components))
    cfg["workers"][0]["transports"][0]["paths"]["ws"]["auth"] = auth
    cfg["workers"][0]["realms"][0]["roles"] = [{"name": "backend", "permissions": [
        {"uri": "", "match": "prefix", "allow": {"call": True, "register": True, "publish": True,
                                                 "subscribe": True}}]}]
    cfg["workers"][0]["transports"][0]["paths"]["open"] = {"type": "websocket", "auth": {
        "anonymous": {"type": "static", "role": "backend"}}}
    node_factory(cfg)

    async def scenario() -> None:
        session = await connect(f"ws://127.0.0.1:{port}/open")
        for name, method in methods.items():
            whoami = await session.call(f"{name}.whoami")
            assert (whoami["authid"], whoami["authrole"]) == (method[name]["authid"], "backend")
        await leave(session)

    run(scenario())


def test_guest_that_exits_at_once_backs_off(node_factory):
    """A guest that exits at once, forever, restarts after 0.5, 1, 2, 4 s... (not a busy loop); one
    with restart-never stays down, and the node carries on."""
    port = free_port()
    quick = {"type": "guest", "id": "quick", "executable": "sh", "arguments": ["-c", "echo bye; exit 3"],
             "options": {"restart": "restart-always"}}
    once = {"type": "guest", "id": "once", "executable": "sh", "arguments": ["-c", "exit 0"]}
    clean = {"type": "guest", "id": "clean", "executable": "sh", "arguments": ["-c", "exit 0"],
             "options": {"restart": "restart-on-failed"}}
    node = node_factory(config(port, quick, once, clean))
    assert node.wait_for("restarting it in 4 s (restart-always)", 15)
    output = node.output()
    starts = output.count("Guest quick started")
    assert starts == 4, output  # at 0, 0.5, 1.5 and 3.5 s
    for delay in ("0.5", "1", "2", "4"):
        assert f"ended (exit code 3); restarting it in {delay} s (restart-always)" in output
    assert "[quick] bye" in output
    assert "Guest once" in output and "ended (exit code 0); not restarted (restart-never)" in output
    assert worker_status(node.cbdir, "once")["state"] == "exited"
    assert "ended (exit code 0); not restarted (restart-on-failed)" in output
    assert output.count("Guest clean started") == 1
    assert node.proc.poll() is None


def test_node_killed_with_sigkill_leaves_no_orphan(tmp_path, node_factory):
    """kill -9 of the node: the container (SIGTERM from the kernel) and the guest (SIGKILL) go
    with it, and nothing is left of their process groups."""
    port = free_port()
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text("import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
    node = node_factory(config(port, container(port), python_guest(sleeper)))
    pids = pids_of(node.cbdir)
    assert node.wait_for("[pyguest] sleeping")
    node.proc.kill()
    node.proc.wait(5)
    assert wait_until(lambda: not any(alive(pid) or group_alive(pid) for pid in pids.values()), 10), pids


def test_watch_change_restarts_the_guest_once(tmp_path, node_factory):
    """Three files written at once under a watched directory restart the guest once."""
    port = free_port()
    watched = tmp_path / "watched"
    (watched / "sub").mkdir(parents=True)
    script = tmp_path / "guest.py"
    script.write_text(textwrap.dedent("""\
        import os, signal
        print("guest started", os.getpid(), flush=True)
        signal.pause()
        """))
    node = node_factory(config(port, python_guest(script, watch={"directories": [str(watched)], "timeout": 0.5})))
    assert node.wait_for("[pyguest] guest started")
    first = worker_status(node.cbdir, "pyguest")["pid"]
    for name in ("a.txt", "b.txt", "sub/c.txt"):
        (watched / name).write_text("changed")
    assert wait_until(lambda: node.output().count("[pyguest] guest started") == 2)
    assert not wait_until(lambda: node.output().count("[pyguest] guest started") > 2, 1.5)
    status = worker_status(node.cbdir, "pyguest")
    assert status["restarts"] == 1 and status["pid"] != first and status["state"] == "running"
    assert node.output().count("changed (options.watch)") == 1
    assert f"{watched}{os.sep}a.txt changed (options.watch)" in node.output()


@pytest.mark.skipif(shutil.which("nats-server") is None, reason="nats-server is not installed")
def test_processes_n_run_the_workers_once_in_the_supervisor(tmp_path, node_factory):
    """With ``processes: 2`` the supervisor runs a guest and a container once (not each router
    process); the node is ready when they are; stop: exit 0, no child left."""
    port = free_port()
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text("import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
    cfg = config(port, python_guest(sleeper), container(port))
    cfg["workers"][0]["options"] = {"processes": 2}
    cfg["workers"][0]["transports"][0]["endpoint"]["shared"] = True
    node = node_factory(cfg, wait=False)
    assert node.wait_for("Node ready: 2 router processes", 40), node.output()
    output = node.output()
    assert output.count("Guest pyguest started") == 1 and output.count("Container backend started") == 1
    assert output.index("All router processes ready") < output.index("Guest pyguest started")
    run(exercise(f"ws://127.0.0.1:{port}/ws", "app"))
    status = run_cli("status", "--cbdir", str(node.cbdir))
    assert "guest pyguest: running" in status.stdout and "container backend: running" in status.stdout
    pids = pids_of(node.cbdir)
    assert node.stop() == 0
    assert not any(alive(pid) or group_alive(pid) for pid in pids.values())


def test_worker_lines_in_the_json_log(tmp_path, node_factory):
    """With --logformat json a guest's stdout and stderr lines and a container's log lines carry
    ``worker`` and ``stream``; a container's line keeps its level and its own fields."""
    port = free_port()
    script = tmp_path / "talker.py"
    script.write_text("import sys\nprint('hello out', flush=True)\nprint('hello err', file=sys.stderr, flush=True)\n")
    node = node_factory(config(port, container(port), python_guest(script)), args=["--logformat", "json"])
    assert node.wait_for("not restarted (restart-never)")
    lines = [json.loads(line) for line in node.output().splitlines() if line.startswith("{")]
    out = next(l for l in lines if l.get("line") == "hello out")
    assert (out["worker"], out["stream"], out["level"], out["message"]) == ("pyguest", "stdout", "info",
                                                                            "[pyguest] hello out")
    err = next(l for l in lines if l.get("line") == "hello err")
    assert (err["worker"], err["stream"], err["level"]) == ("pyguest", "stderr", "warn")
    ready = next(l for l in lines if l.get("line") == "backend app ready")
    assert (ready["worker"], ready["stream"], ready["level"], ready["prefix"]) == ("backend", "log", "info", "app")
    assert node.proc.poll() is None


def test_guest_stdin_json_and_dropped_stdout(tmp_path, node_factory):
    """``stdin`` as JSON is written then closed; ``stdout: drop`` reads and discards, stderr is logged."""
    port = free_port()
    script = tmp_path / "reader.py"
    script.write_text("import sys\nprint('dropped line', flush=True)\n"
                      "print('got', sys.stdin.read(), file=sys.stderr, flush=True)\n")
    node = node_factory(config(port, python_guest(script, stdin={"type": "json", "value": {"a": [1, "ü"]}},
                                                  stdout="drop")))
    assert node.wait_for("not restarted (restart-never)")
    output = node.output()
    assert '[pyguest] got {"a": [1, "ü"]}' in output and "dropped line" not in output


def test_restart_backoff_and_output_lines():
    """The backoff doubles while runs are short and resets after a long one; a child's output
    becomes whole lines, and a line without end is passed on in bounded pieces."""
    from node.process.children import MAX_LINE, OutputLines
    from node.workers.restarts import RestartBackoff

    backoff = RestartBackoff()
    assert [backoff.delay(0.1) for _ in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay(10.0) == 0.5 and backoff.delay(1.0) == 1
    lines = []
    out = OutputLines(lines.append)
    out.feed(b"one\r\ntw")
    out.feed(b"o\n\xff\n")
    assert lines == ["one", "two", "\ufffd"]
    out.feed(b"x" * (MAX_LINE * 5))
    assert all(len(line) <= MAX_LINE for line in lines) and len(out.buffer) <= MAX_LINE * 4
    out.flush()
    assert sum(len(line) for line in lines[3:]) == MAX_LINE * 5


def test_status_lists_a_disabled_container(node_factory):
    """A disabled container is not started, and status says so."""
    port = free_port()
    node = node_factory(config(port, container(port, disabled=True)))
    result = run_cli("status", "--cbdir", str(node.cbdir))
    assert "container backend: disabled, pid -, uptime -, restarts 0 (options.disabled)" in result.stdout
    assert "Container backend is disabled (options.disabled): not started" in node.output()


def test_status_ignores_a_stale_status_file(tmp_path, node_factory):
    """A status file written by another pid than the running node is not shown."""
    port = free_port()
    node = node_factory(config(port))
    (node.cbdir / "node.status.json").write_text(json.dumps({"pid": 1, "workers": [
        {"id": "ghost", "type": "guest", "pid": 1, "state": "running", "started": 0, "restarts": 0}]}))
    result = run_cli("status", "--cbdir", str(node.cbdir))
    assert result.returncode == 0 and "ghost" not in result.stdout and "workers:" not in result.stdout


if sys.platform != "linux":  # PR_SET_PDEATHSIG and inotify are Linux's
    pytestmark = pytest.mark.skip(reason="Linux only")
