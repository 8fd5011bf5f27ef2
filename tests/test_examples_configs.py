"""Every config in examples/configs passes `wampnode check` and serves a real client once started.

Each config is copied into a temporary node directory with the files it names
(certificates, keys, DH parameters) generated there, its TCP ports replaced by free
ones on 127.0.0.1 and its unix socket moved into that directory; nothing else changes.
The hosting configs (container, guest) find their apps at ``../hosting/`` from the
node directory, as in the repository: examples/hosting is copied beside it, and the
ports their components connect to follow the router's.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.types import ComponentConfig

from conftest import REPO, await_until, free_port, node_env, run_cli
from hosting import NODE_MODULES, NODEJS, exercise
from longpollkit import RawLongPoll
from pki import dhparam, make_pki
from stack import needs_group_lists
from wampclient import SERIALIZERS, TIMEOUT, ClientSession, connect, leave, run

CONFIGS = REPO / "examples" / "configs"
APPS = REPO / "examples" / "python"
COMPONENTS = REPO / "examples" / "components"
TESTED = ["ws-localhost", "wss-selfsigned", "wss-own-ca", "wss-dhparam-ciphers", "unix-socket-proxy", "wampcra",
          "router-components", "container", "guest", "monitoring", "http-bridge", "reverse-proxy", "longpoll",
          "cookie-login", "scram", "web-apps"]
HOSTING = REPO / "examples" / "hosting"
WEBAPPS = REPO / "examples" / "webapps"
CRA_SECRET = "examples-cra-s3cret"
BRIDGE_ENV = {"BRIDGE_SECRET": "bridge-s3cret", "GITHUB_WEBHOOK_SECRET": "github-s3cret"}
# the secrets the example configs take from the node's environment
EXAMPLE_ENV = {"WAMPCRA_SECRET": CRA_SECRET, "METRICS_PASSWORD": "scrape-s3cret", "DASHBOARD_PASSWORD": "ops-s3cret",
               "LOGIN_TICKET": "s3cret", **BRIDGE_ENV}


def transports(config: Dict[str, Any]) -> List[Dict[str, Any]]:
    return [t for worker in config["workers"] for t in worker.get("transports", [])]


def node_dir(name: str, tmp_path: Path) -> Dict[str, Any]:
    """Copy examples/configs/NAME.json into a fresh node directory with the files it names.

    Returns the directory, the rewritten config, the client URL, and the CA a client trusts.
    """
    cbdir = tmp_path / "node"
    cbdir.mkdir()
    config = json.loads((CONFIGS / f"{name}.json").read_text())
    setup: Dict[str, Any] = {"cbdir": cbdir, "config": config, "ca": None}
    ports: Dict[int, int] = {}
    for transport in transports(config):
        endpoint = transport["endpoint"]
        path = "/ws" if transport["type"] == "web" else "/"
        if endpoint["type"] == "tcp":
            ports[endpoint["port"]] = free_port()
            endpoint["port"] = ports[endpoint["port"]]
            endpoint.setdefault("interface", "127.0.0.1")
            scheme = "wss" if "tls" in endpoint else "ws"
            setup["url"] = f"{scheme}://127.0.0.1:{endpoint['port']}{path}"
            setup["port"] = endpoint["port"]
        else:
            endpoint["path"] = str(cbdir / "wampnode.sock")
            setup["socket"] = endpoint["path"]
    if name == "router-components":  # the node directory sits in the app's directory ("pythonpath": [".."])
        for module in COMPONENTS.glob("*.py"):
            shutil.copy(module, tmp_path / module.name)
    if name == "web-apps":  # its app one level up ("pythonpath": [".."]) and the UI archive it serves
        shutil.copy(WEBAPPS / "webapp.py", tmp_path / "webapp.py")
        with zipfile.ZipFile(tmp_path / "ui.zip", "w") as archive:
            archive.writestr("index.html", "<h1>the UI</h1>")
    if name == "wss-selfsigned":  # what `wampnode init` / `wampnode cert selfsigned` make
        from node.tls.devcerts import make_selfsigned

        make_selfsigned(str(cbdir / "server.key"), str(cbdir / "server.crt"))
        setup["ca"] = cbdir / "server.crt"
    elif name in ("wss-own-ca", "wss-dhparam-ciphers"):
        pki = make_pki(tmp_path / "pki", key_type="rsa" if name == "wss-dhparam-ciphers" else "ec")
        shutil.copy(pki.leaf_key, cbdir / "server.key")
        shutil.copy(pki.leaf_crt, cbdir / "server.crt")
        shutil.copy(pki.intermediate_crt, cbdir / "intermediate.crt")
        if name == "wss-dhparam-ciphers":
            shutil.copy(pki.chain_crt, cbdir / "server.crt")  # the certificate file may hold the chain
            dhparam(cbdir)
        setup["ca"] = pki.root_crt
    if any(w["type"] in ("container", "guest") for w in config["workers"]):
        shutil.copytree(HOSTING, tmp_path / "hosting", ignore=shutil.ignore_patterns("node_modules", "__pycache__"))
        for worker in config["workers"]:
            for component in worker.get("components", []):
                endpoint = component["transport"]["endpoint"]
                old, endpoint["port"] = endpoint["port"], ports[endpoint["port"]]
                component["transport"]["url"] = component["transport"]["url"].replace(f":{old}/", f":{ports[old]}/")
            if worker["type"] == "guest":
                worker["arguments"] = [next((a.replace(f":{o}/", f":{n}/") for o, n in ports.items()
                                             if f":{o}/" in a), a) for a in worker["arguments"]]
    (cbdir / "config.json").write_text(json.dumps(config, indent=2))
    return setup


def run_app(app: str, url: str, ca: Optional[Path] = None, env: Optional[Dict[str, str]] = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    args = [sys.executable, str(APPS / app), "--url", url, "--timeout", "15"]
    if ca is not None:
        args += ["--ca", str(ca)]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=node_env(env))


def openssl(port: int, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                          input="", capture_output=True, text=True, timeout=30)


def test_every_example_config_is_tested():
    """The list of tested configs is exactly the JSON files in examples/configs."""
    assert sorted(p.stem for p in CONFIGS.glob("*.json")) == sorted(TESTED)


@pytest.mark.parametrize("name", [pytest.param(n, marks=needs_group_lists) if n == "wss-dhparam-ciphers" else n
                                  for n in TESTED])
def test_example_config_passes_check(name, tmp_path):
    """`wampnode check` accepts the example config with the files it names in place."""
    setup = node_dir(name, tmp_path)
    result = run_cli("check", "--cbdir", str(setup["cbdir"]), env=EXAMPLE_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": OK (" in result.stdout


@pytest.mark.parametrize("name", ["ws-localhost", "wss-selfsigned", "wss-own-ca"])
def test_pubsub_app_through_example_config(name, node_factory, tmp_path):
    """The pub/sub example app completes through a node started with the config (wss: trusting its CA)."""
    setup = node_dir(name, tmp_path)
    node_factory(None, cbdir=setup["cbdir"])
    result = run_app("pubsub.py", setup["url"], setup["ca"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "received 5 of 5 events, in order: True" in result.stdout


def test_own_ca_config_serves_the_intermediate(node_factory, tmp_path):
    """With chain_certificates the node sends leaf + intermediate, so a client holding only the root verifies it."""
    setup = node_dir("wss-own-ca", tmp_path)
    node_factory(None, cbdir=setup["cbdir"])
    result = openssl(setup["port"], "-CAfile", str(setup["ca"]), "-verify_return_error", "-showcerts")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verify return code: 0 (ok)" in result.stdout
    assert result.stdout.count("-----BEGIN CERTIFICATE-----") == 2


@needs_group_lists
def test_dhparam_config_negotiates_dhe_and_refuses_cbc(node_factory, tmp_path):
    """The dhparam + cipher-string config offers DHE-RSA with AES-GCM (2048-bit group) and no CBC suite."""
    setup = node_dir("wss-dhparam-ciphers", tmp_path)
    node_factory(None, cbdir=setup["cbdir"])
    dhe = openssl(setup["port"], "-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256", "-CAfile", str(setup["ca"]))
    assert dhe.returncode == 0, dhe.stdout + dhe.stderr
    assert "Cipher is DHE-RSA-AES128-GCM-SHA256" in dhe.stdout
    assert "Server Temp Key: DH, 2048 bits" in dhe.stdout
    cbc = openssl(setup["port"], "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:DHE-RSA-AES128-SHA")
    assert cbc.returncode != 0 and "Cipher is" not in cbc.stdout.replace("Cipher is (NONE)", "")
    result = run_app("rpc.py", setup["url"], setup["ca"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_unix_socket_config_serves_wamp_through_the_socket(node_factory, tmp_path):
    """Through the unix socket a WebSocket client sending the proxy's Origin joins and calls."""
    setup = node_dir("unix-socket-proxy", tmp_path)
    node_factory(None, cbdir=setup["cbdir"])

    async def scenario() -> None:
        loop = asyncio.get_event_loop()
        session = ClientSession(ComponentConfig(realm="realm1"))
        factory = WampWebSocketClientFactory(lambda: session, url="wss://example.com/ws",
                                             origin="https://example.com",
                                             serializers=[SERIALIZERS["json"]()])
        await loop.create_unix_connection(factory, setup["socket"])
        await asyncio.wait_for(asyncio.shield(session.joined), TIMEOUT)
        await session.register(lambda a, b: a + b, "com.example.add2")
        assert await session.call("com.example.add2", 2, 3) == 5
        await leave(session)

    run(scenario())


