"""URIs in the config (permissions, event history, authorizers, realm names) checked as Crossbar.io does, or stricter where a rule could never match."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from node.config import load_config
from node.errors import ConfigErrors

PERMISSION = "config.json: workers[0].realms[0].roles[0].permissions[0].uri"


def write(tmp_path: Path, cfg: dict) -> Path:
    cbdir = tmp_path / "cb"
    cbdir.mkdir(exist_ok=True)
    (cbdir / "config.json").write_text(json.dumps(cfg))
    return cbdir


def errors_of(cbdir: Path) -> list:
    with pytest.raises(ConfigErrors) as info:
        load_config(str(cbdir), environ={})
    return [e.line() for e in info.value.errors]


def web(port: int) -> dict:
    return {"type": "web", "endpoint": {"type": "tcp", "port": port}, "paths": {"info": {"type": "nodeinfo"}}}


def config(*transports, realms=None) -> dict:
    return {"version": 2, "workers": [{"type": "router", "realms": realms or [{"name": "realm1"}],
                                       "transports": list(transports)}]}


def realm_with(permission=None, role=None, **realm):
    role = dict({"name": "user", "permissions": [permission] if permission else []}, **(role or {}))
    return [dict({"name": "realm1", "roles": [role]}, **realm)]


def loads(tmp_path, realms) -> bool:
    load_config(str(write(tmp_path, config(web(8080), realms=realms))), environ={})
    return True


@pytest.mark.parametrize("uri, match", [
    ("com.example.proc", None), ("com.example.proc", "exact"), ("Com.Ex-ample.*", "exact"),
    ("", "prefix"), ("com.example.", "prefix"), ("com.example", "prefix"),
    ("com..proc", "wildcard"), ("", "wildcard"), (".", "wildcard"), ("com.example.", "wildcard"),
])
def test_permission_uris_crossbar_accepts_load(tmp_path, uri, match):
    """Permission URIs valid for their match policy load: empty prefix, trailing-dot prefix, empty wildcard components."""
    rule = {"uri": uri, "allow": {"call": True}}
    if match:
        rule["match"] = match
    assert loads(tmp_path, realm_with(rule))


@pytest.mark.parametrize("uri, match, expected", [
    ("com..x", None, "is not a URI `\"match\": \"exact\"` can match: expected dot-separated non-empty components"),
    ("com..x", "exact", "`\"match\": \"wildcard\"`"),
    ("", "exact", "`\"match\": \"prefix\"`"),
    ("com.x.", None, "is not a URI `\"match\": \"exact\"` can match"),
    ("com..x", "prefix", "is not a URI prefix: expected dot-separated components"),
    ("com.a b", "wildcard", "is not a wildcard pattern: expected dot-separated components without whitespace or `#`"),
    ("com.a#b", "prefix", "is not a URI prefix"),
])
def test_permission_uri_invalid_for_its_match_is_refused(tmp_path, uri, match, expected):
    """A permission URI no URI of its match policy can match is one error naming its JSON path and what is expected."""
    rule = {"uri": uri, "allow": {"call": True}}
    if match:
        rule["match"] = match
    (line,) = errors_of(write(tmp_path, config(web(8080), realms=realm_with(rule))))
    assert f"{PERMISSION}: {uri!r} " in line, line
    assert expected in line, line


@pytest.mark.parametrize("uri, expected", [
    ("com.example.*", ("com.example.", "prefix")), ("*", ("", "prefix")),
    ("com.*.proc", ("com..proc", "wildcard")), ("com.*.a.*", ("com..a.", "wildcard")),
])
def test_starred_uri_without_match_reads_as_crossbar_reads_it(tmp_path, uri, expected):
    """Crossbar's starred permission URIs (no `match`) load as the prefix or wildcard they spell."""
    realms = realm_with({"uri": uri, "allow": {"call": True}})
    node = load_config(str(write(tmp_path, config(web(8080), realms=realms))), environ={})
    (permission,) = node.realms[0].roles[0].permissions
    assert (permission.uri, permission.match) == expected


