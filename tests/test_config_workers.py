"""Router components, container and guest workers in the configuration (issue 14):
the schema accepts Crossbar.io's keys, refuses mistakes with one-line errors, fills
Crossbar.io's defaults into frozen objects, and the checks look at the disk
(executables, directories, component modules) without running user code."""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import stat
from pathlib import Path
from typing import Any, Dict, List

import msgpack
import pytest
from autobahn.wamp.auth import create_authenticator

from node.config import load_config, model
from node.errors import ConfigErrors
from tests.conftest import run_cli

PRIVKEY = "4d57d97a68f555696620a6d849c0ce582568518d729eb753dc7c732de2804510"


def router(**extra: Any) -> Dict[str, Any]:
    return dict({"type": "router", "realms": [{"name": "realm1"}],
                 "transports": [{"type": "websocket", "endpoint": {"type": "tcp", "port": 8080}}]}, **extra)


def ws_transport(**extra: Any) -> Dict[str, Any]:
    return dict({"type": "websocket", "url": "ws://127.0.0.1:8080/ws",
                 "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": 8080}}, **extra)


def container(*components: Dict[str, Any], **options: Any) -> Dict[str, Any]:
    return {"type": "container", "options": dict({"pythonpath": [".."]}, **options),
            "components": list(components) or [component()]}


def component(**extra: Any) -> Dict[str, Any]:
    return dict({"type": "class", "classname": "app.Session", "realm": "realm1", "transport": ws_transport()}, **extra)


def guest(**extra: Any) -> Dict[str, Any]:
    return dict({"type": "guest", "executable": "tool.sh", "arguments": ["--flag"]}, **extra)


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    """A node directory ``app/.crossbar`` beside ``app/app.py`` and an executable ``tool.sh``."""
    app = tmp_path / "app"
    cbdir = app / ".crossbar"
    cbdir.mkdir(parents=True)
    (app / "app.py").write_text("class Session:\n    pass\n\ndef on_join(session, details):\n    pass\n")
    tool = cbdir / "tool.sh"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    return cbdir


def write(cbdir: Path, *workers: Dict[str, Any]) -> Path:
    (cbdir / "config.json").write_text(json.dumps({"version": 2, "workers": list(workers)}))
    return cbdir


def load(cbdir: Path, *workers: Dict[str, Any]) -> model.NodeConfig:
    return load_config(str(write(cbdir, *workers)), environ={})


def errors(cbdir: Path, *workers: Dict[str, Any]) -> List[str]:
    with pytest.raises(ConfigErrors) as info:
        load(cbdir, *workers)
    lines = [e.line() for e in info.value.errors]
    assert all("\n" not in line for line in lines)
    return [line.split("config.json: ", 1)[1] for line in lines]


# --- acceptance and the model --------------------------------------------------------------


def test_router_components_of_both_types_with_crossbar_defaults(node_dir):
    """Class and function router components load; role defaults to anonymous, ids to componentNNN."""
    config = load(node_dir, router(
        options={"pythonpath": [".."]},
        components=[{"type": "class", "classname": "app.Session", "realm": "realm1", "extra": {"a": 1}},
                    {"type": "function", "realm": "realm1", "role": "backend",
                     "callbacks": {"join": "app.on_join"}, "id": "mine"}]))
    first, second = config.components
    assert first == model.RouterComponent(id="component001", type="class", realm="realm1", role="anonymous",
                                          extra={"a": 1}, classname="app.Session", callbacks={}, references=(),
                                          path="workers[0].components[0]")
    assert (second.id, second.type, second.role, second.classname, second.callbacks) == \
        ("mine", "function", "backend", None, {"join": "app.on_join"})
    assert config.router_options.pythonpath == (str(node_dir.parent),)
    assert config.router_id == "worker001" and config.router_path == "workers[0]" and config.workers == ()


