"""Web transports under hostile requests: bodies, request heads, ranges, static-file escapes, bad paths.

Each test starts a real node (or, for paths that take a body, the web transport's
site class in its own process) and talks to it with curl or raw sockets.
"""
from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Tuple

import pytest

from conftest import free_port, router_config, run_cli, start_node, tcp
from pki import make_pki

HERE = Path(__file__).resolve().parent
FILE_SIZE = 1048576


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True)


def head_of(*args: str) -> Tuple[int, Dict[str, str]]:
    """Status and headers (lower-case names) of a curl request; the body is discarded."""
    out = curl("-D", "-", "-o", "/dev/null", *args).stdout.decode("latin-1")
    blocks = [b for b in out.split("\r\n\r\n") if b.strip()]
    status, *lines = blocks[-1].split("\r\n")  # the last answer (after any 100 Continue)
    headers = dict(line.split(":", 1) for line in lines)
    return int(status.split()[1]), {k.strip().lower(): v.strip() for k, v in headers.items()}


def raw_request(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send ``request`` and read the answer's head (or what came before the connection ended)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def serve_www(tmp_path: Path, node_factory, open_path: bool = False):
    """A node serving tmp_path/www (a 1 MiB file, dotfiles, symlinks in and out) at /; with
    ``open_path`` also at /open with allow_dotfiles, follow_symlinks_into and max_ranges 2."""
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    (www / ".git").mkdir()
    (www / ".well-known").mkdir()
    (www / "index.html").write_text("hello")
    (www / "big.bin").write_bytes(bytes(range(256)) * (FILE_SIZE // 256))
    (www / ".env").write_text("SECRET=1")
    (www / ".git" / "config").write_text("[core]")
    (www / ".well-known" / "security.txt").write_text("Contact: x")
    (www / "sub" / "inner.txt").write_text("inner")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "private.txt").write_text("PRIVATE")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "lib.js").write_text("LIB")
    (www / "private.txt").symlink_to(outside / "private.txt")
    (www / "outdir").symlink_to(outside)
    (www / "inner-link.txt").symlink_to(www / "sub" / "inner.txt")
    (www / "lib.js").symlink_to(shared / "lib.js")
    port = free_port()
    paths = {
        "/": {"type": "static", "directory": str(www), "options": {"enable_directory_listing": True}},
        "ws": {"type": "websocket"},
        "info": {"type": "nodeinfo"},
    }
    if open_path:
        paths["open"] = {"type": "static", "directory": str(www), "options": {
            "allow_dotfiles": True, "follow_symlinks_into": [str(shared)], "max_ranges": 2}}
    node = node_factory(router_config([{"type": "web", "endpoint": tcp(port), "paths": paths}]))
    return port, node


@pytest.fixture
def web(tmp_path, node_factory):
    return serve_www(tmp_path, node_factory)


@pytest.fixture
def web_open(tmp_path, node_factory):
    return serve_www(tmp_path, node_factory, open_path=True)


def status(url: str, *args: str) -> int:
    return int(curl("-o", "/dev/null", "-w", "%{http_code}", "--path-as-is", *args, url).stdout)


# --- request bodies ------------------------------------------------------------------------------


def test_body_on_a_path_that_takes_none_is_refused_before_it_is_read(web, tmp_path):
    """A POST of 20 MB to a static file, a 404 path, a WebSocket path: 413, at once, nothing spooled."""
    port, node = web
    body = tmp_path / "body.bin"
    body.write_bytes(b"\0" * 20_000_000)
    for path in ("/index.html", "/missing", "/ws"):
        started = time.monotonic()
        code, headers = head_of("--data-binary", f"@{body}", f"http://127.0.0.1:{port}{path}")
        assert code == 413 and headers["connection"] == "close", (path, code)
        assert time.monotonic() - started < 5
    # no Expect: 100-continue: the client sends the body at once and still reads the 413
    assert head_of("-H", "Expect:", "--data-binary", f"@{body}", f"http://127.0.0.1:{port}/")[0] == 413
    assert head_of("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{body}",
                   f"http://127.0.0.1:{port}/")[0] == 413
    # the answer comes from the head alone: no byte of the announced 1 GB body is sent
    answer = raw_request(port, b"PUT /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert status(f"http://127.0.0.1:{port}/index.html") == 200  # the node still serves
    assert re.search(r"\[warn\] Refused an HTTP request from 127\.0\.0\.1:\d+: POST /missing with a body "
                     r"\(20000000 octets\); the path takes none: 413", node.output()), node.output()


@pytest.fixture
def body_site():
    """body_site.py with max_request_body 200000: yields (port, process)."""
    proc = subprocess.Popen([sys.executable, str(HERE / "body_site.py"), json.dumps({"max_request_body": 200000})],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening "), line
        yield int(line.split()[1]), proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_paths_that_take_a_body_get_their_limit_and_keep_it_in_memory(body_site, tmp_path):
    """max_request_body is the fallback, a path's own limit wins, accepted bodies never go to a file."""
    port, proc = body_site
    body = tmp_path / "body.bin"
    body.write_bytes(b"x" * 150_000)  # Twisted alone writes bodies over 100 KB to a temporary file
    url = f"http://127.0.0.1:{port}"
    assert curl("--data-binary", f"@{body}", url + "/echo").stdout == b"POST 150000"
    assert curl("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{body}", url + "/echo").stdout \
        == b"POST 150000"
    body.write_bytes(b"x" * 200_001)
    assert head_of("--data-binary", f"@{body}", url + "/echo")[0] == 413
    assert head_of("-H", "Transfer-Encoding: chunked", "--data-binary", f"@{body}", url + "/echo")[0] == 413
    assert curl("--data-binary", "y" * 100, url + "/small").stdout == b"POST 100"
    assert head_of("--data-binary", "y" * 101, url + "/small")[0] == 413
    assert head_of("--data-binary", "y", url + "/none")[0] == 413
    assert curl(url + "/none").stdout == b"GET 0"
    proc.terminate()
    output = proc.communicate(timeout=10)[0]
    assert "tempfile" not in output, output


# --- request heads -------------------------------------------------------------------------------


def test_request_head_over_the_limit_gets_431_or_414(web):
    """A 20 KB header line, a 70 KB head, a 20 KB request line: 431, 431, 414, then the connection closes."""
    port, node = web
    big_line = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    many = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(70)) + b"\r\n"
    long_target = b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert raw_request(port, big_line).startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert raw_request(port, many).startswith(b"HTTP/1.1 431 ")
    assert raw_request(port, long_target).startswith(b"HTTP/1.1 414 URI Too Long\r\n")
    fine = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(60)) + b"\r\n"
    assert raw_request(port, fine).startswith(b"HTTP/1.1 200 ")
    assert "request head over the limit (65536 octets, 16384 per line): 431" in node.output()


def test_web_max_request_head_option(tmp_path, node_factory):
    """`max_request_head` of a web transport lowers the limit."""
    port = free_port()
    node_factory(router_config([{"type": "web", "endpoint": tcp(port), "options": {"max_request_head": 2048},
                                 "paths": {"info": {"type": "nodeinfo"}}}]))
    head = b"GET /info HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 1500 + b"\r\nX-B: " + b"b" * 1500 + b"\r\n\r\n"
    assert raw_request(port, head).startswith(b"HTTP/1.1 431 ")
    assert raw_request(port, b"GET /info HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200 ")


# --- ranges --------------------------------------------------------------------------------------


def test_overlapping_ranges_are_merged_so_the_answer_is_never_larger_than_the_file(web):
    """2,000 times `0-` is one range (206, 1 MiB), not a 2 GB multipart answer."""
    port, _ = web
    code, headers = head_of("-H", "Range: bytes=" + ",".join(["0-"] * 2000), f"http://127.0.0.1:{port}/big.bin")
    assert code == 206 and int(headers["content-length"]) == FILE_SIZE
    assert headers["content-range"] == f"bytes 0-{FILE_SIZE - 1}/{FILE_SIZE}"
    body = curl("-H", "Range: bytes=10-19,15-29,30-39", f"http://127.0.0.1:{port}/big.bin").stdout
    assert body == bytes(range(10, 40))  # overlapping and adjacent: one part


def test_more_ranges_than_max_ranges_get_the_whole_file(web):
    """1,000 distinct one-octet ranges (over the default max_ranges, 32): 200 and the file, once."""
    port, _ = web
    many = ",".join(f"{i * 10}-{i * 10}" for i in range(1000))
    code, headers = head_of("-H", f"Range: bytes={many}", f"http://127.0.0.1:{port}/big.bin")
    assert code == 200 and int(headers["content-length"]) == FILE_SIZE
    body = curl("-H", "Range: bytes=100-109,0-9", f"http://127.0.0.1:{port}/big.bin").stdout
    assert body.index(b"bytes 100-109/") < body.index(b"bytes 0-9/")  # the request's order
    code, headers = head_of("-H", f"Range: bytes={FILE_SIZE + 5}-", f"http://127.0.0.1:{port}/big.bin")
    assert code == 416 and headers["content-range"] == f"bytes */{FILE_SIZE}"


def test_max_ranges_option(web_open):
    """max_ranges 2: two ranges are a multipart answer, three get the whole file."""
    port, _ = web_open
    url = f"http://127.0.0.1:{port}/open/big.bin"
    code, headers = head_of("-H", "Range: bytes=100-109,0-9", url)
    assert code == 206 and headers["content-type"].startswith("multipart/byteranges")
    code, headers = head_of("-H", "Range: bytes=0-0,10-10,20-20", url)
    assert code == 200 and int(headers["content-length"]) == FILE_SIZE


# --- static files --------------------------------------------------------------------------------


def test_symlinks_out_of_the_directory_are_not_followed(web):
    """A link to a file or directory outside the static directory is a 404; links inside are served."""
    port, _ = web
    base = f"http://127.0.0.1:{port}"
    assert b"PRIVATE" not in curl(base + "/private.txt").stdout
    assert status(base + "/private.txt") == 404
    assert status(base + "/outdir/private.txt") == 404
    assert status(base + "/lib.js") == 404
    assert curl(base + "/inner-link.txt").stdout == b"inner"


def test_follow_symlinks_into_option(web_open):
    """Links into a follow_symlinks_into directory are served; links elsewhere still are not."""
    port, _ = web_open
    base = f"http://127.0.0.1:{port}"
    assert curl(base + "/open/lib.js").stdout == b"LIB"
    assert status(base + "/open/private.txt") == 404
    assert status(base + "/lib.js") == 404  # the other path keeps its default


def test_dotfiles_are_not_served(web):
    """.env and .git/config are 404 (however spelt); .well-known is served."""
    port, _ = web
    base = f"http://127.0.0.1:{port}"
    for path in ("/.env", "/.git/config", "/%2eenv", "/sub/../.env", "/.git/"):
        assert status(base + path) == 404, path
    assert curl(base + "/.well-known/security.txt").stdout == b"Contact: x"


def test_allow_dotfiles_option(web_open):
    """allow_dotfiles serves them."""
    port, _ = web_open
    base = f"http://127.0.0.1:{port}"
    assert curl(base + "/open/.env").stdout == b"SECRET=1"
    assert curl(base + "/open/.git/config").stdout == b"[core]"
    assert status(base + "/.env") == 404


def test_directory_listing_leaves_out_dotfiles(tmp_path, node_factory):
    """A listed directory shows its files but not its dotfiles."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "shown.txt").write_text("x")
    (www / ".hidden.txt").write_text("x")
    port = free_port()
    node_factory(router_config([{"type": "web", "endpoint": tcp(port), "paths": {
        "/": {"type": "static", "directory": str(www), "options": {"enable_directory_listing": True}}}}]))
    listing = curl(f"http://127.0.0.1:{port}/").stdout
    assert b"shown.txt" in listing and b".hidden.txt" not in listing


def check_lines(cbdir: Path, config: dict) -> subprocess.CompletedProcess:
    cbdir.mkdir(parents=True, exist_ok=True)
    (cbdir / "config.json").write_text(json.dumps(config))
    return run_cli("check", "--cbdir", str(cbdir))


def test_check_and_start_refuse_a_static_directory_holding_node_files(tmp_path):
    """`directory: ".."` with the node directory inside (not dot-named, so it would be
    served) or a directory holding the TLS key: exit 2, one line each."""
    cbdir = tmp_path / "app" / "node"
    pki = make_pki(tmp_path / "app" / "web" / "pki")
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.leaf_crt)}
    config = router_config([
        {"type": "web", "endpoint": tcp(free_port()), "paths": {"/": {"type": "static", "directory": ".."}}},
        {"type": "web", "endpoint": tcp(free_port(), tls=tls),
         "paths": {"/": {"type": "static", "directory": "../web"}}}])
    result = check_lines(cbdir, config)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].endswith(f"workers[0].transports[0].paths./.directory: {tmp_path / 'app'} contains the node "
                             f"directory ({cbdir}), which would be served. Serve a directory that holds only "
                             f"public files, e.g. \"../web\" beside the node directory"), lines
    assert f"transports[1].paths./.directory: {tmp_path / 'app' / 'web'} contains the TLS key ({pki.leaf_key})" \
        in lines[1], lines
    start = run_cli("start", "--cbdir", str(cbdir), timeout=30)
    assert start.returncode == 2 and "contains the node directory" in start.stderr
    config["workers"][0]["transports"] = config["workers"][0]["transports"][:1]
    config["workers"][0]["transports"][0]["paths"]["/"] = {
        "type": "static", "directory": "../web", "options": {"follow_symlinks_into": ["."]}}
    result = check_lines(cbdir, config)
    assert result.returncode == 2 and "paths./.options.follow_symlinks_into: " in result.stderr, result


def test_crossbar_layout_serving_the_app_directory_is_allowed_and_hides_the_node_directory(tmp_path):
    """Crossbar.io's usual `"directory": ".."` beside `.crossbar/` passes `check` (84 of its
    published example configs do this): the dot-named node directory is never served.
    With `allow_dotfiles` it would be, and then `check` refuses it."""
    app = tmp_path / "app"
    cbdir = app / ".crossbar"
    port = free_port()
    config = router_config([{"type": "web", "endpoint": tcp(port),
                             "paths": {"/": {"type": "static", "directory": ".."}}}])
    result = check_lines(cbdir, config)
    assert result.returncode == 0, result.stderr
    (app / "index.html").write_text("app page")
    node = start_node(config, cbdir)
    try:
        assert status(f"http://127.0.0.1:{port}/index.html") == 200
        assert status(f"http://127.0.0.1:{port}/.crossbar/config.json") == 404
    finally:
        node.stop()
    config["workers"][0]["transports"][0]["paths"]["/"]["options"] = {"allow_dotfiles": True}
    result = check_lines(cbdir, config)
    assert result.returncode == 2 and f"contains the node directory ({cbdir}), which would be served" \
        in result.stderr, result


# --- bad URL paths -------------------------------------------------------------------------------


def test_nul_or_invalid_utf8_in_the_path_is_a_400_with_one_warning(web):
    """%00 and %FF in a URL path: 400, one warning line each, no critical line or traceback."""
    port, node = web
    for path in ("/a%00b", "/index.html%00.txt", "/%ff%fe", "/sub/%c3"):
        assert status(f"http://127.0.0.1:{port}{path}") == 400, path
    output = node.output()
    assert "[critical]" not in output and "Traceback" not in output, output
    warnings = [line for line in output.splitlines() if "Bad request from 127.0.0.1:" in line]
    assert len(warnings) == 4, output
    assert warnings[0].endswith("the URL path holds a NUL octet (%00): /a%00b"), warnings
    assert warnings[2].endswith("the URL path is not UTF-8 text: /%ff%fe"), warnings
    assert status(f"http://127.0.0.1:{port}/index.html") == 200


def test_universal_transport_has_the_same_limits(tmp_path, node_factory):
    """A universal transport's web part refuses bodies and large heads as a web transport does."""
    port = free_port()
    node_factory(router_config([{"type": "universal", "endpoint": tcp(port),
                                 "websocket": {"ws": {"type": "websocket"}},
                                 "web": {"paths": {"info": {"type": "nodeinfo"}}}}]))
    assert raw_request(port, b"POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n") \
        .startswith(b"HTTP/1.1 413 ")
    assert raw_request(port, b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n") \
        .startswith(b"HTTP/1.1 431 ")
