"""Strict-Transport-Security on web transports, seen by curl over https (and not over http)."""
from __future__ import annotations

import json
import subprocess
from typing import Dict, Optional

import pytest

from conftest import free_port, router_config, run_cli, start_node, tcp
from node.config.fragments import web_options
from node.web.hsts import hsts_header
from pki import make_pki


def header(url: str, cacert: str, name: str = "strict-transport-security") -> Optional[str]:
    """The value of one response header of GET ``url`` (curl -D -), None when absent."""
    result = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", cacert, "-o", "/dev/null",
                             "-D", "-", url], capture_output=True, text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return None


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One node, one web transport per HSTS setting; yields name -> URL and the root CA."""
    base = tmp_path_factory.mktemp("hsts")
    pki = make_pki(base / "pki")
    www = base / "www"
    www.mkdir()
    (www / "index.html").write_text("hello")
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt)}
    settings: Dict[str, Optional[Dict]] = {
        "off": None,
        "crossbar": {"hsts": True, "hsts_max_age": 600},
        "object": {"hsts": {"max_age": 86400, "include_subdomains": True}},
        "object_default": {"hsts": {}},
        "plain": {"hsts": {"max_age": 86400, "include_subdomains": True}},
    }
    ports = {name: free_port() for name in settings}
    transports = []
    for name, options in settings.items():
        transport = {"type": "web", "endpoint": tcp(ports[name], None if name == "plain" else tls),
                     "paths": {"/": {"type": "static", "directory": str(www)}}}
        if options is not None:
            transport["options"] = options
        transports.append(transport)
    node = start_node(router_config(transports), base / "node")
    urls = {name: f"{'http' if name == 'plain' else 'https'}://127.0.0.1:{port}/"
            for name, port in ports.items()}
    try:
        yield urls, str(pki.root_crt)
    finally:
        node.stop()


def test_off_by_default(served):
    """A TLS web transport without `hsts` sends no Strict-Transport-Security header."""
    urls, ca = served
    assert header(urls["off"], ca) is None


def test_crossbar_boolean_form(served):
    """`hsts: true` with `hsts_max_age` (Crossbar's keys) sends that max-age."""
    urls, ca = served
    assert header(urls["crossbar"], ca) == "max-age=600"


def test_object_form_with_subdomains(served):
    """`hsts: {max_age, include_subdomains}` sends both directives."""
    urls, ca = served
    assert header(urls["object"], ca) == "max-age=86400; includeSubDomains"


def test_object_form_defaults(served):
    """`hsts: {}` means one year, no includeSubDomains."""
    urls, ca = served
    assert header(urls["object_default"], ca) == "max-age=31536000"


def test_not_sent_over_plain_http(served):
    """Over plain HTTP the header is never sent (RFC 6797 section 7.2)."""
    urls, ca = served
    assert header(urls["plain"], ca) is None


def test_header_values():
    """hsts_header maps each config form (with the schema's defaults) to its header value."""
    assert hsts_header(web_options({})) is None
    assert hsts_header(web_options({"hsts": False, "hsts_max_age": 5})) is None
    assert hsts_header(web_options({"hsts": True})) == b"max-age=31536000"
    assert hsts_header(web_options({"hsts": {"max_age": 0}})) == b"max-age=0"


@pytest.mark.parametrize("value, message", [
    ({"max_age": -1}, "hsts: -1 is less than the minimum of 0"),
    ({"maxage": 10}, "hsts: Additional properties are not allowed ('maxage' was unexpected)"),
    ("yes", "hsts: 'yes' is not true or false or an object"),
])
def test_bad_hsts_values(tmp_path, value, message):
    """A wrong `hsts` value is one line naming the path, exit 2."""
    config = router_config([{"type": "web", "endpoint": tcp(free_port()),
                             "paths": {"/": {"type": "nodeinfo"}}, "options": {"hsts": value}}])
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = run_cli("check", "--cbdir", str(tmp_path))
    assert result.returncode == 2
    assert f"workers[0].transports[0].options.{message}" in result.stderr, result.stderr