def test_container_defaults_come_from_crossbar(node_dir):
    """A container with only Crossbar.io's required keys gets Crossbar.io's defaults."""
    config = load(node_dir, router(), container())
    (worker,) = config.workers
    assert isinstance(worker, model.ContainerWorker)
    assert (worker.id, worker.restart, worker.shutdown, worker.stop_timeout, worker.disabled, worker.path) == \
        ("worker002", "restart-never", "shutdown-manual", 5.0, False, "workers[1]")
    assert worker.pythonpath == (str(node_dir.parent),)
    assert worker.env == model.ProcessEnv(inherit=True, vars={}, path="workers[1].options.env")
    (comp,) = worker.components
    assert (comp.id, comp.realm, comp.classname, comp.auth, comp.extra) == \
        ("component001", "realm1", "app.Session", (), {})
    transport = comp.transport
    assert (transport.type, transport.url, transport.serializers) == \
        ("websocket", "ws://127.0.0.1:8080/ws", ("cbor", "msgpack", "json"))
    assert transport.websocket_options.max_message_size == transport.max_message_size == 1048576
    endpoint = transport.endpoint
    assert (endpoint.type, endpoint.host, endpoint.port, endpoint.version, endpoint.timeout, endpoint.tls) == \
        ("tcp", "127.0.0.1", 8080, 4, 10.0, None)
    assert endpoint.describe() == "tcp 127.0.0.1:8080"


def test_guest_defaults_come_from_crossbar(node_dir):
    """A guest runs in the node directory, logs stdout and stderr, leaves stdin open, is not restarted."""
    (worker,) = load(node_dir, router(), guest()).workers
    assert isinstance(worker, model.GuestWorker)
    assert (worker.id, worker.executable, worker.arguments, worker.workdir) == \
        ("worker002", "tool.sh", ("--flag",), str(node_dir))
    assert (worker.stdin, worker.stdout, worker.stderr, worker.watch, worker.restart, worker.stop_timeout) == \
        (None, "log", "log", None, "restart-never", 5.0)


def test_model_objects_are_frozen(node_dir):
    """Code after node/config receives immutable objects."""
    config = load(node_dir, router(), container(), guest())
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.workers[0].restart = "restart-always"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.workers[1].executable = "other"  # type: ignore[misc]


def test_ids_are_numbered_as_crossbar_numbers_them(node_dir):
    """Id-less workers are workerNNN and id-less components componentNNN, counted across the node."""
    config = load(node_dir,
                  guest(id="web"),
                  router(components=[{"type": "class", "classname": "app.Session", "realm": "realm1"}],
                         options={"pythonpath": [".."]}),
                  container(component(), component(id="named"), component()),
                  guest())
    assert config.router_id == "worker001" and config.router_path == "workers[1]"
    assert [w.id for w in config.workers] == ["web", "worker002", "worker003"]
    assert config.components[0].id == "component001"
    assert [c.id for c in config.workers[1].components] == ["component002", "named", "component003"]


def test_router_is_found_by_type_not_position(node_dir):
    """A router after a guest: its transports and realms are read, with their own JSON paths."""
    config = load(node_dir, guest(), router())
    assert [t.path for t in config.transports] == ["workers[1].transports[0]"]
    assert [r.name for r in config.realms] == ["realm1"] and config.router_path == "workers[1]"


def test_a_config_without_router_worker_is_accepted(node_dir):
    """Containers and guests may connect to a router elsewhere (Crossbar.io accepts this too)."""
    config = load(node_dir, container(component(transport=ws_transport(url="wss://router.example.com/ws"))), guest())
    assert (config.realms, config.transports, config.components) == ((), (), ())
    assert (config.router_id, config.router_options, config.router_path, config.cluster) == (None, None, None, None)
    assert [w.id for w in config.workers] == ["worker001", "worker002"]


def test_rawsocket_transport_over_unix_socket(node_dir):
    """RawSocket with Crossbar.io's single `serializer`; the socket path starts at the node directory."""
    transport = {"type": "rawsocket", "serializer": "msgpack", "endpoint": {"type": "unix", "path": "../router.sock"}}
    (worker,) = load(node_dir, router(), container(component(transport=transport))).workers
    got = worker.components[0].transport
    assert (got.type, got.serializers, got.max_message_size, got.websocket_options, got.url) == \
        ("rawsocket", ("msgpack",), 16777216, None, None)
    assert (got.endpoint.type, got.endpoint.socket_path, got.endpoint.timeout) == \
        ("unix", str(node_dir.parent / "router.sock"), 10.0)
    transport = dict(transport, serializers=["json", "cbor"], options={"max_message_size": 65536})
    del transport["serializer"]
    got = load(node_dir, router(), container(component(transport=transport))).workers[0].components[0].transport
    assert (got.serializers, got.max_message_size) == (("json", "cbor"), 65536)


