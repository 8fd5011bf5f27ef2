"""Crossbar.io version 1 configs: read as `crossbar upgrade` would rewrite them, with a
warning; `wampnode upgrade` rewrites the file (Crossbar.io's rest/caller_performance
example ships one, config_multi_worker.json)."""
from __future__ import annotations

import json
import os
import stat

from conftest import free_port, run_cli

from node.config import load_config


def v1_config(port: int, version: object = None) -> dict:
    """Version 1 as Crossbar.io's examples wrote it: no `version`, permissions with the actions as keys."""
    config = {
        "controller": {},
        "workers": [{
            "type": "router",
            "realms": [{"name": "realm1", "roles": [{"name": "anonymous", "permissions": [
                {"uri": "*", "publish": True, "subscribe": True, "call": True, "register": True},
                {"uri": "com.example.exact", "call": True},
            ]}]}],
            "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "port": port}}],
        }],
    }
    if version is not None:
        config["version"] = version
    return config


def write(cbdir, config: dict, name: str = "config.json"):
    cbdir.mkdir(parents=True, exist_ok=True)
    path = cbdir / name
    path.write_text(json.dumps(config, indent=4))
    return path


def test_version_1_is_read_as_upgraded(tmp_path):
    write(tmp_path, v1_config(free_port()))
    config = load_config(str(tmp_path))
    assert config.read_as_version_1
    everything, exact = config.realms[0].roles[0].permissions
    assert (everything.uri, everything.match) == ("", "prefix")  # "*": every URI, as Crossbar.io reads it
    assert (everything.call, everything.register, everything.publish, everything.subscribe) == (True,) * 4
    assert (exact.uri, exact.match) == ("com.example.exact", "exact")
    assert (exact.call, exact.register, exact.publish, exact.subscribe) == (True, False, False, False), \
        "an action version 1 left out is not allowed"
    assert not exact.disclose_caller and exact.cache


def test_version_2_without_version_key_is_unchanged(tmp_path):
    """wampnode always read a config without `version` as version 2: those are not touched."""
    config = v1_config(free_port())
    config["workers"][0]["realms"][0]["roles"][0]["permissions"] = [
        {"uri": "", "match": "prefix", "allow": {"call": True}, "disclose": {"caller": True}}]
    write(tmp_path, config)
    loaded = load_config(str(tmp_path))
    assert not loaded.read_as_version_1
    assert loaded.realms[0].roles[0].permissions[0].disclose_caller


def test_check_warns_and_upgrade_rewrites(tmp_path):
    cbdir = tmp_path / ".crossbar"
    path = write(cbdir, v1_config(free_port()), "config_multi_worker.json")
    os.chmod(path, 0o640)
    checked = run_cli("check", "--config", "config_multi_worker.json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    warnings = [line for line in checked.stdout.splitlines() + checked.stderr.splitlines()
                if line.startswith("warning:")]
    assert len(warnings) == 1 and "version 1 configuration" in warnings[0] and "wampnode upgrade" in warnings[0]
    upgraded = run_cli("upgrade", "--config", "config_multi_worker.json", cwd=tmp_path)
    assert upgraded.returncode == 0 and "upgraded from version 1 to version 2" in upgraded.stdout, upgraded.stderr
    text = json.loads(path.read_text())
    assert list(text)[0] == "version" and text["version"] == 2
    assert text["workers"][0]["realms"][0]["roles"][0]["permissions"][1] == {
        "uri": "com.example.exact", "allow": {"call": True, "register": False, "publish": False, "subscribe": False},
        "disclose": {"caller": False, "publisher": False}, "cache": True}
    assert stat.S_IMODE(path.stat().st_mode) == 0o640, "the file keeps its mode"
    assert [p.name for p in cbdir.iterdir()] == ["config_multi_worker.json"], "no temporary file left"
    again = run_cli("check", "--config", "config_multi_worker.json", cwd=tmp_path)
    assert again.returncode == 0 and "warning" not in again.stdout + again.stderr, again.stdout + again.stderr
    assert "nothing to upgrade" in run_cli("upgrade", "--config", "config_multi_worker.json", cwd=tmp_path).stdout


def test_explicit_version_1_is_upgraded_too(tmp_path):
    write(tmp_path, v1_config(free_port(), version=1))
    assert load_config(str(tmp_path)).read_as_version_1