def test_wampcra_config_with_the_rpc_app(node_factory, tmp_path):
    """The RPC example app joins with WAMP-CRA (secret from the node's environment); a wrong secret exits 1."""
    setup = node_dir("wampcra", tmp_path)
    node = node_factory(None, cbdir=setup["cbdir"], env={"WAMPCRA_SECRET": CRA_SECRET})
    good = run_app("rpc.py", setup["url"], env={"WAMP_AUTHID": "backend1", "WAMP_SECRET": CRA_SECRET})
    assert good.returncode == 0, good.stdout + good.stderr
    assert "as 'backend1' (role 'backend', auth wampcra)" in good.stdout
    bad = run_app("rpc.py", setup["url"], env={"WAMP_AUTHID": "backend1", "WAMP_SECRET": "wrong"})
    assert bad.returncode == 1
    assert "rpc.py: failed" in bad.stderr and "wamp.error" in bad.stderr
    anonymous = run_app("rpc.py", setup["url"])
    assert anonymous.returncode == 1
    assert CRA_SECRET not in node.output()


def test_http_bridge_config_publishes_calls_and_takes_webhooks(node_factory, tmp_path):
    """curl publishes and calls through the example's bridge paths (an autobahn session subscribes
    and answers), and a GitHub-style webhook signed with openssl becomes an event."""
    from httpkit import curl

    setup = node_dir("http-bridge", tmp_path)
    node_factory(None, cbdir=setup["cbdir"], env=BRIDGE_ENV)
    base = f"http://127.0.0.1:{setup['port']}"
    payload = b'{"action": "opened"}'
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", BRIDGE_ENV["GITHUB_WEBHOOK_SECRET"]],
                            input=payload, capture_output=True, check=True).stdout.decode().split()[-1]

    async def scenario() -> Any:
        from wampclient import connect

        session = await connect(setup["url"])
        events: List[Any] = []
        await session.subscribe(lambda *a: events.append(a), "com.example.news")
        await session.subscribe(lambda e: events.append(("hook", e["body"])), "com.example.github")
        await session.register(lambda a, b: a + b, "com.example.add2")
        json_type = ("-H", "Content-Type: application/json")
        published = await asyncio.to_thread(curl, base + "/publish", *json_type,
                                            data=b'{"topic": "com.example.news", "args": ["hi"]}')
        called = await asyncio.to_thread(curl, base + "/call", *json_type,
                                         data=b'{"procedure": "com.example.add2", "args": [2, 3]}')
        hooked = await asyncio.to_thread(curl, base + "/webhook", "-H", f"X-Hub-Signature-256: sha256={digest}",
                                         data=payload)
        unsigned = await asyncio.to_thread(curl, base + "/publish-signed", *json_type,
                                           data=b'{"topic": "com.example.news"}')
        for _ in range(250):
            if len(events) >= 2:
                break
            await asyncio.sleep(0.02)
        await leave(session)
        return published, called, hooked, unsigned, events

    published, called, hooked, unsigned, events = run(scenario())
    assert published.status == 200 and "id" in json.loads(published.body)
    assert json.loads(called.body) == {"args": [5]}
    assert hooked.status == 202
    assert unsigned.status == 400  # signed path: key, timestamp, seq, nonce, signature required
    assert ("hi",) in events and ("hook", payload.decode()) in events


