"""The wampnode command: init, start, stop, status, check, version; signals and pidfile."""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys


from conftest import REPO, free_port, router_config, run_cli, start_node, tcp, wait_until


def web_config(port: int) -> dict:
    return router_config([{"type": "web", "endpoint": tcp(port), "paths": {"info": {"type": "nodeinfo"}}}])


def test_version_lists_the_stack():
    """`wampnode version` names wampnode, Twisted, autobahn, pyOpenSSL and OpenSSL."""
    result = run_cli("version")
    assert result.returncode == 0
    for name in ("wampnode", "Twisted", "autobahn", "pyOpenSSL", "OpenSSL"):
        assert name in result.stdout


def test_command_line_is_parsed_before_twisted_loads():
    """The parser and `main` load no Twisted: `status` and `stop` start fast, and `start` on
    PyPy executes itself again for its nursery (node.process.pypy_gc) before paying for it."""
    code = ("import sys, node.commands.main as m; m.build_parser().parse_args(['start']); "
            "print(sorted(name for name in sys.modules if name.split('.')[0] in ('twisted', 'autobahn')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


def test_check_ok_and_errors(tmp_path):
    """`check` exits 0 on a good config and 2 with one line per problem on a bad one."""
    (tmp_path / "config.json").write_text(json.dumps(web_config(8080)))
    good = run_cli("check", "--cbdir", str(tmp_path))
    assert good.returncode == 0, good.stderr
    assert "OK" in good.stdout
    bad = web_config(70000)
    bad["workers"][0]["transports"][0]["paths"]["x"] = {"type": "nope"}
    (tmp_path / "config.json").write_text(json.dumps(bad))
    result = run_cli("check", "--cbdir", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert "workers[0].transports[0].endpoint.port: 70000 is greater than the maximum of 65535" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_relative_config_is_looked_up_in_the_node_directory_first(tmp_path):
    """As Crossbar.io (`crossbar start --config=config1.json` with `.crossbar/config1.json`, the
    proxy example's Makefile): a relative --config names a file in the node directory; a path
    relative to the current directory still works when the node directory has no such file."""
    project = tmp_path / "app"
    cbdir = project / ".crossbar"
    cbdir.mkdir(parents=True)
    (cbdir / "config3.json").write_text(json.dumps(web_config(8080)))
    in_cbdir = run_cli("check", "--config", "config3.json", cwd=project)
    assert in_cbdir.returncode == 0, in_cbdir.stderr
    assert str(cbdir / "config3.json") in in_cbdir.stdout or ".crossbar/config3.json" in in_cbdir.stdout
    from_cwd = run_cli("check", "--config", ".crossbar/config3.json", cwd=project)
    assert from_cwd.returncode == 0, from_cwd.stderr
    shadowed = web_config(70000)  # both exist: the node directory's file wins, as in Crossbar.io
    (project / "config3.json").write_text(json.dumps(shadowed))
    assert run_cli("check", "--config", "config3.json", cwd=project).returncode == 0
    missing = run_cli("check", "--config", "nope.json", cwd=project)
    assert missing.returncode == 2 and ".crossbar/nope.json: file not found" in missing.stderr, missing.stderr


def test_start_with_bad_config_exits_2_without_traceback(tmp_path):
    """`start` with an invalid config prints the problem, exits 2, writes no pidfile."""
    (tmp_path / "config.json").write_text("{ not json")
    result = run_cli("start", "--cbdir", str(tmp_path))
    assert result.returncode == 2
    assert "invalid JSON at line 1" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "node.pid").exists()


def test_init_creates_a_working_node_dir_and_refuses_overwrite(tmp_path):
    """`init` writes config, web page, a 0600 dev key; a second init refuses to overwrite."""
    result = run_cli("init", "--appdir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    cbdir = tmp_path / ".crossbar"
    assert (cbdir / "config.json").exists() and (tmp_path / "web" / "index.html").exists()
    assert stat.S_IMODE(os.stat(cbdir / "server.key").st_mode) == 0o600
    check = run_cli("check", "--cbdir", str(cbdir))
    assert check.returncode == 0, check.stderr
    again = run_cli("init", "--appdir", str(tmp_path))
    assert again.returncode == 1 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_start_status_stop(tmp_path):
    """A started node writes its pidfile, `status` reports it, `stop` ends it with exit 0."""
    node = start_node(web_config(free_port()), tmp_path)
    try:
        pid = int((tmp_path / "node.pid").read_text())
        assert pid == node.proc.pid
        status = run_cli("status", "--cbdir", str(tmp_path))
        assert status.returncode == 0 and f"running (pid {pid}" in status.stdout
        assert run_cli("status", "--cbdir", str(tmp_path), "--assert", "stopped").returncode == 1
        stop = run_cli("stop", "--cbdir", str(tmp_path))
        assert stop.returncode == 0, stop.stdout
        assert node.proc.wait(10) == 0
        assert not (tmp_path / "node.pid").exists()
        status = run_cli("status", "--cbdir", str(tmp_path))
        assert status.returncode == 1 and "not running" in status.stdout
    finally:
        node.stop()


def test_live_pidfile_refuses_second_node(tmp_path):
    """A second node in the same node directory refuses to start and names the pid."""
    first = start_node(web_config(free_port()), tmp_path)
    try:
        (tmp_path / "config.json").write_text(json.dumps(web_config(free_port())))
        result = run_cli("start", "--cbdir", str(tmp_path), timeout=20)
        assert result.returncode == 1
        assert f"already running in this node directory (pid {first.proc.pid})" in result.stderr + result.stdout
    finally:
        first.stop()


def test_stale_pidfile_replaced_with_warning(tmp_path):
    """A pidfile of a process that is gone is replaced, with a warning in the log."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "node.pid").write_text(f"{dead.pid}\n")
    node = start_node(web_config(free_port()), tmp_path)
    try:
        assert "Replaced stale pidfile" in node.output()
    finally:
        assert node.stop() == 0


def test_stop_never_signals_a_pid_planted_in_the_pidfile(tmp_path):
    """A pidfile naming a live process that is no node of this directory is not believed:
    `status` says not running and `stop` signals nothing (issue 19, finding 12)."""
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "node.pid").write_text(f"{bystander.pid}\n")
        status = run_cli("status", "--cbdir", str(tmp_path))
        assert status.returncode == 1 and "not running" in status.stdout
        stop = run_cli("stop", "--cbdir", str(tmp_path))
        assert stop.returncode == 1 and "not running" in stop.stdout
        assert bystander.poll() is None, "wampnode stop killed a process that is not a node"
    finally:
        bystander.kill()
        bystander.wait()


def test_pidfile_symlink_is_replaced_not_written_through(tmp_path):
    """A symlink planted as node.pid is removed; its target is left as it was (finding 12)."""
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    cbdir = tmp_path / "cbdir"
    cbdir.mkdir()
    (cbdir / "node.pid").symlink_to(target)
    node = start_node(web_config(free_port()), cbdir)
    try:
        assert target.read_text() == "keep me\n"
        assert not (cbdir / "node.pid").is_symlink()
        assert int((cbdir / "node.pid").read_text()) == node.proc.pid
        assert "Replaced stale symlink" in node.output()
        status = run_cli("status", "--cbdir", str(cbdir))
        assert status.returncode == 0 and f"running (pid {node.proc.pid}" in status.stdout
    finally:
        assert node.stop() == 0
    assert target.read_text() == "keep me\n"


def test_port_in_use_is_one_line_error(tmp_path):
    """Listening on a port that is taken exits 1 with the address and the cause, no traceback."""
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        node = start_node(web_config(port), tmp_path, wait=False)
        assert node.proc.wait(15) == 1
        output = node.output()
        assert f"cannot listen on tcp 127.0.0.1:{port}: address already in use" in output
        assert "Traceback" not in output
        assert not (tmp_path / "node.pid").exists()
    finally:
        blocker.close()


def test_sigint_stops_cleanly(tmp_path):
    """SIGINT stops the node like SIGTERM: exit 0, pidfile removed."""
    node = start_node(web_config(free_port()), tmp_path)
    node.signal(signal.SIGINT)
    assert node.proc.wait(10) == 0
    assert not (tmp_path / "node.pid").exists()
    assert "Received SIGINT, shutting down" in node.output()


def test_logs_one_line_per_transport(tmp_path):
    """Start-up logs one line per listening transport with kind, address and TLS flag."""
    port = free_port()
    node = start_node(web_config(port), tmp_path)
    try:
        assert f"Listening: web transport transport000 on tcp 127.0.0.1:{port} (TLS no), paths: info" in node.output()
    finally:
        node.stop()


def json_log_lines(output: str) -> list:
    """Every line of a json log as a dict; fails on any line that is not one JSON object."""
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines and all(isinstance(l, dict) for l in lines), output
    return lines


def test_json_log_format(tmp_path):
    """--logformat json writes one JSON object per line: time, level, namespace, message and the structured fields."""
    import re
    import urllib.request

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "node.pid").write_text(f"{dead.pid}\n")  # gives a warn line with a field
    port = free_port()
    config = web_config(port)
    config["workers"][0]["transports"][0]["options"] = {"access_log": True}
    node = start_node(config, tmp_path, args=["--logformat", "json"])
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/info?x=\"quoted\"", timeout=5) as response:
        assert response.status == 200
    assert node.stop() == 0
    lines = json_log_lines(node.output())
    for line in lines:
        assert {"time", "level", "namespace", "message"} <= set(line), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"]), line
        assert line["level"] in ("critical", "error", "warn", "info", "debug"), line
        assert all(not k.startswith("log_") for k in line), line
    started = next(l for l in lines if l["message"].startswith("wampnode ") and "starting" in l["message"])
    assert started["pid"] == node.proc.pid and started["cbdir"] == str(tmp_path) and started["version"]
    listening = next(l for l in lines if l["message"].startswith("Listening: "))
    assert listening["transport"] == listening["message"][len("Listening: "):]
    ready = next(l for l in lines if l["message"].startswith("Node ready"))
    assert ready["count"] == 1 and ready["namespace"] == "node.workers.router"
    stale = next(l for l in lines if l["level"] == "warn")
    assert "Replaced stale pidfile" in stale["message"] and stale["warning"] == stale["message"]
    access = next(l for l in lines if l.get("method") == "GET")
    assert access["uri"] == '/info?x="quoted"' and access["code"] == 200
    assert access["peer"].startswith("IPv4Address(") and "127.0.0.1" in access["peer"]  # objects become strings
    assert any(l.get("name") == "SIGTERM" for l in lines)


def test_json_log_level_filter(tmp_path):
    """--loglevel warn with --logformat json keeps only the warn line (no info lines)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "node.pid").write_text(f"{dead.pid}\n")
    port = free_port()
    node = start_node(web_config(port), tmp_path, args=["--logformat", "json", "--loglevel", "warn"], wait=False)

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    assert wait_until(lambda: node.proc.poll() is not None or listening(), 15), node.output()
    assert node.stop() == 0
    lines = json_log_lines(node.output())
    assert [l["level"] for l in lines] == ["warn"], lines


def test_init_node_starts_and_serves_wss(tmp_path):
    """The node `init` writes starts, serves its page over http and over https with its own certificate."""
    import subprocess as sp

    assert run_cli("init", "--appdir", str(tmp_path)).returncode == 0
    cbdir = tmp_path / ".crossbar"
    config = json.loads((cbdir / "config.json").read_text())
    web_port, tls_port = free_port(), free_port()
    config["workers"][0]["transports"][0]["endpoint"]["port"] = web_port
    config["workers"][0]["transports"][1]["endpoint"]["port"] = tls_port
    (cbdir / "config.json").write_text(json.dumps(config))
    node = start_node(None, cbdir)
    try:
        plain = sp.run(["curl", "-sS", f"http://127.0.0.1:{web_port}/"], capture_output=True, text=True)
        assert "wampnode is running" in plain.stdout
        secure = sp.run(["curl", "-sS", "--cacert", str(cbdir / "server.crt"), f"https://localhost:{tls_port}/"],
                        capture_output=True, text=True)
        assert "wampnode is running" in secure.stdout, secure.stderr
    finally:
        assert node.stop() == 0
