"""Proxy workers (Crossbar.io's ``type: proxy``): client sessions authenticated at a proxy
process and relayed to the router, through nodes started from the CLI.

The node of most tests is modelled on crossbar-examples' ``proxy/.crossbar/config5.json``:
a router on a Unix RawSocket (CBOR, ``anonymous-proxy``) and two proxy workers sharing
one TCP port for WebSocket (JSON, msgpack, CBOR; anonymous and ticket) and one for
RawSocket, with a ``caller`` path and a nodeinfo page.
"""
from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from autobahn.wamp import message as m
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions, RegisterOptions
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from twisted.internet.task import Clock

from conftest import free_port, run_cli, start_node, tcp, wait_until
from node.config.fragments import auth_method
from node.router import Router
from router_fakes import Client, allow_all, realm as realm_config, role as role_config
from wampclient import TIMEOUT, connect, leave, run

EXAMPLE = Path(__file__).parent / "data" / "crossbar_proxy_example"
PERMISSIONS = [{"uri": "", "match": "prefix",
                "allow": {"call": True, "register": True, "publish": True, "subscribe": True},
                "disclose": {"caller": True, "publisher": True}, "cache": True}]
TICKETS = {"user1": {"ticket": "secret1", "role": "user"}, "user2": {"ticket": "secret2", "role": "user"},
           "guest": {"ticket": "secret3", "role": "nobody"}}


WAP = {"type": "wap", "templates": str(EXAMPLE / "templates"), "sandbox": True,
       "routes": [{"path": "/greeting/<name>", "method": "GET", "call": "com.example.greeting",
                   "render": "greeting.html"},
                  {"path": "/product/<int:product_id>/<report>/<int:year>/<int:month>", "method": "GET",
                   "call": "com.example.get_product_report", "render": "product_report.html"}],
       "wamp": {"realm": "realm1", "authrole": "restbridge"}}


def router_worker(transport_auth, endpoint=None):
    return {"type": "router",
            "realms": [{"name": "realm1", "roles": [{"name": name, "permissions": PERMISSIONS}
                                                    for name in ("anonymous", "restbridge", "user", "nobody",
                                                                                  "authenticator")]}],
            "transports": [{"type": "rawsocket", "endpoint": endpoint or {"type": "unix", "path": "router.sock"},
                            "serializers": ["cbor"], "auth": transport_auth}]}


def proxy_worker(web_port, raw_port, connection=None, routes=None):
    connection = connection or {"transport": {"type": "rawsocket", "endpoint": {"type": "unix", "path": "router.sock"},
                                              "url": "ws://localhost", "serializer": "cbor"},
                                "auth": {"anonymous-proxy": {"type": "static"}}}
    auth = {"anonymous": {"type": "static", "role": "anonymous"},
            "ticket": {"type": "static", "principals": TICKETS}}
    return {
        "type": "proxy", "options": {"backend_timeout": 3},
        "connections": {"conn1": connection},
        "routes": routes or {"realm1": {"anonymous": "conn1", "restbridge": "conn1", "user": "conn1",
                                        "authenticator": "conn1"}},
        "transports": [
            {"type": "web", "endpoint": dict(tcp(web_port), shared=True, backlog=1024),
             "paths": {"ws": {"type": "websocket", "serializers": ["cbor", "msgpack", "json"], "auth": auth},
                       "dyn": {"type": "websocket", "auth": {"ticket": {
                           "type": "dynamic", "authenticator": "com.example.authenticate",
                           "authenticator-realm": "realm1", "authenticator-role": "authenticator"}}},
                       "info": {"type": "nodeinfo"},
                       "call": {"type": "caller", "realm": "realm1", "role": "restbridge"},
                       "reports": WAP}},
            {"type": "rawsocket", "endpoint": dict(tcp(raw_port), shared=True), "serializers": ["cbor", "json"],
             "auth": auth},
        ]}


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    """A running node: the router and two proxy workers on shared ports."""
    web, raw = free_port(), free_port()
    router_web = free_port()
    router = router_worker({"anonymous-proxy": {"type": "static"}})
    router["transports"].append({"type": "web", "endpoint": tcp(router_web), "paths": {"reports": WAP}})
    config = {"version": 2, "controller": {"id": "node1"},
              "workers": [router, proxy_worker(web, raw), proxy_worker(web, raw)]}
    node = start_node(config, tmp_path_factory.mktemp("proxy"))
    yield {"ws": f"ws://127.0.0.1:{web}/ws", "rs": f"rs://127.0.0.1:{raw}", "http": f"http://127.0.0.1:{web}",
           "router_http": f"http://127.0.0.1:{router_web}", "node": node}
    assert node.stop() == 0
    output = node.output()
    assert "Traceback" not in output and "secret1" not in output, output


