"""autobahn-browser in headless Chromium on a page that offers only long-poll (no WebSocket at all).

The node serves the page (tests/data/longpoll_page) and the autobahn bundle
(examples/browser/node_modules/autobahn-browser) from static paths, and WAMP over
long-poll at ``/lp``; the page registers and calls a procedure and gets its own event.
"""
from __future__ import annotations

from chromium import Chromium, nss_database
from conftest import REPO, free_port, router_config, tcp

PAGE = REPO / "tests" / "data" / "longpoll_page"
BUNDLE_DIR = REPO / "examples" / "browser" / "node_modules" / "autobahn-browser"


def test_browser_page_with_only_longpoll_calls_and_gets_its_event(node_factory, tmp_path):
    """The call gives 5 and the event arrives over long-poll, though the node has a WebSocket path too."""
    assert (BUNDLE_DIR / "autobahn.min.js").exists(), \
        f"{BUNDLE_DIR} is missing: run `npm install` in examples/browser (tests/run.sh does)"
    port = free_port()
    paths = {"/": {"type": "static", "directory": str(PAGE)},
             "autobahn": {"type": "static", "directory": str(BUNDLE_DIR)},
             "lp": {"type": "longpoll", "options": {"debug": True}}, "ws": {"type": "websocket"}}
    node = node_factory(router_config([{"type": "web", "endpoint": tcp(port), "paths": paths}]))
    nss_database(tmp_path / "home")
    with Chromium(tmp_path / "home") as browser:
        loaded = browser.navigate(f"http://127.0.0.1:{port}/")
        assert "errorText" not in loaded, loaded
        done = browser.wait_for("document.getElementById('call').dataset.result === '5' && "
                                "document.getElementById('event').dataset.text || "
                                "document.getElementById('error').dataset.error")
        assert done == "hello over long-poll", browser.text("error")
        assert browser.text("transport") == "longpoll"
        assert browser.evaluate("typeof window.WebSocket") == "undefined"
    output = node.output()
    assert "long-poll" in output and "opened for tcp4:127.0.0.1" in output, output
    assert "Traceback" not in output, output
