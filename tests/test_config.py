"""The configuration loader: schema errors, environment references, semantic checks."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from node.config import load_config
from node.config.validation import load_schema
from node.errors import ConfigErrors

REFERENCE = Path(__file__).resolve().parent / "data"  # copies of shared/reference/crossbar-configs


def write(tmp_path: Path, config) -> Path:
    cbdir = tmp_path / "cb"
    cbdir.mkdir(exist_ok=True)
    (cbdir / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    return cbdir


def errors_of(cbdir: Path, environ=None) -> list:
    with pytest.raises(ConfigErrors) as info:
        load_config(str(cbdir), environ=environ or {})
    return [e.line() for e in info.value.errors]


def web(port, paths=None, **endpoint):
    return {"type": "web", "endpoint": dict({"type": "tcp", "port": port}, **endpoint),
            "paths": paths if paths is not None else {"info": {"type": "nodeinfo"}}}


def config(*transports, realms=None):
    return {"version": 2, "workers": [{"type": "router", "realms": realms or [{"name": "realm1"}],
                                       "transports": list(transports)}]}


def test_schema_is_valid_draft_2020_12():
    """The packaged schema is itself a valid draft 2020-12 schema."""
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(load_schema())


def test_all_errors_reported_at_once_with_json_paths(tmp_path):
    """Every schema violation is reported, each as one line naming its JSON path."""
    cbdir = write(tmp_path, config(web(70000), {"type": "websocket", "endpoint": {"type": "tcp", "port": 1, "tls": {"key": "k", "certificate": "c", "dhparm": "x"}}}))
    lines = errors_of(cbdir)
    assert any(line.endswith("config.json: workers[0].transports[0].endpoint.port: 70000 is greater than the maximum of 65535") for line in lines), lines
    assert any("workers[0].transports[1].endpoint.tls: Additional properties are not allowed ('dhparm' was unexpected)" in line for line in lines), lines
    assert len(lines) == 2


def test_invalid_json_names_line_and_column(tmp_path):
    """Broken JSON is reported with its line and column."""
    cbdir = write(tmp_path, '{\n  "version": 2,\n  "workers": [,]\n}')
    (line,) = errors_of(cbdir)
    assert "invalid JSON at line 3, column 15" in line


def test_missing_config_file_suggests_init(tmp_path):
    """A missing config.json says so and names `wampnode init`."""
    (line,) = errors_of(tmp_path)
    assert "config.json: file not found" in line and "wampnode init" in line


def test_unknown_path_type_lists_known_types(tmp_path):
    """An unknown web path type names the path and the known types."""
    cbdir = write(tmp_path, config(web(8080, {"app": {"type": "gopher"}})))  # wsgi was unknown before issue 16
    (line,) = errors_of(cbdir)
    assert line.endswith("paths.app.type: 'gopher' is not one of the allowed values: static, websocket, "
                         "nodeinfo, redirect, json, archive, wsgi, resource, tcpbridge, websocket-testee, metrics, "
                         "dashboard, publisher, caller, webhook, reverseproxy, websocket-reverseproxy, longpoll, "
                         "wap"), line


def test_unsupported_version_names_the_value_found(tmp_path):
    """`version: 3` names the 3 it found and the version this node reads (not `2 was expected`)."""
    raw = config(web(8080))
    raw["version"] = 3
    (line,) = errors_of(write(tmp_path, raw))
    assert line.endswith("config.json: version: 3 is not supported (this node reads version 2)"), line
    raw["version"] = "2"
    (line,) = errors_of(write(tmp_path, raw))
    assert line.endswith("config.json: version: '2' is not supported (this node reads version 2)"), line


def test_enum_typo_names_the_value_and_the_allowed_values(tmp_path):
    """A misspelt transport type names the misspelling and every allowed type."""
    raw = config(web(8080))
    raw["workers"][0]["transports"][0]["type"] = "websockett"
    (line,) = errors_of(write(tmp_path, raw))
    assert line.endswith("config.json: workers[0].transports[0].type: 'websockett' is not one of the allowed "
                         "values: websocket, web, rawsocket, universal, websocket.testee"), line


def test_enum_of_numbers_names_the_value_and_the_allowed_values(tmp_path):
    """An endpoint's IP `version` 5 names the 5 and the allowed 4 and 6."""
    (line,) = errors_of(write(tmp_path, config(web(8080, version=5))))
    assert line.endswith("workers[0].transports[0].endpoint.version: 5 is not one of the allowed values: 4, 6"), line


def test_const_names_the_value_and_the_allowed_value(tmp_path):
    """A universal transport's websocket service of another type names it and the one allowed type."""
    universal = {"type": "universal", "endpoint": {"type": "tcp", "port": 8081},
                 "websocket": {"ws": {"type": "rawsocket"}}}
    (line,) = errors_of(write(tmp_path, config(universal)))
    assert line.endswith("config.json: workers[0].transports[0].websocket.ws.type: 'rawsocket' is not allowed "
                         "here; the only allowed value is 'websocket'"), line


def test_other_worker_types_not_supported(tmp_path):
    """A second router worker or a worker type wampnode lacks is a clear 'not supported' error."""
    raw = config(web(8080))
    raw["workers"].append({"type": "xbrmm"})
    (line,) = errors_of(write(tmp_path, raw))
    assert line.endswith("workers[1].type: 'xbrmm' workers are not supported; wampnode runs workers of type "
                         "'router', 'container', 'guest' and 'proxy'"), line
    raw["workers"][1] = {"type": "router"}
    (line,) = errors_of(write(tmp_path, raw))
    assert "workers[1]: wampnode runs a single router worker" in line