async def sessions_on_both_proxies(url, **kwargs):
    """Two joined sessions served by different proxy processes (SO_REUSEPORT spreads connections:
    connect until the WELCOMEs name two workers)."""
    by_worker = {}
    extra = []
    for _ in range(60):
        session = await connect(url, **kwargs)
        worker = session._session_details.authextra["x_cb_proxy_worker"]
        if worker in by_worker:
            extra.append(session)
            continue
        by_worker[worker] = session
        if len(by_worker) == 2:
            break
    await leave(*extra)
    assert len(by_worker) == 2, "60 connections all went to one proxy process"
    return list(by_worker.values())


def test_pubsub_and_rpc_through_two_proxy_processes(proxied):
    """A subscriber and a callee on one proxy process, a publisher and a ticket-authenticated caller
    on the other: the event and the call cross the router; the callee sees the caller's identity
    as the proxy authenticated it (authid user1, role user); WELCOME carries the router's session id."""
    async def main():
        first, second = await sessions_on_both_proxies(proxied["ws"])
        await leave(second)
        seen = asyncio.get_event_loop().create_future()
        await first.subscribe(lambda *a, **kw: seen.set_result((a, kw)), "com.example.topic")

        def whoami(x, details=None):
            return [x * 2, details.caller_authid, details.caller_authrole]

        await first.register(whoami, "com.example.whoami", options=RegisterOptions(details_arg="details"))
        for _ in range(60):  # a ticket session on the other process
            caller = await connect(proxied["ws"], serializer="msgpack", authmethods=["ticket"], authid="user1",
                                   secret="secret1")
            details = caller._session_details
            if details.authextra["x_cb_proxy_worker"] != first._session_details.authextra["x_cb_proxy_worker"]:
                break
            await leave(caller)
        assert (details.authid, details.authrole, details.authmethod) == ("user1", "user", "ticket")
        assert details.authextra["x_cb_proxy_node"] == "node1"
        await caller.publish("com.example.topic", 1, "two", k=3, options=PublishOptions(acknowledge=True))
        assert await asyncio.wait_for(seen, TIMEOUT) == ((1, "two"), {"k": 3})
        assert await caller.call("com.example.whoami", 21) == [42, "user1", "user"]
        with pytest.raises(ApplicationError) as refused:
            await caller.call("com.example.nobody")
        assert refused.value.error == "wamp.error.no_such_procedure"
        sessions = await caller.call("wamp.session.list")
        assert details.session in sessions and first._session_details.session in sessions
        await leave(first, caller)

    run(main())


@pytest.mark.parametrize("serializer", ["cbor", "json"])
def test_rawsocket_clients_through_the_proxies(proxied, serializer):
    """RawSocket clients (CBOR as the router speaks, and JSON: re-serialized) publish and call
    through the proxies; a WebSocket subscriber gets the event."""
    async def main():
        callee = await connect(proxied["rs"], serializer=serializer)
        await callee.register(lambda a, b: a + b, f"com.example.add.{serializer}")
        subscriber = await connect(proxied["ws"], serializer="json")
        seen = asyncio.get_event_loop().create_future()
        await subscriber.subscribe(lambda text: seen.set_result(text), "com.example.raw")
        caller = await connect(proxied["rs"], serializer=serializer, authmethods=["ticket"], authid="user2",
                               secret="secret2")
        assert caller._session_details.authrole == "user"
        assert await caller.call(f"com.example.add.{serializer}", 2, 3) == 5
        await caller.publish("com.example.raw", "héllo", options=PublishOptions(acknowledge=True))
        assert await asyncio.wait_for(seen, TIMEOUT) == "héllo"
        await leave(callee, subscriber, caller)

    run(main())