def test_event_history_uri_checked_like_a_permission(tmp_path):
    """An event-history entry's URI must suit its match policy, as a permission's must."""
    realms = [{"name": "realm1", "store": {"type": "memory", "event-history": [{"uri": "com..x"}]}}]
    (line,) = errors_of(write(tmp_path, config(web(8080), realms=realms)))
    assert "config.json: workers[0].realms[0].store['event-history'][0].uri: 'com..x' is not a URI" in line, line


@pytest.mark.parametrize("uri", ["com..authorize", "Com.example.authorize", "com.ex-ample.authorize", "com.example."])
def test_authorizer_uri_must_be_strict(tmp_path, uri):
    """A dynamic authorizer URI follows Crossbar's strict rule: lowercase, digits and `_`, no empty component."""
    (line,) = errors_of(write(tmp_path, config(web(8080), realms=realm_with(role={"authorizer": uri}))))
    assert f"config.json: workers[0].realms[0].roles[0].authorizer: {uri!r} is not a procedure URI" in line, line
    assert "lowercase letters, digits and `_`" in line


def test_authenticator_uri_must_be_strict(tmp_path):
    """A dynamic authenticator URI follows Crossbar's strict rule too."""
    transport = {"type": "websocket", "endpoint": {"type": "tcp", "port": 8081},
                 "auth": {"ticket": {"type": "dynamic", "authenticator": "com.Auth"}}}
    (line,) = errors_of(write(tmp_path, config(web(8080), transport)))
    assert "config.json: workers[0].transports[1].auth.ticket.authenticator: 'com.Auth' is not a procedure URI" in line, line


def test_realms_named_in_authentication_are_realm_names(tmp_path):
    """A principal's `realm` and a dynamic authenticator's `authenticator-realm` must be realm names too."""
    transport = {"type": "websocket", "endpoint": {"type": "tcp", "port": 8081}, "auth": {
        "ticket": {"type": "static", "principals": {"alice": {"ticket": "s", "role": "user", "realm": "1realm"}}},
        "wampcra": {"type": "dynamic", "authenticator": "com.auth", "authenticator-realm": "ab"}}}
    lines = errors_of(write(tmp_path, config(web(8080), transport)))
    assert len(lines) == 2, lines
    assert any("auth.ticket.principals.alice.realm: '1realm' is not a realm name" in line for line in lines), lines
    assert any("auth.wampcra['authenticator-realm']: 'ab' is not a realm name" in line for line in lines), lines


@pytest.mark.parametrize("name", ["realm1", "com.example", "a@b.c", "Realm_1-x", "0x" + "aB" * 20])
def test_realm_names_crossbar_starts_load(tmp_path, name):
    """Realm names Crossbar starts load: a letter then 2+ letters, digits, `_-@.`, or an Ethereum address."""
    assert loads(tmp_path, [{"name": name}])


@pytest.mark.parametrize("name", ["ab", "1realm", "realm 1", "com..example", "realm.", "_realm"])
def test_realm_names_crossbar_refuses_are_refused(tmp_path, name):
    """Realm names Crossbar will not start (or no client can join) are one error saying what a realm name is."""
    (line,) = errors_of(write(tmp_path, config(web(8080), realms=[{"name": name}])))
    assert f"config.json: workers[0].realms[0].name: {name!r} is not a realm name: expected 3 to 255" in line, line


def test_check_command_reports_a_bad_permission_uri(tmp_path):
    """`wampnode check` exits 2 with one line naming the permission's JSON path for `com..x` with the default match."""
    (tmp_path / "config.json").write_text(json.dumps(config(web(8080), realms=realm_with({"uri": "com..x"}))))
    result = run_cli("check", "--cbdir", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "workers[0].realms[0].roles[0].permissions[0].uri: 'com..x' is not a URI" in line, line
