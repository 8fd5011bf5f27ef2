"""A static path whose directory does not exist: a warning, a node that starts, 404s until it exists.

Crossbar.io starts such a node, and its published examples rely on it
(``rest/caller`` names a ``../web`` directory the example does not ship).
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from conftest import free_port, router_config, run_cli, start_node, tcp


def _get(port: int, path: str) -> tuple:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _config(port: int) -> dict:
    paths = {"/": {"type": "static", "directory": "../web"}, "info": {"type": "nodeinfo"}}
    return router_config([{"type": "web", "endpoint": tcp(port), "paths": paths}])


def test_check_warns_and_exits_0(tmp_path):
    cbdir = tmp_path / ".crossbar"
    cbdir.mkdir(mode=0o700)
    (cbdir / "config.json").write_text(json.dumps(_config(free_port())))
    result = run_cli("check", "--cbdir", str(cbdir))
    assert result.returncode == 0, result
    (line,) = result.stderr.splitlines()
    assert line.startswith("warning: ") and ".crossbar/config.json: workers[0].transports[0].paths./.directory: " in line
    assert f"{tmp_path / 'web'} does not exist, so this path answers 404 until it does. Fix: create the directory" in line
    assert "OK (1 realm(s), 1 transport(s), 1 warning(s))" in result.stdout, result.stdout


def test_start_logs_serves_404_then_the_files_once_the_directory_exists(tmp_path):
    port = free_port()
    cbdir = tmp_path / ".crossbar"
    cbdir.mkdir(mode=0o700)
    node = start_node(_config(port), cbdir)
    try:
        assert f"[warn] " in node.output() and f"{tmp_path / 'web'} does not exist" in node.output(), node.output()
        assert _get(port, "/")[0] == 404
        assert _get(port, "/index.html")[0] == 404
        assert _get(port, "/info")[0] == 200  # the rest of the web tree serves
        (tmp_path / "web").mkdir()
        (tmp_path / "web" / "index.html").write_text("<p>built later</p>")
        assert _get(port, "/index.html") == (200, b"<p>built later</p>")
    finally:
        node.stop()