def test_caller_path_through_the_proxy(proxied):
    """curl POSTs to the proxy's `caller` path: its session reaches the router through the route
    of realm1/restbridge, and the callee sees role restbridge."""
    async def main():
        callee = await connect(proxied["ws"])

        def who(x, details=None):
            return {"x": x, "role": details.caller_authrole}

        await callee.register(who, "com.example.bridged", options=RegisterOptions(details_arg="details"))
        body = json.dumps({"procedure": "com.example.bridged", "args": [7]})
        answer = await asyncio.get_event_loop().run_in_executor(None, lambda: subprocess.run(
            ["curl", "-s", "-X", "POST", "-H", "Content-Type: application/json", "-d", body,
             proxied["http"] + "/call"], capture_output=True, text=True, timeout=TIMEOUT))
        await leave(callee)
        return json.loads(answer.stdout)

    assert run(main()) == {"args": [{"x": 7, "role": "restbridge"}]}


def test_no_route_is_aborted(proxied):
    """A realm the proxy has no route for, and a role without a route (ticket principal `guest` has
    role `nobody`), are refused with ABORT no_such_realm / no_such_role naming the routes."""
    async def main():
        with pytest.raises(ConnectionError) as realm:
            await connect(proxied["ws"], realm="realm2")
        with pytest.raises(ConnectionError) as role:
            await connect(proxied["ws"], authmethods=["ticket"], authid="guest", secret="secret3")
        return str(realm.value), str(role.value)

    realm, role = run(main())
    assert "wamp.error.no_such_realm" in realm and "no route for realm 'realm2'" in realm
    assert "wamp.error.no_such_role" in role and "no route for role 'nobody' on realm 'realm1'" in role
    assert "routed roles: anonymous, authenticator, restbridge, user" in role


def test_session_killed_at_the_router_ends_cleanly(proxied):
    """The router kills a session (wamp.session.kill): the proxy passes the GOODBYE on and the
    client leaves with the router's reason; the proxy keeps serving."""
    async def main():
        victim = await connect(proxied["ws"])
        killer = await connect(proxied["rs"], serializer="cbor")
        await killer.call("wamp.session.kill", victim._session_details.session, reason="com.example.bye",
                          message="go away")
        details = await asyncio.wait_for(asyncio.shield(victim.left), TIMEOUT)
        await asyncio.wait_for(asyncio.shield(victim.disconnected), TIMEOUT)
        again = await connect(proxied["ws"])
        await leave(killer, again)
        return details

    details = run(main())
    assert details.reason == "com.example.bye" and details.message == "go away"


def test_garbage_does_not_hurt_the_proxy(proxied):
    """Bytes that are no RawSocket handshake, and a WAMP message before HELLO, end that connection
    only; the proxies keep serving."""
    port = int(proxied["rs"].rsplit(":", 1)[1])
    for junk in (b"GET / HTTP/1.0\r\n\r\n", b"\x7f\xf1\x00\x00" + b"\x00\x00\x00\x05hello"):
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            s.sendall(junk)
            s.settimeout(TIMEOUT)
            try:
                while s.recv(1024):
                    pass
            except OSError:
                pass

    async def main():
        session = await connect(proxied["rs"], serializer="json")
        assert await session.call("wamp.session.count") >= 1
        await leave(session)

    run(main())
    assert "Traceback" not in proxied["node"].output()


def test_router_unreachable_is_aborted_at_once(tmp_path):
    """A proxy whose router socket does not answer refuses the session with ABORT naming the
    connection, well within backend_timeout: no hang, and the proxy process stays up."""
    web, raw = free_port(), free_port()
    connection = {"transport": {"type": "rawsocket", "endpoint": {"type": "unix", "path": "nobody.sock"},
                                "serializer": "cbor"}}
    config = {"version": 2, "workers": [router_worker({"anonymous-proxy": {"type": "static"}}),
                                        proxy_worker(web, raw, connection)]}
    node = start_node(config, tmp_path / "node")
    try:
        async def main():
            started = asyncio.get_event_loop().time()
            with pytest.raises(ConnectionError) as refused:
                await connect(f"ws://127.0.0.1:{web}/ws")
            return str(refused.value), asyncio.get_event_loop().time() - started

        text, took = run(main())
        assert "wamp.error.authentication_failed" in text and "unreachable over connection 'conn1'" in text
        assert took < 2.5
        text, _ = run(main())  # and again: the process serves on
        assert "unreachable" in text
    finally:
        assert node.stop() == 0