def test_tls_below_1_2_refused(tmp_path):
    """min_version TLSv1.1 is a schema error."""
    tls = {"key": "k", "certificate": "c", "min_version": "TLSv1.1"}
    (line,) = errors_of(write(tmp_path, config(web(8443, tls=tls))))
    assert line.endswith("endpoint.tls.min_version: 'TLSv1.1' is not one of the allowed values: TLSv1.2, TLSv1.3"), line


def test_environment_substitution(tmp_path):
    """"$NAME" and "${NAME}" values come from the environment; a missing one is named."""
    cbdir = write(tmp_path, config(web("$WEB_PORT"), web("${OTHER_PORT}")))
    loaded = load_config(str(cbdir), environ={"WEB_PORT": "8080", "OTHER_PORT": "9090"})
    assert [t.endpoint.port for t in loaded.transports] == [8080, 9090]
    (line,) = errors_of(cbdir, environ={"WEB_PORT": "8080"})
    assert "workers[0].transports[1].endpoint.port: environment variable OTHER_PORT is not set" in line


def test_defaults_come_from_the_schema(tmp_path):
    """Unset options take the schema's defaults (WebSocket limits, TLS curve, backlog)."""
    cbdir = write(tmp_path, config({"type": "websocket", "endpoint": {"type": "tcp", "port": 8080}}))
    transport = load_config(str(cbdir), environ={}).transports[0]
    assert transport.websocket.serializers == ("cbor", "msgpack", "json")
    assert transport.websocket.options.max_message_size == 1048576
    assert transport.websocket.options.auto_ping_interval == 30000
    assert transport.endpoint.backlog == 1024 and transport.endpoint.interface == ""


def test_realm_limits_from_schema_defaults_and_options(tmp_path):
    """Realm limits take the schema's defaults, or the configured values (0: no limit);
    a negative limit is a config error naming its path."""
    realms = [{"name": "realm1"}, {"name": "realm2", "options": {"max_uri_length": 0, "max_retained_events": 5}}]
    cbdir = write(tmp_path, config({"type": "websocket", "endpoint": {"type": "tcp", "port": 8080}}, realms=realms))
    first, second = load_config(str(cbdir), environ={}).realms
    assert (first.limits.max_uri_length, first.limits.max_subscriptions_per_session,
            first.limits.max_registrations_per_session, first.limits.max_pending_calls_per_session,
            first.limits.max_retained_events, first.limits.max_retained_bytes) == (
        4096, 10000, 10000, 1000, 10000, 64 * 1024 * 1024)
    assert second.limits.max_uri_length == 0 and second.limits.max_retained_events == 5
    realms = [{"name": "realm1", "options": {"max_pending_calls_per_session": -1}}]
    cbdir = write(tmp_path, config({"type": "websocket", "endpoint": {"type": "tcp", "port": 8080}}, realms=realms))
    (line,) = errors_of(cbdir)
    assert "workers[0].realms[0].options.max_pending_calls_per_session" in line, line


def test_port_clash_between_transports(tmp_path):
    """Two transports on one port are refused before anything listens."""
    (line,) = errors_of(write(tmp_path, config(web(8080), {"type": "rawsocket", "endpoint": {"type": "tcp", "port": 8080}})))
    assert "workers[0].transports[1].endpoint.port: port 8080 is already used by workers[0].transports[0].endpoint" in line


def test_static_directory_must_be_a_directory(tmp_path):
    """A static path naming a file is an error naming it (a missing one is a warning: test_static_missing.py)."""
    (tmp_path / "index.html").write_text("hello")
    (line,) = errors_of(write(tmp_path, config(web(8080, {"/": {"type": "static", "directory": "../index.html"}}))))
    assert "paths./.directory:" in line and "index.html is not a directory" in line, line


def test_relative_paths_resolve_against_cbdir(tmp_path):
    """Relative file names (static directory, TLS files) start at the node directory."""
    (tmp_path / "web").mkdir()
    cbdir = write(tmp_path, config(web(8080, {"/": {"type": "static", "directory": "../web"}})))
    static = load_config(str(cbdir), environ={}).transports[0].web.paths["/"]
    assert static.directory == str(tmp_path / "web")


@pytest.mark.parametrize("name", ["crossbar-init-26.10.json", "universal-transport.json"])
def test_crossbar_reference_configs_load(tmp_path, name):
    """Configs written by Crossbar.io load unchanged."""
    (tmp_path / "web").mkdir()
    cbdir = write(tmp_path, (REFERENCE / name).read_text())
    loaded = load_config(str(cbdir), environ={})
    assert loaded.realms[0].name == "realm1"


def test_static_from_python_package(tmp_path):
    """A static path may name a Python package and a resource directory inside it."""
    import node.config

    cbdir = write(tmp_path, config(web(8080, {"/": {"type": "static", "package": "node", "resource": "config"}})))
    static = load_config(str(cbdir), environ={}).transports[0].web.paths["/"]
    assert static.directory == os.path.dirname(node.config.__file__)
    (line,) = errors_of(write(tmp_path, config(web(8080, {"/": {"type": "static", "directory": "x", "package": "node", "resource": "config"}}))))
    assert "a static path needs `directory`, or `package` and `resource` (not both)" in line


def test_monitoring_paths_check_their_networks(tmp_path):
    """allowed_networks entries of metrics and dashboard paths must be addresses or networks."""
    cbdir = write(tmp_path, config(web(8080, {
        "metrics": {"type": "metrics", "allowed_networks": ["10.0.0.0/8", "localhost"]},
        "dash": {"type": "dashboard", "allowed_networks": ["::1"], "credentials": {"ops": "pw"}}})))
    (line,) = errors_of(cbdir)
    assert line.endswith("paths.metrics.allowed_networks[1]: 'localhost' is not an IP address or network. "
                         "Write an address (127.0.0.1, ::1) or a network (10.0.0.0/8, fd00::/8)"), line