def test_reverse_proxy_config_serves_the_app_and_relays_wamp(node_factory, tmp_path):
    """The example's "/" and "api" paths reach a Python web server; "live" relays a WAMP client's
    WebSocket to a backend (here the node's own /ws), and the pub/sub app completes through it."""
    from httpkit import curl

    backend = subprocess.Popen([sys.executable, str(REPO / "tests" / "proxy_backend.py")], stdout=subprocess.PIPE,
                               text=True)
    try:
        backend_port = int(backend.stdout.readline().split()[1])
        setup = node_dir("reverse-proxy", tmp_path)
        config = setup["config"]
        paths = transports(config)[0]["paths"]
        for key in ("/", "api"):
            paths[key]["port"] = backend_port
        live = paths["live"]["backend"]
        live["endpoint"]["port"] = setup["port"]
        live["url"] = f"ws://127.0.0.1:{setup['port']}/ws"
        (setup["cbdir"] / "config.json").write_text(json.dumps(config, indent=2))
        node_factory(None, cbdir=setup["cbdir"])
        base = f"http://127.0.0.1:{setup['port']}"
        assert curl(base + "/file").status == 200
        assert json.loads(curl(base + "/api/x/headers").body)["line"] == "GET /v1/x/headers HTTP/1.1"
        result = run_app("pubsub.py", f"ws://127.0.0.1:{setup['port']}/live")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "received 5 of 5 events, in order: True" in result.stdout
    finally:
        backend.terminate()
        backend.wait(10)