def test_connecting_tls_files_resolve_against_the_node_directory(node_dir):
    """TLS files of a component's endpoint are absolute in the model; missing ones are named."""
    for name in ("ca.pem", "client.crt", "client.key"):
        (node_dir / name).write_text("x")
    tls = {"hostname": "localhost", "ca_certificates": ["ca.pem"], "certificate": "client.crt", "key": "client.key"}
    endpoint = {"type": "tcp", "host": "127.0.0.1", "port": 8443, "tls": tls}
    comp = component(transport=ws_transport(url="wss://localhost:8443/ws", endpoint=endpoint))
    got = load(node_dir, router(), container(comp)).workers[0].components[0].transport.endpoint
    assert got.tls == model.ConnectingTls(hostname="localhost", ca_certificates=(str(node_dir / "ca.pem"),),
                                          certificate=str(node_dir / "client.crt"), key=str(node_dir / "client.key"),
                                          path="workers[1].components[0].transport.endpoint.tls")
    assert got.describe() == "tls 127.0.0.1:8443"
    (node_dir / "client.key").unlink()
    assert errors(node_dir, router(), container(comp)) == [
        f"workers[1].components[0].transport.endpoint.tls.key: {node_dir / 'client.key'} does not exist. "
        "Fix the path (relative paths start at the node directory)"]


def test_component_auth_gives_autobahn_authenticators(node_dir):
    """Each `auth` method becomes the keyword arguments autobahn's create_authenticator takes."""
    auth = {"ticket": {"authid": "joe", "ticket": "secret!"},
            "wampcra": {"authid": "joe", "secret": "s3cr3t", "authrole": "backend"},
            "cryptosign": {"privkey": PRIVKEY, "authextra": {"channel_binding": None}},
            "anonymous": {}}
    comp = load(node_dir, router(), container(component(auth=auth))).workers[0].components[0]
    assert [a.method for a in comp.auth] == ["ticket", "wampcra", "cryptosign", "anonymous"]
    assert comp.auth[0].authenticator_options() == {"authid": "joe", "ticket": "secret!"}
    assert comp.auth[1].authenticator_options() == {"authid": "joe", "authrole": "backend", "secret": "s3cr3t"}
    assert comp.auth[2].authenticator_options() == {"privkey": PRIVKEY, "authextra": {"channel_binding": None}}
    for method in comp.auth:
        if method.method != "cryptosign":  # autobahn's needs base58 (not installed here) to import
            assert create_authenticator(method.method, **method.authenticator_options()).name == method.method


def test_process_env_computation():
    """Crossbar.io's rules: inherit all, none or some; vars over them; PYTHONUNBUFFERED=1 unless set."""
    parent = {"HOME": "/home/x", "PATH": "/bin", "LANG": "C"}
    env = lambda inherit, vars={}: model.ProcessEnv(inherit=inherit, vars=vars, path="p").compute(parent)  # noqa: E731
    assert env(True) == dict(parent, PYTHONUNBUFFERED="1")
    assert env(False) == {"PYTHONUNBUFFERED": "1"}
    assert env(("HOME", "MISSING")) == {"HOME": "/home/x", "PYTHONUNBUFFERED": "1"}
    assert env(False, {"PATH": "/opt/bin", "PYTHONUNBUFFERED": ""}) == {"PATH": "/opt/bin", "PYTHONUNBUFFERED": ""}
    assert env(True, {"LANG": "C.UTF-8"})["LANG"] == "C.UTF-8"
    assert model.ProcessEnv(inherit=True, vars={}, path="p").compute({"PYTHONUNBUFFERED": "0"}) == \
        {"PYTHONUNBUFFERED": "0"}
    assert parent == {"HOME": "/home/x", "PATH": "/bin", "LANG": "C"}  # the parent mapping is not changed


def test_process_env_from_config(node_dir):
    """`options.env` of routers, containers and guests becomes a ProcessEnv."""
    env = {"inherit": ["HOME"], "vars": {"MODE": "test"}}
    config = load(node_dir, router(options={"env": {"inherit": False}}), container(env=env),
                  guest(options={"env": {"vars": {"A": "1"}}}))
    assert config.router_options.env == model.ProcessEnv(inherit=False, vars={}, path="workers[0].options.env")
    assert config.workers[0].env == model.ProcessEnv(inherit=("HOME",), vars={"MODE": "test"},
                                                     path="workers[1].options.env")
    assert config.workers[1].env.inherit is True and config.workers[1].env.vars == {"A": "1"}


