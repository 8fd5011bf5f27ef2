"""Cookie tracking and cookie authentication through running nodes: curl for ``Set-Cookie``,
autobahn-python clients that send the cookie back, raw long-poll clients (``longpoll`` paths
take ``cookie`` too), and the file store across restarts and ``kill -9``."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from typing import Any, Dict, List, Optional

import pytest
from autobahn.asyncio.websocket import WampWebSocketClientFactory
from autobahn.wamp.types import ComponentConfig

from conftest import free_port, router_config, start_node, tcp, wait_until
from longpollkit import RawLongPoll
from pki import make_pki
from wampclient import TIMEOUT, ClientSession, SERIALIZERS, leave, run

ROLES = [{"name": "frontend", "permissions": [
    {"uri": "com.", "match": "prefix", "allow": {"call": True, "register": True, "publish": True,
                                                  "subscribe": True}}]}]
TICKET = {"type": "static", "principals": {"joe": {"ticket": "s3cret", "role": "frontend"}}}


def websocket_path(cookie: Dict[str, Any], auth: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    path: Dict[str, Any] = {"type": "websocket", "cookie": cookie}
    if auth is not None:
        path["auth"] = auth
    return path


def longpoll_path(cookie: Optional[Dict[str, Any]], auth: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    path: Dict[str, Any] = {"type": "longpoll"}
    if cookie is not None:
        path["cookie"] = cookie
    if auth is not None:
        path["auth"] = auth
    return path


def web(port: int, paths: Dict[str, Any], tls: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    return {"type": "web", "endpoint": tcp(port, tls=tls), "paths": paths}


def upgrade_headers(url: str, cookie: Optional[str] = None, cafile: Optional[str] = None) -> str:
    """The response head of a WebSocket opening handshake, as curl prints it (``-i``).

    curl has no WebSocket support here: after the 101 it waits for a body that never
    ends, so ``--max-time`` ends it once the head is printed."""
    args = ["curl", "-s", "-i", "--http1.1", "--max-time", "2", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
            "-H", "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "-H", "Sec-WebSocket-Protocol: wamp.2.json"]
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    if cafile:
        args += ["--cacert", cafile]
    result = subprocess.run(args + [url], capture_output=True, timeout=15)
    head = result.stdout.decode("latin-1").split("\r\n\r\n")[0]
    assert head.startswith("HTTP/1.1 101"), (result.returncode, head)
    return head


def set_cookie(head: str) -> Optional[str]:
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "set-cookie":
            return value.strip()
    return None


def attributes(header: str) -> Dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    return {p.partition("=")[0].lower(): p.partition("=")[2] for p in parts[1:]}


async def connect_with_cookie(url: str, cookie: Optional[str], authmethods: List[str],
                              authid: Optional[str] = None, secret: Optional[str] = None,
                              join: bool = True) -> ClientSession:
    """An autobahn-python session whose opening handshake sends ``Cookie: cookie``."""
    loop = asyncio.get_event_loop()
    session = ClientSession(ComponentConfig(realm="realm1"), authmethods, authid, secret)
    headers = {"Cookie": cookie} if cookie else None
    factory = WampWebSocketClientFactory(lambda: session, url=url, serializers=[SERIALIZERS["json"]()],
                                         headers=headers)
    port = int(url.split(":")[2].split("/")[0])
    await asyncio.wait_for(loop.create_connection(factory, "127.0.0.1", port), TIMEOUT)
    if join:
        await asyncio.wait_for(asyncio.shield(session.joined), TIMEOUT)
    return session


def login_cookie(port: int, path: str = "ws") -> str:
    """A fresh cookie (from curl), then a ticket login on a connection that shows it."""
    cookie = set_cookie(upgrade_headers(f"http://127.0.0.1:{port}/{path}")).split(";")[0]

    async def main() -> None:
        session = await connect_with_cookie(f"ws://127.0.0.1:{port}/{path}", cookie, ["ticket"], "joe", "s3cret")
        assert session.joined.result().authid == "joe"
        await leave(session)

    run(main())
    return cookie


async def rejoin(port: int, cookie: Optional[str], path: str = "ws") -> Any:
    """Join by cookie alone; the WELCOME details, or the refusal as an exception."""
    session = await connect_with_cookie(f"ws://127.0.0.1:{port}/{path}", cookie, ["cookie"], join=False)
    try:
        details = await asyncio.wait_for(asyncio.shield(session.joined), TIMEOUT)
    finally:
        await leave(session)
    return details


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cookie")
    pki = make_pki(directory / "pki")
    ports = {"plain": free_port(), "tls": free_port()}
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt)}
    paths = {
        "ws": websocket_path({"store": {"type": "memory"}}, {"ticket": TICKET, "cookie": {}}),
        "strict": websocket_path({"name": "sid", "length": 32, "max_age": 600, "same_site": "Strict"},
                                 {"ticket": TICKET}),
        "proxied": websocket_path({"secure": True, "same_site": "None"}),
        "anon": websocket_path({}, {"anonymous": {"type": "static", "role": "frontend"}}),
        "lp": longpoll_path({"store": {"type": "memory"}}, {"ticket": TICKET, "cookie": {}}),
        "lpstrict": longpoll_path({"name": "sid", "length": 32, "max_age": 600, "same_site": "Strict"}),
    }
    tls_paths = {"ws": websocket_path({}), "lp": longpoll_path({})}
    transports = [web(ports["plain"], paths), web(ports["tls"], tls_paths, tls)]
    running = start_node(router_config(transports, [{"name": "realm1", "roles": ROLES}]), directory / "node")
    yield ports, str(pki.root_crt)
    running.stop()
    assert "Traceback" not in running.output(), running.output()


def test_set_cookie_attributes_over_plain_tcp(node):
    ports, _ = node
    header = set_cookie(upgrade_headers(f"http://127.0.0.1:{ports['plain']}/ws"))
    assert header is not None
    name, _, value = header.split(";")[0].partition("=")
    assert name == "cbtid" and len(value) == 24
    attrs = attributes(header)
    assert attrs["max-age"] == "86400" and attrs["samesite"] == "Lax" and "httponly" in attrs
    assert "secure" not in attrs  # plain TCP: a Secure cookie would never come back
    header = set_cookie(upgrade_headers(f"http://127.0.0.1:{ports['plain']}/strict"))
    name, _, value = header.split(";")[0].partition("=")
    assert name == "sid" and len(value) == 32
    assert attributes(header)["max-age"] == "600" and attributes(header)["samesite"] == "Strict"
    attrs = attributes(set_cookie(upgrade_headers(f"http://127.0.0.1:{ports['plain']}/proxied")))
    assert "secure" in attrs and attrs["samesite"] == "None"  # secure: true, TLS ends at a proxy


def test_set_cookie_is_secure_over_tls(node):
    ports, cafile = node
    attrs = attributes(set_cookie(upgrade_headers(f"https://localhost:{ports['tls']}/ws", cafile=cafile)))
    assert "secure" in attrs and "httponly" in attrs


def test_known_cookie_is_kept_and_unknown_one_replaced(node):
    ports, _ = node
    url = f"http://127.0.0.1:{ports['plain']}/ws"
    cookie = set_cookie(upgrade_headers(url)).split(";")[0]
    assert set_cookie(upgrade_headers(url, cookie=f"other=1; {cookie}")) is None
    fresh = set_cookie(upgrade_headers(url, cookie="cbtid=chosen-by-the-client"))
    assert fresh is not None and "chosen-by-the-client" not in fresh


def test_cookie_login_rejoins_as_the_ticket_principal(node):
    ports, _ = node
    cookie = login_cookie(ports["plain"])

    async def main() -> None:
        details = await rejoin(ports["plain"], cookie)
        assert (details.authid, details.authrole, details.authmethod) == ("joe", "frontend", "ticket")
        assert details.authprovider == "cookie"
        # a cookie no login was bound to, and no cookie at all, are refused
        fresh = set_cookie(upgrade_headers(f"http://127.0.0.1:{ports['plain']}/ws")).split(";")[0]
        for other in (fresh, None):
            with pytest.raises(ConnectionError, match="not_authorized"):
                await rejoin(ports["plain"], other)

    run(main())


def test_logout_unbinds_the_cookie(node):
    ports, _ = node
    cookie = login_cookie(ports["plain"])

    async def main() -> None:
        session = await connect_with_cookie(f"ws://127.0.0.1:{ports['plain']}/ws", cookie, ["cookie"])
        session.leave("wamp.close.logout")
        await asyncio.wait_for(asyncio.shield(session.disconnected), TIMEOUT)
        with pytest.raises(ConnectionError, match="not_authorized"):
            await rejoin(ports["plain"], cookie)

    run(main())


def test_cookie_method_falls_back_to_the_next_listed_method(node):
    ports, _ = node
    fresh = set_cookie(upgrade_headers(f"http://127.0.0.1:{ports['plain']}/ws")).split(";")[0]

    async def main() -> None:
        session = await connect_with_cookie(f"ws://127.0.0.1:{ports['plain']}/ws", fresh, ["cookie", "ticket"],
                                            "joe", "s3cret")
        assert session.joined.result().authmethod == "ticket"
        await leave(session)

    run(main())


def test_anonymous_authid_is_the_cookie(node):
    ports, _ = node
    cookie = set_cookie(upgrade_headers(f"http://127.0.0.1:{ports['plain']}/anon")).split(";")[0]

    async def main() -> None:
        for _ in range(2):  # the same authid across connections
            session = await connect_with_cookie(f"ws://127.0.0.1:{ports['plain']}/anon", cookie, ["anonymous"])
            assert session.joined.result().authid == cookie.partition("=")[2]
            await leave(session)

    run(main())


def longpoll_open_headers(url: str, cookie: Optional[str] = None, cafile: Optional[str] = None) -> str:
    """The response head of a long-poll ``open`` request, as curl prints it (``-i``)."""
    args = ["curl", "-s", "-i", "--max-time", "10", "-X", "POST", "-H", "Content-Type: application/json",
            "--data", json.dumps({"protocols": ["wamp.2.json"]})]
    if cookie:
        args += ["-H", f"Cookie: {cookie}"]
    if cafile:
        args += ["--cacert", cafile]
    result = subprocess.run(args + [url], capture_output=True, timeout=15)
    head = result.stdout.decode("latin-1").split("\r\n\r\n")[0]
    assert head.startswith("HTTP/1.1 200"), (result.returncode, head)
    return head


def test_longpoll_open_sets_the_cookie(node):
    ports, cafile = node
    url = f"http://127.0.0.1:{ports['plain']}/lp/open"
    header = set_cookie(longpoll_open_headers(url))
    assert header is not None
    name, _, value = header.split(";")[0].partition("=")
    assert name == "cbtid" and len(value) == 24
    attrs = attributes(header)
    assert attrs["max-age"] == "86400" and attrs["samesite"] == "Lax" and "httponly" in attrs
    assert "secure" not in attrs and attrs["path"] == "/"
    # a known cookie is kept, one the path's store does not know is replaced
    cookie = header.split(";")[0]
    assert set_cookie(longpoll_open_headers(url, cookie=f"other=1; {cookie}")) is None
    fresh = set_cookie(longpoll_open_headers(url, cookie="cbtid=chosen-by-the-client"))
    assert fresh is not None and "chosen-by-the-client" not in fresh
    header = set_cookie(longpoll_open_headers(f"http://127.0.0.1:{ports['plain']}/lpstrict/open"))
    name, _, value = header.split(";")[0].partition("=")
    assert name == "sid" and len(value) == 32
    assert attributes(header)["max-age"] == "600" and attributes(header)["samesite"] == "Strict"
    attrs = attributes(set_cookie(longpoll_open_headers(f"https://localhost:{ports['tls']}/lp/open", cafile=cafile)))
    assert "secure" in attrs and "httponly" in attrs


def longpoll_hello(client: RawLongPoll, authmethods: List[str], authid: Optional[str] = None) -> Any:
    details: Dict[str, Any] = {"roles": {"subscriber": {}, "publisher": {}}, "authmethods": authmethods}
    if authid is not None:
        details["authid"] = authid
    assert client.send([1, "realm1", details]) == 204
    status, answer = client.receive()
    assert status == 200, answer
    return answer


def test_longpoll_client_rejoins_by_cookie_alone(node):
    """A raw long-poll client logs in with ticket once; a later transport that shows the cookie
    joins as the same principal with authmethods ["cookie"] alone."""
    ports, _ = node
    first = RawLongPoll(ports["plain"], path="lp")
    cookie = first.open_headers["set-cookie"].split(";")[0]
    assert longpoll_hello(first, ["ticket"], "joe")[:2] == [4, "ticket"]  # CHALLENGE
    assert first.send([5, "s3cret", {}]) == 204
    status, welcome = first.receive()
    assert status == 200 and welcome[0] == 2 and welcome[2]["authid"] == "joe", welcome
    assert first.send([6, {}, "wamp.close.close_realm"]) == 204
    assert first.receive()[1][0] == 6  # GOODBYE

    again = RawLongPoll(ports["plain"], path="lp", headers={"Cookie": cookie})
    assert "set-cookie" not in again.open_headers  # the store knows it
    welcome = longpoll_hello(again, ["cookie"])
    assert welcome[0] == 2, welcome
    details = welcome[2]
    assert (details["authid"], details["authrole"], details["authmethod"]) == ("joe", "frontend", "ticket")
    assert details["authprovider"] == "cookie"

    # a cookie no login was bound to, and no cookie at all, are refused
    fresh = RawLongPoll(ports["plain"], path="lp")
    assert "set-cookie" in fresh.open_headers
    for client in (fresh, RawLongPoll(ports["plain"], path="lp", headers={"Cookie": "cbtid=forged"})):
        abort = longpoll_hello(client, ["cookie"])
        assert abort[0] == 3 and abort[2] == "wamp.error.not_authorized", abort


def test_websocket_and_longpoll_paths_keep_their_own_cookies(node):
    """Each service has its own store (a memory store is per service; a file store two services
    share is refused): a cookie the WebSocket path bound to a login is a stranger on the long-poll path."""
    ports, _ = node
    cookie = login_cookie(ports["plain"])
    client = RawLongPoll(ports["plain"], path="lp", headers={"Cookie": cookie})
    replaced = client.open_headers.get("set-cookie")
    assert replaced is not None and cookie not in replaced
    abort = longpoll_hello(client, ["cookie"])
    assert abort[0] == 3 and abort[2] == "wamp.error.not_authorized", abort


def file_store_config(port: int, max_cookies: int = 100000) -> Dict[str, Any]:
    cookie = {"store": {"type": "file", "filename": "cookies.dat", "max_cookies": max_cookies}}
    paths = {"ws": websocket_path(cookie, {"ticket": TICKET, "cookie": {}})}
    return router_config([web(port, paths)], [{"name": "realm1", "roles": ROLES}])


def test_file_store_survives_a_restart(tmp_path):
    port = free_port()
    node = start_node(file_store_config(port), tmp_path)
    try:
        cookie = login_cookie(port)
    finally:
        node.stop()
    node = start_node(file_store_config(port), tmp_path)
    try:
        details = run(rejoin(port, cookie))
        assert (details.authid, details.authrole, details.authprovider) == ("joe", "frontend", "cookie")
        assert set_cookie(upgrade_headers(f"http://127.0.0.1:{port}/ws", cookie=cookie)) is None
    finally:
        node.stop()


CHURN = r"""
import socket, sys
port = int(sys.argv[1])
request = (b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           b"Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n")
while True:  # ended by the test (or by the node going away)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(request)
        s.recv(4096)
        s.close()
    except OSError:
        sys.exit(0)