def test_router_components_config_runs_its_backend(node_factory, tmp_path):
    """The class component answers calls, calls a procedure the client serves and publishes
    ticks; the function component tells the role both joined with."""
    setup = node_dir("router-components", tmp_path)
    setup["config"]["workers"][0]["components"][0]["extra"]["tick_seconds"] = 0.1
    (setup["cbdir"] / "config.json").write_text(json.dumps(setup["config"], indent=2))
    node = node_factory(None, cbdir=setup["cbdir"])
    assert "2 router component(s) joined" in node.output()

    async def scenario() -> None:
        client = await connect(setup["url"])
        assert await client.call("com.example.add2", 2, 3) == 5
        await client.register(lambda: "client", "com.example.client.name")
        assert await client.call("com.example.greet") == "Hello, client!"
        ticks: List[int] = []
        await client.subscribe(ticks.append, "com.example.tick")
        assert await await_until(lambda: len(ticks) >= 2)
        assert ticks[1] == ticks[0] + 1, ticks
        whoami = await client.call("com.example.whoami")
        assert (whoami["authrole"], whoami["realm"]) == ("backend", "realm1")
        await leave(client)

    run(scenario())
    assert node.stop() == 0
    assert "backend ready as backend on realm1" in node.output()


def test_container_config_runs_its_component(node_factory, tmp_path):
    """The container example: its Python component answers (add2), publishes, and calls the client's mul2."""
    setup = node_dir("container", tmp_path)
    node = node_factory(None, cbdir=setup["cbdir"])
    run(exercise(setup["url"], "com.example", result_topic=False))
    assert "[backend] backend ready: com.example.add2 registered" in node.output()


@pytest.mark.skipif(NODEJS is None, reason="Node.js is not installed")
def test_guest_config_runs_its_nodejs_component(node_factory, tmp_path):
    """The guest example: its Node.js component (autobahn from tests/js) answers the same way."""
    setup = node_dir("guest", tmp_path)
    node = node_factory(None, cbdir=setup["cbdir"], env={"NODE_PATH": str(NODE_MODULES)})
    run(exercise(setup["url"], "com.example", result_topic=False))
    assert "[hello-js] backend ready: com.example.add2 registered" in node.output()
    assert node.stop() == 0