def node_key_file(cbdir: Path) -> str:
    """A Crossbar.io node key in ``cbdir``; returns its public key."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    cbdir.mkdir(parents=True, exist_ok=True)
    (cbdir / "key.priv").write_text(f"Crossbar.io node private key - KEEP THIS SAFE!\n\ncreator: test\n"
                                    f"public-key-ed25519: {public}\nprivate-key-ed25519: {seed}\n")
    return public


def test_cryptosign_proxy_over_tcp(tmp_path):
    """cryptosign-proxy (config6 of the example): the proxy signs with the node key over TCP; the
    router accepts it for the key's principal and the session gets the client's identity. A proxy
    whose key is not authorized is refused."""
    cbdir = tmp_path / "node"
    public = node_key_file(cbdir)
    router_port, web, raw = free_port(), free_port(), free_port()
    other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    connection = {"transport": {"type": "rawsocket", "endpoint": {"type": "tcp", "host": "127.0.0.1",
                                                                  "port": router_port},
                                "serializer": "cbor", "url": f"rs://localhost:{router_port}"},
                  "auth": {"cryptosign-proxy": {"type": "static"}}}
    for keys, expect in (([public], "joined"), ([other], "refused")):
        auth = {"cryptosign-proxy": {"type": "static", "principals": {
            "mynode1": {"realm": "realm1", "role": "anonymous", "authorized_keys": keys}}}}
        config = {"version": 2, "workers": [router_worker(auth, tcp(router_port)), proxy_worker(web, raw, connection)]}
        node = start_node(config, cbdir)
        try:
            async def main():
                try:
                    session = await connect(f"ws://127.0.0.1:{web}/ws", authmethods=["ticket"], authid="user1",
                                            secret="secret1")
                except ConnectionError as e:
                    return str(e)
                details = session._session_details
                await leave(session)
                return details.authid, details.authrole

            result = run(main())
        finally:
            assert node.stop() == 0
        if expect == "joined":
            assert result == ("user1", "user")
        else:
            assert "wamp.error.not_authorized" in result and "cryptosign-proxy" in result


def test_node_key_is_made_for_cryptosign_proxy(tmp_path):
    """Without key.priv the node makes one (Crossbar.io's format, mode 0600) before starting the proxy,
    and logs its public key for the router's authorized_keys."""
    cbdir = tmp_path / "node"
    router_port, web, raw = free_port(), free_port(), free_port()
    connection = {"transport": {"type": "rawsocket", "endpoint": {"type": "tcp", "host": "127.0.0.1",
                                                                  "port": router_port}, "serializer": "cbor"},
                  "auth": {"cryptosign-proxy": {"type": "static"}}}
    auth = {"cryptosign-proxy": {"type": "static", "principals": {"p": {"role": "anonymous", "authorized_keys": []}}}}
    config = {"version": 2, "workers": [router_worker(auth, tcp(router_port)), proxy_worker(web, raw, connection)]}
    node = start_node(config, cbdir)
    try:
        text = (cbdir / "key.priv").read_text()
        public = next(line.split(":", 1)[1].strip() for line in text.splitlines()
                      if line.startswith("public-key-ed25519:"))
        assert (cbdir / "key.priv").stat().st_mode & 0o777 == 0o600
        assert f"Node public key (cryptosign-proxy): {public}" in node.output()
        assert f"public-key-ed25519: {public}" in (cbdir / "key.pub").read_text()
    finally:
        assert node.stop() == 0


@pytest.mark.parametrize("number", range(1, 8))
def test_crossbar_example_configs_pass_check(tmp_path, number):
    """All seven configs of crossbar-examples' proxy example pass `wampnode check` (run from the
    example directory, as `crossbar start` is)."""
    example = tmp_path / "proxy"
    shutil.copytree(EXAMPLE, example)
    checked = run_cli("check", "--cbdir", ".crossbar", "--config", f".crossbar/config{number}.json", cwd=example)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 proxy worker(s)" in checked.stdout


@pytest.mark.parametrize("change, problem", [
    (lambda c: c["workers"][1]["routes"]["realm1"].update(user="conn9"), "connection 'conn9' is not defined"),
    (lambda c: c["workers"][1]["connections"]["conn1"]["transport"].update(
        endpoint={"type": "tcp", "host": "127.0.0.1", "port": 9}), "anonymous-proxy is used only over a Unix socket"),
    (lambda c: c["workers"][0]["transports"][0].update(endpoint={"type": "tcp", "port": 9}),
     "anonymous-proxy trusts any peer that connects: only on a Unix socket"),
    (lambda c: c["workers"][1]["transports"][0]["paths"]["call"].update(role="nobody"),
     "joins realm 'realm1' as role 'nobody', which has no route"),
    (lambda c: c["workers"][1]["transports"][1]["auth"].update({"anonymous-proxy": {"type": "static"}}),
     "authenticates a proxy at a router, not a client at a proxy"),
    (lambda c: c["workers"][1]["transports"][0]["paths"].update(ws2={"type": "websocket-proxy", "backends": []}),
     "'websocket-proxy' paths are not supported by wampnode"),
    (lambda c: c["workers"][1].update(routes={}), "a proxy worker without routes refuses every session"),
    (lambda c: c["workers"][1]["connections"]["conn1"].update(
        auth={"cryptosign-proxy": {"type": "static"}},
        transport={"type": "rawsocket", "serializer": "cbor", "endpoint": {
            "type": "tcp", "host": "127.0.0.1", "port": 9,
            "tls": {"hostname": "router.example", "ca_certificates": ["missing-ca.pem"]}}}),
     "connections.conn1.transport.endpoint.tls.ca_certificates[0]: "),
])
def test_check_refuses_bad_proxy_configs(tmp_path, change, problem):
    config = {"version": 2, "workers": [router_worker({"anonymous-proxy": {"type": "static"}}),
                                        proxy_worker(free_port(), free_port())]}
    change(config)
    (tmp_path / "config.json").write_text(json.dumps(config))
    checked = run_cli("check", "--cbdir", str(tmp_path))
    assert checked.returncode == 2 and problem in checked.stderr, checked.stderr
    assert "Traceback" not in checked.stderr


def test_proxy_processes_stop_with_the_node(proxied):
    """The node's status lists both proxies running (they stop with it: see the fixture's exit code)."""
    status = proxied["node"].cbdir / "node.status.json"
    assert wait_until(lambda: status.exists())
    workers = json.loads(status.read_text())
    listed = workers["workers"] if isinstance(workers, dict) else workers
    assert sorted((w["type"], w["state"]) for w in listed) == [("proxy", "running"), ("proxy", "running")]


def curl(url, *args):
    return subprocess.run(["curl", "-s", "-w", "\n%{http_code}", *args, url], capture_output=True, text=True,
                          timeout=TIMEOUT).stdout.rsplit("\n", 1)


@pytest.mark.parametrize("where", ["http", "router_http"])
def test_wap_pages(proxied, where):
    """config7's `wap` path, in a proxy (its session through the route of realm1/restbridge) and in
    the router: placeholders (int converted) and query parameters become the call's keyword
    arguments, the result renders the template (escaped), JSON with Accept: application/json;
    404 for no route, 500 with the error URI when the call fails."""
    async def main():
        callee = await connect(proxied["ws"])

        def greeting(name, details=None, **extra):
            return {"name": name, "message": f"hello from {details.caller_authrole} {sorted(extra)}"}

        def report(product_id, report, year=None, month=None):
            return {"product_id": product_id * 10, "report": report, "year": year, "month": month,
                    "flasky": type(year).__name__}

        await callee.register(greeting, "com.example.greeting", options=RegisterOptions(details_arg="details"))
        await callee.register(report, "com.example.get_product_report")
        base = proxied[where] + "/reports"
        loop = asyncio.get_event_loop()
        pages = [await loop.run_in_executor(None, curl, *a) for a in (
            (base + "/greeting/%3Cb%3EAda?lang=en",),
            (base + "/product/7/sales/2024/5",),
            (base + "/greeting/Ada", "-H", "Accept: application/json"),
            (base + "/nothing",),
        )]
        await leave(callee)
        pages.append(await loop.run_in_executor(None, curl, base + "/greeting/Ada"))  # no callee now
        return pages

    greeting, product, as_json, missing, failed = run(main())
    assert greeting[1] == "200" and "Hi &lt;b&gt;Ada!" in greeting[0]
    assert "hello from restbridge [&#39;lang&#39;]" in greeting[0]
    assert product[1] == "200" and "<b>70</b>" in product[0] and "<b>sales</b>" in product[0]
    assert "Flasky: <b>int</b>" in product[0]
    assert as_json[1] == "200" and json.loads(as_json[0]) == {"name": "Ada", "message": "hello from restbridge []"}
    assert missing[1] == "404" and "not found" in missing[0]
    assert failed[1] == "500" and "wamp.error.no_such_procedure" in failed[0]


def test_dynamic_authenticator_called_through_the_route(proxied):
    """config7's dynamic ticket authentication at the proxy: the authenticator is called on realm1
    as role `authenticator` (its `authenticator-role`, through that route); its answer decides."""
    async def main():
        backend = await connect(proxied["ws"])
        calls = []

        def authenticate(realm, authid, details, caller=None):
            calls.append((realm, authid, details["authmethod"], caller.caller_authrole))
            if details["ticket"] != "open sesame":
                raise ApplicationError("com.example.invalid_ticket", "wrong ticket")
            return {"role": "user", "extra": {"greeting": "hi"}}

        await backend.register(authenticate, "com.example.authenticate", options=RegisterOptions(details_arg="caller"))
        url = proxied["ws"].rsplit("/", 1)[0] + "/dyn"
        good = await connect(url, authmethods=["ticket"], authid="dora", secret="open sesame")
        details = good._session_details
        with pytest.raises(ConnectionError) as refused:
            await connect(url, authmethods=["ticket"], authid="mallory", secret="guess")
        await leave(good, backend)
        return calls, details, str(refused.value)

    calls, details, refused = run(main())
    assert (details.authid, details.authrole, details.authmethod) == ("dora", "user", "ticket")
    assert calls[0] == ("realm1", "dora", "ticket", "authenticator")
    assert "com.example.invalid_ticket" in refused


def router_with_proxy_auth(method):
    settings = {} if method == "anonymous-proxy" else {"principals": {}}
    router = Router((realm_config(roles=(role_config("user", allow_all()),)),), Clock())
    return Client(router, (auth_method(method, "static", settings),))


@pytest.mark.parametrize("extra, problem", [
    ({"proxy_authid": "a", "proxy_authrole": "user"}, "authextra.proxy_realm must be a non-empty string"),
    ({"proxy_realm": "realm1", "proxy_authid": "a", "proxy_authrole": 5}, "authextra.proxy_authrole must be"),
    ({"proxy_realm": "realm2", "proxy_authid": "a", "proxy_authrole": "user"}, "is not the realm joined"),
])
def test_anonymous_proxy_refuses_incomplete_identities(extra, problem):
    """The router's anonymous-proxy takes a forwarded identity only when it is complete and names
    the realm joined (HELLO straight at the router, no proxy process)."""
    abort = router_with_proxy_auth("anonymous-proxy").hello(authmethods=["anonymous-proxy"], authextra=extra)
    assert isinstance(abort, m.Abort) and abort.reason == "wamp.error.not_authorized" and problem in abort.message


def test_anonymous_proxy_joins_with_the_forwarded_identity():
    welcome = router_with_proxy_auth("anonymous-proxy").hello(
        authmethods=["anonymous-proxy"], authextra={"proxy_realm": "realm1", "proxy_authid": "ann",
                                                    "proxy_authrole": "user", "proxy_authextra": {"k": 1}})
    assert isinstance(welcome, m.Welcome)
    assert (welcome.authid, welcome.authrole, welcome.authmethod, welcome.authextra) == (
        "ann", "user", "anonymous-proxy", {"k": 1})


def test_cryptosign_proxy_needs_the_identity_before_the_key():
    """cryptosign-proxy without the forwarded identity is refused before any challenge."""
    abort = router_with_proxy_auth("cryptosign-proxy").hello(authmethods=["cryptosign-proxy"],
                                                             authextra={"pubkey": "00" * 32})
    assert isinstance(abort, m.Abort) and "proxy_realm" in abort.message


def test_crossbar_example_config5_runs(tmp_path):
    """The example's config5 as written (ports made free, the archive path that downloads from
    GitHub left out): its container backend joins through the router socket, and clients reach it
    through the two proxies, over WebSocket and the `caller` path."""
    example = tmp_path / "proxy"
    shutil.copytree(EXAMPLE, example)
    config = json.loads((example / ".crossbar" / "config5.json").read_text())
    port = free_port()
    for worker in config["workers"]:
        for transport in worker.get("transports", []):
            if transport["endpoint"]["type"] == "tcp":
                transport["endpoint"].update(port=port, interface="127.0.0.1")
            transport.get("paths", {}).pop("autobahn", None)
    node = start_node(config, example / ".crossbar")
    try:
        async def main():
            session = await connect(f"ws://127.0.0.1:{port}/ws", serializer="msgpack")
            for _ in range(100):  # the container's component registers after the node is ready
                try:
                    result = await session.call("com.example.add2", 2, 3)
                    break
                except ApplicationError:
                    await asyncio.sleep(0.05)
            await leave(session)
            return result

        assert run(main()) == 5
        body = json.dumps({"procedure": "com.example.add2", "args": [20, 22]})
        answer = subprocess.run(["curl", "-s", "-H", "Content-Type: application/json", "-d", body,
                                 f"http://127.0.0.1:{port}/call"], capture_output=True, text=True, timeout=TIMEOUT)
        assert json.loads(answer.stdout) == {"args": [42]}
    finally:
        assert node.stop() == 0
    assert "Traceback" not in node.output()


def test_router_gone_ends_the_client_sessions_cleanly(tmp_path):
    """A node of proxies only, relaying to a router node: when the router stops, each joined client
    gets GOODBYE wamp.close.transport_lost from its proxy and leaves; new sessions are refused at
    once; the proxies stay up and serve again when the router is back."""
    shared = tmp_path / "shared"
    shared.mkdir()
    socket_path = str(shared / "router.sock")
    router_config = {"version": 2, "workers": [router_worker({"anonymous-proxy": {"type": "static"}},
                                                             {"type": "unix", "path": socket_path})]}
    web, raw = free_port(), free_port()
    connection = {"transport": {"type": "rawsocket", "endpoint": {"type": "unix", "path": socket_path},
                                "serializer": "cbor"}}
    router = start_node(router_config, tmp_path / "router")
    proxies = start_node({"version": 2, "workers": [proxy_worker(web, raw, connection)]}, tmp_path / "proxies")
    try:
        async def joined():
            return await connect(f"ws://127.0.0.1:{web}/ws")

        async def main():
            session = await joined()
            assert router.stop() == 0
            details = await asyncio.wait_for(asyncio.shield(session.left), TIMEOUT)
            await asyncio.wait_for(asyncio.shield(session.disconnected), TIMEOUT)
            with pytest.raises(ConnectionError) as refused:
                await joined()
            return details, str(refused.value)

        details, refused = run(main())
        assert details.reason == "wamp.close.transport_lost"
        assert "wamp.error.authentication_failed" in refused
        router = start_node(router_config, tmp_path / "router")

        async def again():
            session = await joined()
            await leave(session)
            return session._session_details.authrole

        assert run(again()) == "anonymous"
    finally:
        router.stop()
        assert proxies.stop() == 0
    assert "Traceback" not in proxies.output()


def test_websocket_connection_to_the_router(tmp_path):
    """A proxy connection of type websocket (JSON to the router over a Unix socket) relays as RawSocket does."""
    web, raw = free_port(), free_port()
    router = router_worker({"anonymous-proxy": {"type": "static"}})
    router["transports"][0] = {"type": "websocket", "endpoint": {"type": "unix", "path": "routerws.sock"},
                               "serializers": ["json"], "auth": {"anonymous-proxy": {"type": "static"}}}
    connection = {"transport": {"type": "websocket", "endpoint": {"type": "unix", "path": "routerws.sock"},
                                "url": "ws://localhost", "serializers": ["json"]}}
    node = start_node({"version": 2, "workers": [router, proxy_worker(web, raw, connection)]}, tmp_path / "node")
    try:
        async def main():
            callee = await connect(f"rs://127.0.0.1:{raw}", serializer="cbor")
            await callee.register(lambda s: s[::-1], "com.example.reverse")
            caller = await connect(f"ws://127.0.0.1:{web}/ws", serializer="msgpack", authmethods=["ticket"],
                                   authid="user1", secret="secret1")
            result = await caller.call("com.example.reverse", "abc")
            await leave(callee, caller)
            return result, caller._session_details.authrole

        assert run(main()) == ("cba", "user")
    finally:
        assert node.stop() == 0


class SilentRouter:
    """A stand-in router on a Unix socket: RawSocket JSON handshake, WELCOME to the proxy's
    HELLO, then it reads nothing more (a router slower than the client, at its limit)."""

    def __init__(self, path: Path) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(4)
        self.server.settimeout(20)
        self.connections: list = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        self.connections.append(conn)
        conn.settimeout(10)
        conn.recv(4)
        conn.sendall(bytes([0x7F, 0xF1, 0, 0]))  # 16 MiB messages, JSON
        header = b""
        while len(header) < 4:
            header += conn.recv(4 - len(header))
        length, hello = int.from_bytes(header[1:4], "big"), b""
        while len(hello) < length:
            hello += conn.recv(length - len(hello))
        welcome = json.dumps([2, 4711, {"roles": {"broker": {}, "dealer": {}}, "authid": "client",
                                        "authrole": "anonymous", "authmethod": "anonymous-proxy"}]).encode()
        conn.sendall(bytes([0]) + len(welcome).to_bytes(3, "big") + welcome)

    def drain(self) -> None:
        """From now on, read (and drop) all the proxy sends."""
        def read() -> None:
            conn = self.connections[0]
            conn.settimeout(30)
            try:
                while conn.recv(1 << 20):
                    pass
            except OSError:
                pass
        self.thread.join(10)
        self.thread = threading.Thread(target=read, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.close()
        for conn in self.connections:
            conn.close()
        self.thread.join(10)


class Flood:
    """One frame after another on a non-blocking socket, as fast as it takes them."""

    def __init__(self, sock: socket.socket, frame: bytes) -> None:
        self.sock, self.frame, self.pending = sock, frame, memoryview(frame)

    def push(self, done, seconds: float):
        """Send until ``done(octets sent, seconds since the socket last took any)``, at most
        ``seconds``: (octets sent, whether ``done`` said so)."""
        sent, progress, started = 0, time.monotonic(), time.monotonic()
        while time.monotonic() - started < seconds:
            if done(sent, time.monotonic() - progress):
                return sent, True
            try:
                taken = self.sock.send(self.pending)
            except BlockingIOError:
                time.sleep(0.005)
                continue
            sent, progress = sent + taken, time.monotonic()
            self.pending = self.pending[taken:] or memoryview(self.frame)
        return sent, False


def test_client_is_not_read_faster_than_the_router_reads(tmp_path):
    """A client publishing as fast as it can through a proxy whose router reads nothing:
    the proxy stops reading the client once its connection to the router holds a
    buffer's worth, so what the client gets rid of is bounded by the sockets' buffers,
    not kept by the proxy without end; once the router reads again, so does the proxy."""
    raw = free_port()
    cbdir = tmp_path / "node"
    cbdir.mkdir()
    router = SilentRouter(cbdir / "silent.sock")
    connection = {"transport": {"type": "rawsocket", "endpoint": {"type": "unix", "path": "silent.sock"},
                                "serializer": "json"}, "auth": {"anonymous-proxy": {"type": "static"}}}
    proxy = {"type": "proxy", "connections": {"conn1": connection}, "routes": {"realm1": {"anonymous": "conn1"}},
             "transports": [{"type": "rawsocket", "endpoint": tcp(raw), "serializers": ["json"],
                             "auth": {"anonymous": {"type": "static", "role": "anonymous"}}}]}
    node = start_node({"version": 2, "workers": [router_worker({"anonymous-proxy": {"type": "static"}}), proxy]},
                      cbdir)
    client = socket.create_connection(("127.0.0.1", raw), timeout=10)
    try:
        client.sendall(bytes([0x7F, 0xF1, 0, 0]))
        assert client.recv(4)[:1] == b"\x7f"
        hello = json.dumps([1, "realm1", {"roles": {"publisher": {}}}]).encode()
        client.sendall(bytes([0]) + len(hello).to_bytes(3, "big") + hello)
        assert b"[2," in client.recv(65536)  # WELCOME, relayed
        publish = json.dumps([16, 1, {}, "com.flood", ["x" * 65536]]).encode()
        frame = bytes([0]) + len(publish).to_bytes(3, "big") + publish
        client.setblocking(False)
        flood = Flood(client, frame)
        sent, stalled = flood.push(lambda sent, quiet: quiet >= 1.5, seconds=20)
        assert stalled, f"the proxy took {sent} octets in 20 s without slowing the client"
        assert sent < 64 * 1024 * 1024, sent
        router.drain()  # the router reads again: so is the client
        more, _ = flood.push(lambda sent, quiet: sent >= 16 * 1024 * 1024, seconds=20)
        assert more >= 16 * 1024 * 1024, f"the client stayed paused: {more} octets in 20 s"
    finally:
        client.close()
        router.close()
        assert node.stop() == 0
    assert "Traceback" not in node.output(), node.output()