def test_guest_options_paths_and_stdin(node_dir):
    """workdir and watch directories start at the node directory (watch: not at workdir, as Crossbar.io)."""
    (node_dir.parent / "node").mkdir()
    (node_dir.parent / "node" / "tool.sh").symlink_to(node_dir / "tool.sh")
    options = {"workdir": "../node", "watch": {"directories": ["../node", "."]}, "stdout": "drop",
               "stderr": "close", "stdin": {"type": "json", "value": {"text": "grüße"}}, "restart": "restart-on-failed",
               "stop_timeout": 0.5}
    (worker,) = load(node_dir, router(), guest(options=options)).workers
    assert worker.workdir == str(node_dir.parent / "node")
    assert worker.watch == model.GuestWatch(directories=(str(node_dir.parent / "node"), str(node_dir)),
                                            action="restart", delay=1.0, path="workers[1].options.watch")
    assert (worker.stdout, worker.stderr, worker.restart, worker.stop_timeout) == \
        ("drop", "close", "restart-on-failed", 0.5)
    assert worker.stdin == model.GuestStdin(type="json", value={"text": "grüße"}, close=True)
    assert worker.stdin.encode() == '{"text": "grüße"}'.encode("utf-8")


def test_guest_stdin_close_and_msgpack(node_dir):
    """`"close"` writes nothing and closes; msgpack values are msgpack bytes."""
    (worker,) = load(node_dir, router(), guest(options={"stdin": "close"})).workers
    assert worker.stdin == model.GuestStdin(type="close", value=None, close=True) and worker.stdin.encode() == b""
    stdin = {"type": "msgpack", "value": [1, "two", {"3": b"x".hex()}], "close": False}
    (worker,) = load(node_dir, router(), guest(options={"stdin": stdin})).workers
    assert not worker.stdin.close and msgpack.unpackb(worker.stdin.encode()) == [1, "two", {"3": "78"}]


@pytest.mark.parametrize("value, disabled", [(True, True), (False, False), ("", False), ("yes", True)])
def test_container_disabled_as_crossbar_reads_it(node_dir, value, disabled):
    """`disabled`: true or any non-empty string (typically from "$VAR")."""
    assert load(node_dir, router(), container(disabled=value)).workers[0].disabled is disabled


def test_unused_crossbar_keys_are_named(node_dir):
    """Keys accepted for Crossbar.io but not used are listed; the router's pythonpath and env are used."""
    config = load(node_dir, router(options={"pythonpath": [".."], "env": {}, "cpu_affinity": [0]}),
                  container(title="c", python="/usr/bin/python3", expose_controller=True))
    assert config.ignored == ("workers[0].options.cpu_affinity", "workers[1].options.title",
                              "workers[1].options.python", "workers[1].options.expose_controller")


# --- one-line errors: path and expectation ------------------------------------------------------