def test_monitoring_config_counts_an_app(node_factory, tmp_path):
    """monitoring.json: after the pub/sub example app ran, its metrics (with the scrape password)
    show its publications and sessions; the dashboard's data needs its own login."""
    setup = node_dir("monitoring", tmp_path)
    node_factory(None, cbdir=setup["cbdir"], env=EXAMPLE_ENV)
    result = run_app("pubsub.py", setup["url"])
    assert result.returncode == 0, result.stdout + result.stderr
    monitor = transports(setup["config"])[0]["endpoint"]["port"]

    def get(path: str, *auth: str) -> subprocess.CompletedProcess:
        return subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *auth, f"http://127.0.0.1:{monitor}{path}"],
                              capture_output=True, text=True, timeout=30)

    assert get("/metrics").stdout.endswith("\n401")
    metrics = get("/metrics", "-u", f"prometheus:{EXAMPLE_ENV['METRICS_PASSWORD']}").stdout
    assert metrics.endswith("\n200")
    assert 'wampnode_publications_total{realm="realm1"} 5.0' in metrics
    assert 'wampnode_sessions_opened_total{realm="realm1"} 1.0' in metrics
    assert get("/dashboard/data", "-u", f"prometheus:{EXAMPLE_ENV['METRICS_PASSWORD']}").stdout.endswith("\n401")
    data = get("/dashboard/data", "-u", f"ops:{EXAMPLE_ENV['DASHBOARD_PASSWORD']}").stdout
    snapshot = json.loads(data.rpartition("\n")[0])
    assert snapshot["totals"]["publications"] == 5


def test_longpoll_config_serves_a_longpoll_client_beside_websocket(node_factory, tmp_path):
    """A long-poll client (plain HTTP requests) on `/lp` is called and gets events from a WebSocket session on `/ws`."""
    from autobahn.wamp.types import PublishOptions

    setup = node_dir("longpoll", tmp_path)
    node = node_factory(None, cbdir=setup["cbdir"])
    raw = RawLongPoll(setup["port"])
    raw.join()
    assert raw.send([64, 1, {}, "com.example.add2"]) == 204
    assert raw.receive()[1][0] == 65  # REGISTERED
    assert raw.send([32, 2, {}, "com.example.news"]) == 204
    assert raw.receive()[1][0] == 33  # SUBSCRIBED

    async def scenario() -> None:
        session = await connect(setup["url"])
        call = asyncio.ensure_future(session.call("com.example.add2", 2, 3))
        status, invocation = await asyncio.to_thread(raw.receive)
        assert status == 200 and invocation[0] == 68 and invocation[4] == [2, 3], invocation
        assert await asyncio.to_thread(raw.send, [70, invocation[1], {}, [5]]) == 204
        assert await asyncio.wait_for(call, TIMEOUT) == 5
        await session.publish("com.example.news", "over long-poll", options=PublishOptions(acknowledge=True))
        status, event = await asyncio.to_thread(raw.receive)
        assert status == 200 and event[0] == 36 and event[4] == ["over long-poll"], event
        await leave(session)

    run(scenario())
    assert node.proc.poll() is None and "Traceback" not in node.output()


def test_cookie_login_config_rejoins_by_cookie_after_a_restart(node_factory, tmp_path):
    """A ticket login binds the browser's cookie; after a restart (file store) the cookie alone joins.
    (scram.json is exercised by tests/test_scram_auth.py with autobahn's SCRAM client.)"""
    from test_cookie_auth import login_cookie, rejoin

    setup = node_dir("cookie-login", tmp_path)
    node = node_factory(None, cbdir=setup["cbdir"], env={"LOGIN_TICKET": "s3cret"})
    cookie = login_cookie(setup["port"])
    node.stop()
    node_factory(None, cbdir=setup["cbdir"], env={"LOGIN_TICKET": "s3cret"})
    details = run(rejoin(setup["port"], cookie))
    assert (details.authid, details.authrole, details.authprovider) == ("joe", "frontend", "cookie")
    assert (setup["cbdir"] / "cookies.dat").exists()


def test_web_apps_config_serves_each_path(node_factory, tmp_path):
    """web-apps.json: the Flask app at "/", the JSON value, the UI archive, the resource class,
    and the pub/sub app through /ws beside them."""
    from httpkit import curl

    setup = node_dir("web-apps", tmp_path)
    node_factory(None, cbdir=setup["cbdir"])
    base = f"http://127.0.0.1:{setup['port']}"
    assert b"wampnode web app" in curl(base + "/").body
    settings = curl(base + "/config")
    assert json.loads(settings.body)["realm"] == "realm1" and "no-store" in settings.headers["cache-control"]
    assert curl(base + "/ui/").body == b"<h1>the UI</h1>"
    assert json.loads(curl(base + "/hello").body) == {"greeting": "hello"}
    result = run_app("pubsub.py", setup["url"])
    assert result.returncode == 0, result.stdout + result.stderr
