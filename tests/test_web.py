"""The web transport: static files, nodeinfo, redirect, path traversal, HTTPS with curl."""
from __future__ import annotations

import json
import subprocess

import pytest

from conftest import free_port, router_config, tcp
from pki import make_pki


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True)


def status_of(url: str, *args: str) -> str:
    return curl("-o", "/dev/null", "-w", "%{http_code}", *args, url).stdout


@pytest.fixture
def site(tmp_path, node_factory):
    """A node serving tmp_path/www at / (listing off), /files (listing on), /info, /go, /ws."""
    www = tmp_path / "www"
    (www / "sub").mkdir(parents=True)
    (www / "index.html").write_text("<h1>hello from wampnode</h1>")
    (www / "data.wamp").write_text("x")
    (www / "sub" / "a.txt").write_text("a")
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    port = free_port()
    paths = {
        "/": {"type": "static", "directory": str(www),
              "options": {"mime_types": {".wamp": "application/x-wamp"}, "cache_timeout": 60}},
        "files": {"type": "static", "directory": str(www), "options": {"enable_directory_listing": True}},
        "info": {"type": "nodeinfo"},
        "go": {"type": "redirect", "url": "https://example.invalid/"},
        "ws": {"type": "websocket"},
    }
    node_factory(router_config([{"type": "web", "endpoint": tcp(port), "paths": paths}]))
    return f"http://127.0.0.1:{port}"


def test_static_index_and_404(site):
    """/ serves index.html; a missing file is a 404."""
    result = curl(site + "/")
    assert "hello from wampnode" in result.stdout
    assert status_of(site + "/missing.html") == "404"


def test_path_traversal_never_leaves_the_directory(site):
    """`..` in the raw request path gets 404/400, never a file outside the directory."""
    for path in ("/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"):
        result = curl("--path-as-is", "-w", "\n%{http_code}", site + path)
        assert "TOP SECRET" not in result.stdout
        assert result.stdout.strip().splitlines()[-1] in ("404", "400"), (path, result.stdout)


def test_directory_listing_switch(site):
    """Directory listing is off by default (404) and on where enabled."""
    assert status_of(site + "/sub/") == "404"
    listing = curl(site + "/files/sub/")
    assert "a.txt" in listing.stdout


def test_mime_types_and_cache_header(site):
    """Configured MIME types and the Cache-Control max-age are sent."""
    headers = curl("-D", "-", "-o", "/dev/null", site + "/data.wamp").stdout.lower()
    assert "content-type: application/x-wamp" in headers
    assert "cache-control: max-age=60" in headers


def test_nodeinfo_html_and_json(site):
    """/info shows the node's status page, and JSON when asked."""
    assert "wampnode" in curl(site + "/info").stdout
    facts = json.loads(curl("-H", "Accept: application/json", site + "/info").stdout)
    assert facts["sessions"] == 0 and facts["node"].startswith("wampnode")


def test_nodeinfo_at_the_root_leaves_the_other_paths_to_them(tmp_path, node_factory):
    """A nodeinfo page at "/" is the page for "/" and paths no other service has, while
    the transport's other paths (here a WebSocket and a redirect) still answer for themselves."""
    port = free_port()
    paths = {"/": {"type": "nodeinfo"}, "ws": {"type": "websocket"},
             "go": {"type": "redirect", "url": "https://example.invalid/"}}
    node_factory(router_config([{"type": "web", "endpoint": tcp(port), "paths": paths}]))
    site = f"http://127.0.0.1:{port}"
    assert "wampnode node" in curl(site + "/").stdout
    assert "wampnode node" in curl(site + "/anything/else").stdout
    assert status_of(site + "/ws") in ("400", "426")  # the WebSocket path, not the page
    headers = curl("-D", "-", "-o", "/dev/null", site + "/go").stdout.lower()
    assert headers.startswith("http/1.1 302"), headers


def test_redirect(site):
    """A redirect path answers 302 with the configured Location."""
    headers = curl("-D", "-", "-o", "/dev/null", site + "/go").stdout.lower()
    assert headers.startswith("http/1.1 302") and "location: https://example.invalid/" in headers


def test_websocket_path_refuses_plain_http(site):
    """A plain GET on a WebSocket path is refused, not served."""
    assert status_of(site + "/ws") in ("400", "426")


def test_https_static_with_curl_and_ca(tmp_path, node_factory):
    """curl --cacert root.crt fetches the static index over TLS from a CA-signed chain."""
    pki = make_pki(tmp_path / "pki")
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("secure hello")
    port = free_port()
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.leaf_crt),
           "chain_certificates": [str(pki.intermediate_crt)]}
    node_factory(router_config([{"type": "web", "endpoint": tcp(port, tls=tls),
                                 "paths": {"/": {"type": "static", "directory": str(www)}}}]))
    result = curl("--cacert", str(pki.root_crt), f"https://localhost:{port}/")
    assert result.returncode == 0, result.stderr
    assert "secure hello" in result.stdout
    untrusted = curl(f"https://localhost:{port}/")
    assert untrusted.returncode != 0