BAD = [
    ("container component key typo", lambda ws: ws[1]["components"][0].update(clasname="app.Session"),
     "workers[1].components[0]: Additional properties are not allowed ('clasname' was unexpected); "
     "known keys: auth, classname, extra, id, realm, transport"),
    ("container option typo", lambda ws: ws[1]["options"].update(pythonpth=[]),
     "workers[1].options: Additional properties are not allowed ('pythonpth' was unexpected); known keys: "
     "cpu_affinity, disabled, env, expose_controller, expose_shared, extra, python, pythonpath, reactor, "
     "restart, shutdown, stop_timeout, title"),
    ("restart value", lambda ws: ws[1]["options"].update(restart="restart-sometimes"),
     "workers[1].options.restart: 'restart-sometimes' is not one of the allowed values: restart-never, "
     "restart-on-failed, restart-always"),
    ("shutdown value", lambda ws: ws[1]["options"].update(shutdown="shutdown-on-last-worker-exit"),
     "workers[1].options.shutdown: 'shutdown-on-last-worker-exit' is not one of the allowed values: "
     "shutdown-manual, shutdown-on-last-component-stopped, shutdown-on-any-component-failed, "
     "shutdown-on-any-component-stopped"),
    ("component type", lambda ws: ws[1]["components"][0].update(type="funktion"),
     "workers[1].components[0].type: 'funktion' is not one of the allowed values: class, function"),
    ("classname not dotted", lambda ws: ws[1]["components"][0].update(classname="Session"),
     "workers[1].components[0].classname: 'Session' is not a dotted Python name: expected `package.module.Name`"),
    ("callback event", lambda ws: ws[1]["components"][0].update(type="function", callbacks={"joined": "app.f"})
     or ws[1]["components"][0].pop("classname"),
     "workers[1].components[0].callbacks: 'joined' is not one of the allowed values: join, leave, connect, "
     "disconnect"),
    ("transport type", lambda ws: ws[1]["components"][0]["transport"].update(type="longpoll"),
     "workers[1].components[0].transport.type: 'longpoll' is not one of the allowed values: websocket, rawsocket"),
    ("websocket without url", lambda ws: ws[1]["components"][0]["transport"].pop("url"),
     "workers[1].components[0].transport: 'url' is a required property"),
    ("websocket url scheme", lambda ws: ws[1]["components"][0]["transport"].update(url="http://x/ws"),
     "workers[1].components[0].transport.url: 'http://x/ws' is not a WebSocket URL"),
    ("rawsocket without serializer", lambda ws: ws[1]["components"][0].update(
        transport={"type": "rawsocket", "endpoint": {"type": "unix", "path": "s"}}),
     "workers[1].components[0].transport: a rawsocket transport needs `serializer` (or `serializers`), not both"),
    ("endpoint key typo", lambda ws: ws[1]["components"][0]["transport"]["endpoint"].update(hots="x"),
     "workers[1].components[0].transport.endpoint: Additional properties are not allowed ('hots' was "
     "unexpected); known keys: host, port, timeout, tls, version"),
    ("endpoint without host", lambda ws: ws[1]["components"][0]["transport"]["endpoint"].pop("host"),
     "workers[1].components[0].transport.endpoint: 'host' is a required property"),
    ("endpoint type", lambda ws: ws[1]["components"][0]["transport"]["endpoint"].update(type="twisted"),
     "workers[1].components[0].transport.endpoint.type: 'twisted' is not one of the allowed values: tcp, unix"),
    ("auth method", lambda ws: ws[1]["components"][0].update(auth={"scram": {}}),
     "workers[1].components[0].auth: Additional properties are not allowed ('scram' was unexpected); "
     "known keys: anonymous, cryptosign, ticket, wampcra"),
    ("ticket without ticket", lambda ws: ws[1]["components"][0].update(auth={"ticket": {"authid": "a"}}),
     "workers[1].components[0].auth.ticket: 'ticket' is a required property"),
    ("cryptosign key", lambda ws: ws[1]["components"][0].update(auth={"cryptosign": {"privkey": "abc"}}),
     "workers[1].components[0].auth.cryptosign.privkey: 'abc' is not an Ed25519 private key"),
    ("router component typo", lambda ws: ws[0].update(components=[{"type": "class", "classname": "app.S",
                                                                   "realm": "realm1", "rol": "x"}]),
     "workers[0].components[0]: Additional properties are not allowed ('rol' was unexpected)"),
    ("router component without realm", lambda ws: ws[0].update(components=[{"type": "class",
                                                                            "classname": "app.S"}]),
     "workers[0].components[0]: 'realm' is a required property"),
    ("guest without executable", lambda ws: ws[2].pop("executable"),
     "workers[2]: 'executable' is a required property"),
    ("guest stdout", lambda ws: ws[2].update(options={"stdout": "file"}),
     "workers[2].options.stdout: 'file' is not one of the allowed values: log, drop, close"),
    ("guest stdin string", lambda ws: ws[2].update(options={"stdin": "open"}),
     "workers[2].options.stdin: 'open' is not one of the allowed values: close"),
    ("guest stdin type", lambda ws: ws[2].update(options={"stdin": {"type": "xml", "value": 1}}),
     "workers[2].options.stdin.type: 'xml' is not one of the allowed values: json, msgpack"),
    ("guest restart", lambda ws: ws[2].update(options={"restart": "always"}),
     "workers[2].options.restart: 'always' is not one of the allowed values: restart-never, restart-on-failed, "
     "restart-always"),
    ("guest watch action", lambda ws: ws[2].update(options={"watch": {"directories": ["."], "action": "stop"}}),
     "workers[2].options.watch.action: 'stop' is not one of the allowed values: restart"),
    ("env inherit", lambda ws: ws[2].update(options={"env": {"inherit": "yes"}}),
     "workers[2].options.env.inherit: 'yes' is not true or false or a list"),
    ("env var value", lambda ws: ws[2].update(options={"env": {"vars": {"A": 1}}}),
     "workers[2].options.env.vars.A: 1 is not of type 'string'"),
    ("guest key typo", lambda ws: ws[2].update(argumnets=[]),
     "workers[2]: Additional properties are not allowed ('argumnets' was unexpected); known keys: "
     "arguments, executable, id, options"),
    ("container manhole", lambda ws: ws[1].update(manhole={}),
     "workers[1]: Additional properties are not allowed ('manhole' was unexpected); known keys: "
     "components, id, options"),
    ("worker type", lambda ws: ws[2].update(type="websocket-testee"),
     "workers[2].type: 'websocket-testee' workers are not supported; wampnode runs workers of type 'router', "
     "'container', 'guest' and 'proxy'"),
]