"""


def test_file_store_survives_kill_9_during_heavy_writes(tmp_path):
    """New cookies are journalled and the store compacted (temp file, fsync, rename) every
    few hundred handshakes; a kill -9 at any point must leave a store that loads with the
    bound login intact."""
    port = free_port()
    config = file_store_config(port, max_cookies=50)
    store = tmp_path / "cookies.dat"
    node = start_node(config, tmp_path)
    churners: List[subprocess.Popen] = []
    try:
        cookie = login_cookie(port)
        churners = [subprocess.Popen(["python3", "-c", CHURN, str(port)]) for _ in range(2)]
        # kill while both the journal and compaction are busy: the store has been rewritten
        # at least a few times (its inode changes at each compaction)
        inodes = set()
        assert wait_until(lambda: inodes.add(os.stat(store).st_ino) or len(inodes) >= 4, timeout=30), inodes
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(10)
    finally:
        for churner in churners:
            churner.kill()
            churner.wait(10)
        node.stop()
    node = start_node(config, tmp_path)
    try:
        assert "unreadable" not in node.output() or "skipped" in node.output()
        # max_cookies 50 under heavy churn: the cookies without a login went first
        details = run(rejoin(port, cookie))
        assert (details.authid, details.authrole, details.authprovider) == ("joe", "frontend", "cookie")
    finally:
        node.stop()
    left = [json.loads(line) for line in store.read_text().splitlines()]
    assert 1 <= len(left) <= 50 and all(isinstance(r.get("cbtid"), str) for r in left)


@pytest.mark.parametrize("service,expected", [
    ({"type": "websocket", "auth": {"cookie": {}, "ticket": TICKET}}, "needs cookie tracking"),
    ({"type": "websocket", "cookie": {"store": {"type": "file", "filename": "missing/dir/cookies.dat"}}},
     "does not exist or is not writable"),
    ({"type": "websocket", "cookie": {"store": {"type": "file"}}}, "filename"),
    ({"type": "websocket", "cookie": {"name": "Bad-Name"}}, "name"),
    ({"type": "websocket", "cookie": {"same_site": "lax"}}, "same_site"),
    ({"type": "websocket", "cookie": {"store": {"type": "database", "path": ".cookies"}}}, "store"),
    ({"type": "longpoll", "auth": {"cookie": {}, "ticket": TICKET}}, "needs cookie tracking"),
    ({"type": "longpoll", "cookie": {"store": {"type": "file", "filename": "missing/dir/cookies.dat"}}},
     "does not exist or is not writable"),
    ({"type": "longpoll", "cookie": {"same_site": "lax"}}, "same_site"),
])
def test_cookie_config_errors(tmp_path, service, expected):
    from conftest import run_cli

    config = router_config([web(free_port(), {"ws": service})])
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = run_cli("check", "--cbdir", str(tmp_path))
    text = result.stdout + result.stderr
    assert result.returncode != 0 and expected in text and "Traceback" not in text, text


def test_cookie_refused_with_several_processes(tmp_path):
    from conftest import run_cli

    config = router_config([web(free_port(), {"ws": websocket_path({})})])
    config["workers"][0]["options"] = {"processes": 2}
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = run_cli("check", "--cbdir", str(tmp_path))
    assert result.returncode != 0 and "keeps its store in one process" in result.stdout + result.stderr


def test_websocket_and_longpoll_paths_cannot_share_a_file_store(tmp_path):
    from conftest import run_cli

    cookie = {"store": {"type": "file", "filename": "cookies.dat"}}
    config = router_config([web(free_port(), {"ws": websocket_path(cookie), "lp": longpoll_path(cookie)})])
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = run_cli("check", "--cbdir", str(tmp_path))
    text = result.stdout + result.stderr
    assert result.returncode != 0 and "is already the cookie store of" in text and "paths.lp" in text, text


def test_longpoll_cookie_refused_with_several_processes(tmp_path):
    from conftest import run_cli

    config = router_config([web(free_port(), {"lp": longpoll_path({})})])
    config["workers"][0]["options"] = {"processes": 2}
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = run_cli("check", "--cbdir", str(tmp_path))
    text = result.stdout + result.stderr
    assert result.returncode != 0 and "paths.lp.cookie" in text and "keeps its store in one process" in text, text
