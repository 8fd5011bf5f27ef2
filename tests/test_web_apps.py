"""``json``, ``archive``, ``wsgi`` and ``resource`` web paths on a real node started from
the CLI, read with curl; their failures at ``wampnode check`` and at start; the
archive ``download`` from a local HTTPS server with a test CA (tests/pki.py); the
path types and realm store keys wampnode refuses."""
from __future__ import annotations

import http.server
import json
import os
import ssl
import threading
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from conftest import free_port, router_config, run_cli, start_node, tcp
from httpkit import curl
from pki import make_pki

HERE = Path(__file__).resolve().parent
APPS = str(HERE / "apps" / "webapps")

FILES = {"dist/index.html": "<h1>index</h1>", "dist/js/app.min.js": "console.log(1)",
         "dist/style.css": "body{}", "dist/docs/index.html": "docs", "secret.txt": "outside the prefix"}


def make_zip(path: Path, files: Dict[str, str] = FILES) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return path


def paths() -> Dict[str, Any]:
    return {
        "/": {"type": "json", "value": {"name": "wampnode", "list": [1, 2], "text": "grüß"}},
        "compact": {"type": "json", "value": {"b": 1, "a": [True, None]},
                    "options": {"prettify": False, "sort_keys": True, "allow_cross_origin": True,
                                "discourage_caching": True}},
        "app": {"type": "archive", "archive": "../app.zip", "object_prefix": "dist", "default_object": "index.html",
                "cache": True, "mime_types": {".min.js": "text/javascript"}},
        "spa": {"type": "archive", "archive": "../app.zip", "object_prefix": "dist",
                "options": {"default_file": "index.html"}},
        "flask": {"type": "wsgi", "module": "flask_app", "object": "app", "maxthreads": 2},
        "flask/info": {"type": "nodeinfo"},
        "raw": {"type": "wsgi", "module": "raw_wsgi", "object": "hello"},
        "broken": {"type": "wsgi", "module": "raw_wsgi", "object": "broken"},
        "res": {"type": "resource", "classname": "web_resource.Greeting", "extra": {"greeting": "hi"}},
    }


def config(port: int, web_paths: Dict[str, Any], **options: Any) -> Dict[str, Any]:
    cfg = router_config([{"type": "web", "endpoint": tcp(port), "paths": web_paths, "options": options}])
    cfg["workers"][0]["options"] = {"pythonpath": [APPS]}
    return cfg


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    root = tmp_path_factory.mktemp("webapps")
    make_zip(root / "app.zip")
    port = free_port()
    running = start_node(config(port, paths(), max_request_body=1000), root / "cb")
    running.url = f"http://127.0.0.1:{port}"
    yield running
    assert running.stop() == 0, running.output()  # the WSGI pools stop with the node


# --- json ----------------------------------------------------------------------------


def test_json_value_prettified_by_default(node):
    answer = curl(node.url + "/")
    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(answer.body) == {"name": "wampnode", "list": [1, 2], "text": "grüß"}
    assert b"\n   " in answer.body and "grüß".encode() in answer.body
    assert "access-control-allow-origin" not in answer.headers and "cache-control" not in answer.headers


def test_json_options(node):
    answer = curl(node.url + "/compact", "-H", "Origin: https://app.example")
    assert answer.body == b'{"a":[true,null],"b":1}'
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert answer.headers["cache-control"] == "no-store, no-cache, must-revalidate, max-age=0"
    assert curl(node.url + "/compact/below").status == 404


def test_json_takes_no_body(node):
    assert curl(node.url + "/compact", "-X", "POST", data=b"x").status == 413


# --- archive -------------------------------------------------------------------------


def test_archive_default_object_and_types(node):
    assert curl(node.url + "/app").headers["location"] == "/app/"
    index = curl(node.url + "/app/")
    assert (index.status, index.body) == (200, b"<h1>index</h1>")
    assert index.headers["content-type"].startswith("text/html")
    assert curl(node.url + "/app/docs/").body == b"docs"
    script = curl(node.url + "/app/js/app.min.js")
    assert (script.body, script.headers["content-type"]) == (b"console.log(1)", "text/javascript")
    assert curl(node.url + "/app/style.css").headers["content-type"] == "text/css"
    head = curl(node.url + "/app/style.css", "-I")
    assert head.status == 200 and head.headers["content-length"] == "6" and head.body == b""


def test_archive_etag_and_last_modified(node):
    first = curl(node.url + "/app/style.css")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    again = curl(node.url + "/app/style.css", "-H", f"If-None-Match: {etag}")
    assert (again.status, again.body) == (304, b"")
    assert curl(node.url + "/app/style.css", "-H", 'If-None-Match: "other"').status == 200
    assert curl(node.url + "/app/style.css", "-H", f"If-Modified-Since: {modified}").status == 304


@pytest.mark.parametrize("target", ["/app/../secret.txt", "/app/%2e%2e/secret.txt", "/app/..%2fsecret.txt",
                                    "/app/js%5c..%5c..%5csecret.txt", "/app/nothere.html", "/app/js/"])