@pytest.mark.parametrize("mutate, expected", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_mistakes_are_one_line_errors_naming_path_and_expectation(node_dir, mutate, expected):
    """Each mistake is one error line: the JSON path, what was found and what is expected."""
    workers = [router(), container(), guest()]
    mutate(workers)
    (line,) = errors(node_dir, *workers)
    assert line.startswith(expected), line


@pytest.mark.parametrize("restart, shutdown", [
    ("restart-always", "shutdown-on-any-component-stopped"),
    ("restart-always", "shutdown-on-any-component-failed"),
    ("restart-always", "shutdown-on-last-component-stopped"),
    ("restart-on-failed", "shutdown-on-any-component-failed")])
def test_impossible_restart_shutdown_pairs_are_refused(node_dir, restart, shutdown):
    """The pairs Crossbar.io refuses: one line naming both values."""
    (line,) = errors(node_dir, router(), container(restart=restart, shutdown=shutdown))
    assert line.startswith(f"workers[1].options: restart '{restart}' cannot work with shutdown '{shutdown}'"), line


@pytest.mark.parametrize("restart, shutdown", [
    ("restart-always", "shutdown-manual"), ("restart-on-failed", "shutdown-on-last-component-stopped"),
    ("restart-on-failed", "shutdown-on-any-component-stopped"), ("restart-never", "shutdown-on-any-component-failed")])
def test_possible_restart_shutdown_pairs_load(node_dir, restart, shutdown):
    """Every other pair is accepted as written."""
    (worker,) = load(node_dir, router(), container(restart=restart, shutdown=shutdown)).workers
    assert (worker.restart, worker.shutdown) == (restart, shutdown)


def test_only_one_router_worker(node_dir):
    """A second router worker is refused (one line), the first one wins."""
    assert errors(node_dir, router(), guest(), router()) == [
        "workers[2]: wampnode runs a single router worker. Move its realms and transports into workers[0]; "
        "to use more cores, set `\"processes\": N` in workers[0].options (see \"Using more than one core\")"]


def test_worker_ids_are_unique(node_dir):
    """Worker ids name log lines and status: unique across the node, the router's included."""
    assert errors(node_dir, router(id="main"), guest(id="main"), dict(container(), id="c1"), guest(id="c1")) == [
        "workers[1].id: worker id 'main' is already used by workers[0]. Give each worker its own id",
        "workers[3].id: worker id 'c1' is already used by workers[2]. Give each worker its own id"]


def test_component_ids_are_unique_in_their_worker(node_dir):
    """Two components of a worker may not share an id; components of different workers may."""
    assert errors(node_dir, router(), container(component(id="a"), component(id="a"))) == [
        "workers[1].components[1].id: component id 'a' is already used by workers[1].components[0]. "
        "Give each component of a worker its own id"]
    load(node_dir, router(), container(component(id="a")), container(component(id="a")))


def test_router_component_realm_and_role_must_exist(node_dir):
    """A router component joins a configured realm, under a role of it (when the realm has roles)."""
    realms = [{"name": "realm1"}, {"name": "locked", "roles": [{"name": "backend", "permissions": []}]}]
    comps = [{"type": "class", "classname": "app.Session", "realm": "realm9"},
             {"type": "class", "classname": "app.Session", "realm": "locked"},
             {"type": "class", "classname": "app.Session", "realm": "locked", "role": "backend"},
             {"type": "class", "classname": "app.Session", "realm": "realm1", "role": "anything"}]
    assert errors(node_dir, router(realms=realms, components=comps, options={"pythonpath": [".."]})) == [
        "workers[0].components[0].realm: realm 'realm9' is not a realm of this router. "
        "Use one of ['locked', 'realm1'] or add the realm to workers[0].realms",
        "workers[0].components[1].role: realm 'locked' has no role 'anonymous' (a session with it could not "
        "join). Use one of ['backend'], or add a role 'anonymous' to the realm"]


def test_component_references_cannot_resolve(node_dir):
    """Crossbar.io's `references` point at router `connections`, which wampnode does not have."""
    comp = {"type": "class", "classname": "app.Session", "realm": "realm1", "references": ["connection:db1"]}
    assert errors(node_dir, router(components=[comp], options={"pythonpath": [".."]})) == [
        "workers[0].components[0].references[0]: 'connection:db1' cannot be resolved: wampnode has no router "
        "`connections`. Remove the reference"]


# --- the disk: modules, executables, directories ---------------------------------------------


def test_component_modules_are_found_without_running_them(node_dir, tmp_path):
    """Modules (and their packages) are found on pythonpath, never executed; a missing one is an error."""
    marker = tmp_path / "ran"
    pkg = node_dir.parent / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('package')\n")
    (pkg / "backend.py").write_text(f"open({str(marker)!r}, 'w').write('module')\n")
    (node_dir.parent / "hello-world.py").write_text(f"open({str(marker)!r}, 'w').write('hyphen')\n")
    config = load(node_dir,
                  router(options={"pythonpath": [".."]},
                         components=[{"type": "function", "realm": "realm1",
                                      "callbacks": {"join": "pkg.backend.on_join", "leave": "app.on_join"}}]),
                  container(component(classname="pkg.backend.Backend"),
                            component(classname="hello-world.Hello")))
    assert len(config.workers[0].components) == 2 and not marker.exists()
    assert errors(node_dir, router(), container(component(classname="pkg.missing.Backend"),
                                                component(classname="app.sub.Session"),
                                                {"type": "function", "callbacks": {"join": "nowhere.f"},
                                                 "realm": "realm1", "transport": ws_transport()}),
                  container(component(classname="app.Session"), pythonpath=[])) == [
        f"workers[1].components[0].classname: module 'pkg.missing' (of 'pkg.missing.Backend') is not found in "
        f"pythonpath ['{node_dir.parent}'] nor on the node's Python path. Add the directory holding it to "
        f"workers[1].options.pythonpath (relative to the node directory)",
        f"workers[1].components[1].classname: module 'app.sub' (of 'app.sub.Session') is not found in "
        f"pythonpath ['{node_dir.parent}'] nor on the node's Python path. Add the directory holding it to "
        f"workers[1].options.pythonpath (relative to the node directory)",
        f"workers[1].components[2].callbacks.join: module 'nowhere' (of 'nowhere.f') is not found in "
        f"pythonpath ['{node_dir.parent}'] nor on the node's Python path. Add the directory holding it to "
        f"workers[1].options.pythonpath (relative to the node directory)",
        "workers[2].components[0].classname: module 'app' (of 'app.Session') is not found in pythonpath [] nor "
        "on the node's Python path. Add the directory holding it to workers[2].options.pythonpath (relative "
        "to the node directory)"]
    assert not marker.exists()


def test_disabled_container_modules_are_not_checked(node_dir):
    """A disabled container is not started, so its missing module does not stop the node."""
    load(node_dir, router(), container(component(classname="gone.Session"), disabled=True))


def test_guest_executable_found_as_crossbar_finds_it(node_dir, tmp_path, monkeypatch):
    """Relative to workdir (or absolute) first, then on PATH; it must be an executable file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("onpath", "tool.sh"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    (node_dir / "plain.txt").write_text("not executable")
    monkeypatch.setenv("PATH", str(bin_dir))
    config = load(node_dir, guest(), guest(executable="onpath"), guest(executable=str(bin_dir / "onpath")),
                  guest(executable="./tool.sh", options={"workdir": "."}))
    search = os.environ["PATH"]
    assert [w.find_executable(search) for w in config.workers] == [
        str(node_dir / "tool.sh"), str(bin_dir / "onpath"), str(bin_dir / "onpath"), str(node_dir / "tool.sh")]
    assert config.workers[0].find_executable("") == str(node_dir / "tool.sh")  # the workdir one wins over PATH
    (bin_dir / "plain.txt").write_text("on PATH, not executable")
    assert errors(node_dir, guest(executable="plain.txt"), guest(executable="no-such-program")) == [
        f"workers[0].executable: 'plain.txt' is not an executable file: {node_dir / 'plain.txt'} is not one, nor "
        "a program on PATH. Install the program, or give its absolute path or a path relative to options.workdir",
        f"workers[1].executable: 'no-such-program' is not an executable file: {node_dir / 'no-such-program'} is "
        "not one, nor a program on PATH. Install the program, or give its absolute path or a path relative to "
        "options.workdir"]
    mode = (node_dir / "tool.sh").stat().st_mode
    (node_dir / "tool.sh").chmod(mode & ~(stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    (worker,) = load(node_dir, guest()).workers  # not executable in workdir: the one on PATH is used
    assert worker.find_executable(search) == str(bin_dir / "tool.sh")


def test_guest_directories_must_exist(node_dir):
    """workdir and each watch directory exist; watch directories start at the node directory."""
    (node_dir.parent / "src").mkdir()
    options = {"workdir": "../src", "watch": {"directories": ["../src", "src"]}}
    assert errors(node_dir, guest(executable="/bin/sh", options=options),
                  guest(options={"workdir": "../missing"})) == [
        f"workers[0].options.watch.directories[1]: {node_dir / 'src'} does not exist. Create it or fix the path "
        "(relative to the node directory, not to workdir)",
        f"workers[1].options.workdir: {node_dir.parent / 'missing'} does not exist. Create it or fix the path "
        "(relative to the node directory)"]


# --- the command line: check accepts, start refuses until the runtime exists ------------------


def test_missing_executable_is_one_line_from_check_and_start(node_dir):
    """An executable that does not exist: the same one line from `check` and `start`, exit 2."""
    write(node_dir, router(), guest(executable="no-such-program-here"))
    for command in ("check", "start"):
        result = run_cli(command, "--cbdir", str(node_dir), timeout=30)
        assert result.returncode == 2
        (line,) = result.stderr.splitlines()
        assert line.endswith("config.json: workers[1].executable: 'no-such-program-here' is not an executable "
                             f"file: {node_dir / 'no-such-program-here'} is not one, nor a program on PATH. "
                             "Install the program, or give its absolute path or a path relative to "
                             "options.workdir"), line


def test_crossbar_example_shapes_load(node_dir):
    """The shapes of Crossbar.io's hello examples (Python container, Node.js guest with watch) load as written."""
    (node_dir.parent / "node").mkdir()
    hello_guest = {"type": "guest", "executable": "/bin/sh", "arguments": ["hello.js"],
                   "options": {"workdir": "../node", "watch": {"directories": ["../node"], "action": "restart"}}}
    hello_container = {"type": "container", "options": {"pythonpath": [".."], "restart": "restart-on-failed",
                                                        "shutdown": "shutdown-on-last-component-stopped"},
                       "components": [{"type": "class", "classname": "app.Session", "realm": "realm1",
                                       "extra": {"name": "x"},
                                       "transport": {"type": "rawsocket", "serializer": "cbor", "url": "rs://x",
                                                     "endpoint": {"type": "unix", "path": "../router.sock"},
                                                     "options": {"max_message_size": 1048576}}}]}
    config = load(node_dir, router(), copy.deepcopy(hello_container), hello_guest)
    assert [type(w).__name__ for w in config.workers] == ["ContainerWorker", "GuestWorker"]
    assert config.ignored == ("workers[1].components[0].transport.url",)


def test_a_relative_executable_path_does_not_depend_on_the_current_directory(node_dir, tmp_path, monkeypatch):
    """`../bin/app` is looked for from workdir only, never from where the node was started."""
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "app").write_text("#!/bin/sh\n")
    (tmp_path / "bin" / "app").chmod(0o755)
    monkeypatch.chdir(tmp_path / "bin")  # ../bin/app exists from here, not from the node directory
    assert errors(node_dir, guest(executable="../bin/app")) == [
        f"workers[0].executable: '../bin/app' is not an executable file: {node_dir.parent / 'bin' / 'app'} is "
        "not one. Install the program, or give its absolute path or a path relative to options.workdir"]
    assert load(node_dir, guest(executable="../../bin/app")).workers[0].find_executable(None) == \
        str(tmp_path / "bin" / "app")


def test_check_accepts_and_counts_components_and_workers(node_dir):
    """`wampnode check` passes a config with all three kinds and says how many of each
    it found (they run: tests/test_router_components.py, tests/test_hosted_workers.py)."""
    write(node_dir, router(components=[{"type": "class", "classname": "app.Session", "realm": "realm1"}],
                           options={"pythonpath": [".."]}), container(), guest())
    checked = run_cli("check", "--cbdir", str(node_dir))
    assert checked.returncode == 0, checked.stderr
    assert "1 router component(s), 2 container/guest worker(s)" in checked.stdout
