"""An endpoint `interface` is checked before start: an IP address, or a host name this machine resolves (as Crossbar.io's bind does)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from node.config import load_config
from node.errors import ConfigErrors

INTERFACE = "config.json: workers[0].transports[0].endpoint.interface"


def config_with(interface: str, **endpoint) -> dict:
    endpoint = dict({"type": "tcp", "port": 8080, "interface": interface}, **endpoint)
    return {"version": 2, "workers": [{"type": "router", "realms": [{"name": "realm1"}], "transports": [
        {"type": "web", "endpoint": endpoint, "paths": {"info": {"type": "nodeinfo"}}}]}]}


def write(tmp_path: Path, cfg: dict) -> Path:
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return tmp_path


@pytest.mark.parametrize("interface, version", [
    ("127.0.0.1", 4), ("0.0.0.0", 4), ("::1", 6), ("::", 6), ("::1", 4), ("fe80::1%1", 6),
    ("localhost", 4), ("localhost", 6), ("", 4), ("", 6),
])
def test_addresses_and_resolvable_names_load(tmp_path, interface, version):
    """IPv4/IPv6 addresses, a name the machine resolves (`localhost`) and "" (all interfaces) are accepted."""
    loaded = load_config(str(write(tmp_path, config_with(interface, version=version))), environ={})
    assert loaded.transports[0].endpoint.interface == interface


@pytest.mark.parametrize("interface", ["foo bar", "300.1.2.3", "127.0.0.1:8080", "[::1]", " 127.0.0.1", "-foo", "foo..bar"])
def test_not_an_address_is_refused(tmp_path, interface):
    """Anything that is neither an IP address nor a host name is one error naming the JSON path and an address as expected."""
    with pytest.raises(ConfigErrors) as info:
        load_config(str(write(tmp_path, config_with(interface))), environ={})
    (line,) = [e.line() for e in info.value.errors]
    assert f"{INTERFACE}: {interface!r} is not an IPv4/IPv6 address" in line, line
    assert "127.0.0.1 or ::1" in line, line


def test_check_command_refuses_a_bad_interface(tmp_path):
    """`wampnode check` exits 2 with one line for an `interface` that is not an address."""
    result = run_cli("check", "--cbdir", str(write(tmp_path, config_with("foo bar"))))
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "workers[0].transports[0].endpoint.interface: 'foo bar' is not an IPv4/IPv6 address" in line, line