def test_archive_refuses_traversal_and_unknown_members(node, target):
    answer = curl(node.url + target, "--path-as-is")
    assert answer.status in (400, 404), answer
    assert b"outside the prefix" not in answer.body


def test_archive_default_file_for_unknown_paths(node):
    assert curl(node.url + "/spa/some/client/route").body == b"<h1>index</h1>"
    assert curl(node.url + "/spa/style.css").body == b"body{}"


# --- wsgi ----------------------------------------------------------------------------


def test_flask_application(node):
    home = curl(node.url + "/flask/")
    assert (home.status, home.body) == (200, b"hello from flask\n")
    echo = curl(node.url + "/flask/echo", "-X", "POST", data=b"x" * 500)
    assert json.loads(echo.body) == {"length": 500, "script_name": "/flask", "path": "/echo"}
    assert curl(node.url + "/flask/info").headers["content-type"].startswith("text/html")  # a child path of its own


def test_wsgi_body_over_the_transport_limit(node):
    answer = curl(node.url + "/flask/echo", "-X", "POST", data=b"x" * 1001)
    assert answer.status == 413
    assert curl(node.url + "/flask/").status == 200


def test_wsgi_environment(node):
    assert curl(node.url + "/raw/a/b?q=1").body == b"/raw|/a/b\n"


def test_wsgi_application_that_raises(node):
    answer = curl(node.url + "/broken/x")
    assert (answer.status, answer.body) == (500, b"Internal Server Error\n")
    line = "WSGI application raw_wsgi:broken raised RuntimeError: the application failed (GET /broken/x)"
    assert node.wait_for(line)
    assert "Traceback" not in node.output().split(line)[1].split("\n", 2)[1]
    assert curl(node.url + "/flask/boom").status == 500  # Flask answers its own errors
    assert curl(node.url + "/raw/").status == 200  # the node carries on


# --- resource ------------------------------------------------------------------------


def test_resource_class(node):
    answer = curl(node.url + "/res/any/path")
    assert json.loads(answer.body) == {"extra": {"greeting": "hi"}, "path": "/res/any/path"}
    assert curl(node.url + "/res", "-X", "POST", data=b"12345").body == b"got 5 octets"


# --- failures --------------------------------------------------------------------------


def _check_and_start(tmp_path: Path, web_paths: Dict[str, Any]) -> Any:
    cbdir = tmp_path / "cb"
    cbdir.mkdir(parents=True, exist_ok=True)
    (cbdir / "config.json").write_text(json.dumps(config(free_port(), web_paths)))
    checked = run_cli("check", "--cbdir", str(cbdir))
    started = run_cli("start", "--cbdir", str(cbdir), timeout=30)
    return checked, started


def _error_lines(done: Any) -> list:
    return [line for line in done.stderr.splitlines() if "config.json: " in line]


@pytest.mark.parametrize("path, at_check, key, text", [
    ({"type": "archive", "archive": "missing.zip"}, True, "archive", "missing.zip does not exist"),
    ({"type": "archive", "archive": "missing.zip", "origin": "https://127.0.0.1:1/a.zip"}, True, "archive",
     "Set `download: true`"),
    ({"type": "archive", "archive": "config.json"}, True, "archive", "is not a ZIP archive"),
    ({"type": "wsgi", "module": "no_such_module", "object": "app"}, True, "module",
     "module 'no_such_module' is not found"),
    ({"type": "wsgi", "module": "raw_wsgi", "object": "nope"}, False, "object", "has no 'nope'"),
    ({"type": "wsgi", "module": "raw_wsgi", "object": "not_callable"}, False, "object", "not a WSGI application"),
    ({"type": "resource", "classname": "no_such.Module"}, True, "classname", "module 'no_such' is not found"),
    ({"type": "resource", "classname": "web_resource.Missing"}, False, "classname", "has no 'Missing'"),
    ({"type": "resource", "classname": "web_resource.Failing"}, False, "classname",
     "raised ValueError: cannot make it"),
    ({"type": "resource", "classname": "web_resource.NotAResource"}, False, "classname",
     "not a Twisted Web resource"),
])
def test_bad_paths_one_line_at_check_and_start(tmp_path, path, at_check, key, text):
    checked, started = _check_and_start(tmp_path, {"x": path})
    if at_check:
        assert checked.returncode == 2 and len(_error_lines(checked)) == 1, checked.stderr
        assert f"paths.x.{key}: " in checked.stderr and text in checked.stderr
    else:
        assert checked.returncode == 0, checked.stderr
    assert started.returncode == 2, started.stderr
    lines = _error_lines(started)
    assert len(lines) == 1 and f"paths.x.{key}: " in lines[0] and text in lines[0], started.stderr
    assert "Traceback" not in started.stderr


@pytest.mark.parametrize("kind", ["upload", "cgi", "flashpolicy"])
def test_refused_path_types(tmp_path, kind):
    checked, _ = _check_and_start(tmp_path, {"x": {"type": kind, "directory": "."}})
    lines = _error_lines(checked)
    assert checked.returncode == 2 and len(lines) == 1, checked.stderr
    assert f"paths.x.type: '{kind}' paths are not supported by wampnode" in lines[0]



