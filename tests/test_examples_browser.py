"""The browser example in headless Chromium over wss, with a certificate from a private test CA.

The node runs examples/browser/.crossbar/config.json (ports moved to free ones, its
directories made absolute) with a leaf + intermediate from tests/pki.py. The CA is
trusted the way a person trusts it: imported with certutil into the NSS database of
a throwaway HOME. A second browser without the CA must fail, and the page must say
why in words.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chromium import Chromium, nss_database
from conftest import REPO, free_port, start_node
from pki import make_pki

EXAMPLE = REPO / "examples" / "browser"
ARTIFACTS = REPO / "test-artifacts"
BUNDLE = EXAMPLE / "node_modules" / "autobahn-browser" / "autobahn.min.js"


@pytest.fixture(scope="module")
def browser_node(tmp_path_factory):
    """The browser example's node: https/wss and http on free ports, certificate from a private CA."""
    assert BUNDLE.exists(), f"{BUNDLE} is missing: run `npm install` in examples/browser (tests/run.sh does)"
    base = tmp_path_factory.mktemp("browser")
    pki = make_pki(base / "pki")
    cbdir = base / ".crossbar"
    cbdir.mkdir()
    shutil.copy(pki.leaf_key, cbdir / "server.key")
    shutil.copy(pki.chain_crt, cbdir / "server.crt")  # leaf + intermediate
    config = json.loads((EXAMPLE / ".crossbar" / "config.json").read_text())
    ports = {}
    for transport in config["workers"][0]["transports"]:
        scheme = "https" if "tls" in transport["endpoint"] else "http"
        ports[scheme] = transport["endpoint"]["port"] = free_port()
        transport["endpoint"]["interface"] = "127.0.0.1"
        for path in transport["paths"].values():
            if path["type"] == "static":
                path["directory"] = str((EXAMPLE / ".crossbar" / path["directory"]).resolve())
    assert sorted(ports) == ["http", "https"]
    node = start_node(config, cbdir)
    yield {"root_ca": pki.root_crt, "https": f"https://127.0.0.1:{ports['https']}/",
           "http": f"http://127.0.0.1:{ports['http']}/", "wss": f"wss://127.0.0.1:{ports['https']}/ws"}
    node.stop()
    assert "Traceback" not in node.output(), node.output()


def save_screenshot(browser: Chromium, name: str, capsys) -> Path:
    path = browser.screenshot(ARTIFACTS / name)
    with capsys.disabled():
        print(f"\nscreenshot: {path}")
    return path


def test_page_over_wss_with_the_ca_trusted(browser_node, tmp_path, capsys):
    """With the CA in the NSS database the https page connects over wss, gets its own event and 2 + 3 = 5."""
    nss_database(tmp_path / "home", trusted_ca=browser_node["root_ca"])
    with Chromium(tmp_path / "home") as browser:
        loaded = browser.navigate(browser_node["https"])
        assert "errorText" not in loaded, loaded
        state = browser.wait_for("document.getElementById('call').dataset.result === '5' && "
                                 "document.getElementById('event').dataset.count === '1' && "
                                 "document.getElementById('state').dataset.state")
        save_screenshot(browser, "browser-example.png", capsys)
        assert state == "connected", browser.text("log")
        assert browser.text("url") == browser_node["wss"]
        assert browser.text("event") == "hello from the browser #1 (1 received)"
        assert browser.text("call") == "5"
        assert browser.evaluate("document.getElementById('error').hidden") is True
        # the autobahn bundle came from this node, not from the internet
        assert browser.evaluate("performance.getEntriesByType('resource').map(e => e.name)"
                                ".filter(n => n.endsWith('autobahn.min.js'))") == \
            [browser_node["https"] + "autobahn/autobahn.min.js"]
        browser.evaluate("document.getElementById('publish').click()")
        assert browser.wait_for("document.getElementById('event').dataset.count === '2'")


def test_without_the_ca_the_browser_refuses_and_the_page_says_why(browser_node, tmp_path, capsys):
    """Without the CA the https page is refused (ERR_CERT_AUTHORITY_INVALID) and the http page shows "certificate not trusted"."""
    nss_database(tmp_path / "home")
    with Chromium(tmp_path / "home") as browser:
        refused = browser.navigate(browser_node["https"])
        assert refused.get("errorText") == "net::ERR_CERT_AUTHORITY_INVALID", refused
        page = browser.navigate(f"{browser_node['http']}?url={browser_node['wss']}")
        assert "errorText" not in page, page
        state = browser.wait_for("document.getElementById('error').hidden === false && "
                                 "document.getElementById('state').dataset.state")
        save_screenshot(browser, "browser-example-untrusted.png", capsys)
        assert state == "unreachable", browser.text("log")
        error = browser.text("error")
        assert error.startswith(f"Cannot connect to {browser_node['wss']}. ")
        assert "(certificate not trusted)" in error
        assert browser.text("call") == "not called yet"
        assert browser.evaluate("document.getElementById('event').dataset.count") == "0"


def test_page_over_plain_http_uses_ws(browser_node, tmp_path):
    """Served over http the same page connects to ws:// on its own origin and works without any CA."""
    nss_database(tmp_path / "home")
    with Chromium(tmp_path / "home") as browser:
        browser.navigate(browser_node["http"])
        assert browser.wait_for("document.getElementById('call').dataset.result === '5'"), browser.text("log")
        assert browser.text("url") == browser_node["http"].replace("http:", "ws:") + "ws"
