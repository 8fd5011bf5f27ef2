"""Cookie authentication in headless Chromium with autobahn-browser: the page logs in
with a ticket, is loaded again without it, and rejoins by its cookie alone as the same
authid and authrole. A page that never logged in is refused."""
from __future__ import annotations

from pathlib import Path

import pytest

from chromium import Chromium
from conftest import REPO, free_port, router_config, start_node, tcp

PAGE = Path(__file__).parent / "data" / "cookie_page"
BUNDLE_DIR = REPO / "examples" / "browser" / "node_modules" / "autobahn-browser"


@pytest.fixture
def node(tmp_path):
    assert (BUNDLE_DIR / "autobahn.min.js").exists(), "run `npm install` in examples/browser (tests/run.sh does)"
    port = free_port()
    paths = {
        "/": {"type": "static", "directory": str(PAGE)},
        "autobahn": {"type": "static", "directory": str(BUNDLE_DIR)},
        "ws": {"type": "websocket", "cookie": {"store": {"type": "memory"}},
               "auth": {"ticket": {"type": "static", "principals": {"joe": {"ticket": "t1", "role": "frontend"}}},
                        "cookie": {}}},
    }
    roles = [{"name": "frontend", "permissions": [{"uri": "com.", "match": "prefix", "allow": {"call": True}}]}]
    running = start_node(router_config([{"type": "web", "endpoint": tcp(port), "paths": paths}],
                                       [{"name": "realm1", "roles": roles}]), tmp_path / "node")
    yield f"http://127.0.0.1:{port}/"
    running.stop()
    assert "Traceback" not in running.output(), running.output()


def load(browser: Chromium, url: str) -> dict:
    browser.navigate(url)
    result = browser.wait_for("window.result")
    assert result, browser.evaluate("document.body.innerText")
    return result


def test_page_reload_rejoins_by_cookie(node, tmp_path):
    for home in ("home", "other-home"):
        (tmp_path / home).mkdir()
    with Chromium(tmp_path / "home") as browser:
        assert "error" in load(browser, node)  # no login yet: the cookie alone is refused
        first = load(browser, node + "?ticket=t1")
        assert (first["authid"], first["authrole"], first["authmethod"]) == ("joe", "frontend", "ticket")
        again = load(browser, node)
        assert (again["authid"], again["authrole"], again["authprovider"]) == ("joe", "frontend", "cookie")
        browser.evaluate("window.before_reload = true")
        browser.send("Page.reload", session=True)  # the reload button
        assert browser.wait_for("!window.before_reload && window.result && window.result.authid") == "joe"
    with Chromium(tmp_path / "other-home") as stranger:  # another browser has no cookie
        assert "error" in load(stranger, node)