def test_flashpolicy_transport_refused(tmp_path):
    cfg = config(free_port(), {"/": {"type": "json", "value": 1}})
    cfg["workers"][0]["transports"].append({"type": "flashpolicy", "allowed_domain": "*",
                                            "endpoint": tcp(free_port())})
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    checked = run_cli("check", "--cbdir", str(tmp_path))
    lines = _error_lines(checked)
    assert checked.returncode == 2 and len(lines) == 1, checked.stderr
    assert "transports[1].type: 'flashpolicy' transports are not supported by wampnode" in lines[0]

def test_call_queue_refused(tmp_path):
    cfg = config(free_port(), {"/": {"type": "json", "value": 1}})
    cfg["workers"][0]["realms"][0]["store"] = {"type": "memory", "call-queue": [
        {"uri": "com.example.compute", "match": "exact", "limit": 1000}]}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    checked = run_cli("check", "--cbdir", str(tmp_path))
    lines = _error_lines(checked)
    assert checked.returncode == 2 and len(lines) == 1, checked.stderr
    assert "realms[0].store.call-queue: `call-queue` is not supported" in lines[0]


def test_store_limit_is_the_event_history_default(tmp_path):
    from node.config import load_config

    cfg = config(free_port(), {"/": {"type": "json", "value": 1}})
    cfg["workers"][0]["realms"][0]["store"] = {"type": "memory", "limit": 7, "event-history": [
        {"uri": "a.b", "match": "exact"}, {"uri": "a.c", "match": "exact", "limit": 3}]}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    realm = load_config(str(tmp_path)).realms[0]
    assert [h.limit for h in realm.event_history] == [7, 3]
    del cfg["workers"][0]["realms"][0]["store"]["limit"]
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert [h.limit for h in load_config(str(tmp_path)).realms[0].event_history] == [100, 3]


# --- download ------------------------------------------------------------------------


@pytest.fixture
def origin(tmp_path) -> Iterator[Any]:
    """An HTTPS server on 127.0.0.1 with a certificate of a test CA, serving /app.zip
    (and /moved redirecting to it, /bad.zip that is no ZIP file)."""
    pki = make_pki(tmp_path / "pki")
    served = make_zip(tmp_path / "served.zip").read_bytes()
    requests: list = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            requests.append(self.path)
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/app.zip")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = {"/app.zip": served, "/bad.zip": b"not a zip"}.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki.chain_crt), str(pki.leaf_key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"https://127.0.0.1:{server.server_address[1]}"
    server.pki = pki
    server.requests = requests
    yield server
    server.shutdown()
    server.server_close()


def _archive_path(origin: Any, url: str, **extra: Any) -> Dict[str, Any]:
    return dict({"type": "archive", "archive": "fetched/app.zip", "origin": origin.url + url, "download": True,
                 "object_prefix": "dist", "default_object": "index.html",
                 "trust": {"cafile": str(origin.pki.root_crt)}}, **extra)


def test_download_through_trust(tmp_path, origin):
    port = free_port()
    cbdir = tmp_path / "cb"
    cfg = config(port, {"app": _archive_path(origin, "/moved")})
    running = start_node(cfg, cbdir)
    try:
        assert curl(f"http://127.0.0.1:{port}/app/").body == b"<h1>index</h1>"
        assert origin.requests == ["/moved", "/app.zip"]
        assert zipfile.is_zipfile(cbdir / "fetched" / "app.zip")
    finally:
        assert running.stop() == 0
    running = start_node(cfg, cbdir)  # fetched once: the file is there now
    try:
        assert curl(f"http://127.0.0.1:{port}/app/style.css").body == b"body{}"
        assert origin.requests == ["/moved", "/app.zip"]
    finally:
        running.stop()


@pytest.mark.parametrize("url, extra, text", [
    ("/app.zip", {"trust": {}}, "fetching the archive from https://127.0.0.1:"),
    ("/bad.zip", {}, "the file fetched is not a ZIP archive"),
    ("/missing.zip", {}, "HTTP 404"),
    ("/app.zip", {"hashes": ["0" * 64]}, "none of `hashes`"),
    ("/app.zip", {"max_download_size": 100}, "max_download_size"),
])
def test_download_failures_stop_the_start(tmp_path, origin, url, extra, text):
    cbdir = tmp_path / "cb"
    cbdir.mkdir()
    (cbdir / "config.json").write_text(json.dumps(config(free_port(), {"app": _archive_path(origin, url, **extra)})))
    assert run_cli("check", "--cbdir", str(cbdir)).returncode == 0
    started = run_cli("start", "--cbdir", str(cbdir), timeout=60)
    assert started.returncode != 0
    output = started.stdout + started.stderr  # the node's log: a failed start is its critical line
    lines = [line for line in output.splitlines() if "paths.app.origin" in line]
    assert len(lines) == 1 and text in lines[0], output
    assert "Traceback" not in output
    assert not (cbdir / "fetched").exists() or os.listdir(cbdir / "fetched") == []
