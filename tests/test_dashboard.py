"""``dashboard`` paths in headless Chromium: live numbers, and a clear word when the data is refused.

The page is loaded as a person would load it while autobahn clients publish and
call; the numbers are read from its DOM and checked against what the clients did.
Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any, Dict, List, Optional

import pytest
from autobahn.wamp.types import PublishOptions

from chromium import Chromium
from conftest import REPO, await_until, free_port, router_config, run_cli, tcp, wait_until
from wampclient import connect, leave, run

ARTIFACTS = REPO / "test-artifacts"
REALM = "realm1"


def dashboard_config(app: int, monitor: int, dashboard: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    dashboard = dashboard if dashboard is not None else {
        "type": "dashboard", "allowed_networks": ["127.0.0.1"], "interval": 0.5, "history": 60}
    return router_config([
        {"type": "web", "id": "app", "endpoint": tcp(app), "paths": {"ws": {"type": "websocket"}}},
        {"type": "web", "id": "monitor", "endpoint": tcp(monitor), "paths": {"dashboard": dashboard}},
    ])


def number(text: str) -> Optional[int]:
    text = (text or "").replace(",", "").strip()
    return int(text) if text.isdigit() else None


def dom(browser: Chromium) -> Dict[str, Any]:
    """What the page shows: the state, the status line, the numbers and the realm row."""
    return browser.evaluate("""(() => {
        const t = id => (document.getElementById(id) || {}).textContent || '';
        const row = document.querySelector('#realms tr[data-realm="realm1"]');
        return {state: document.body.dataset.state, status: t('status'), sessions: t('sessions'),
                calls: t('calls'), publications: t('publications'), events: t('events'),
                callErrors: t('call-errors'), errors: t('errors'), rate: t('message-rate'),
                realmSessions: row ? row.querySelector('.sessions').textContent : '',
                registrations: row ? row.querySelector('.registrations').textContent : '',
                procedures: row ? row.querySelector('.procedures').textContent : '',
                topics: row ? row.querySelector('.topics').textContent : '',
                points: document.querySelectorAll('#chart-messages polyline').length};
    })()""")


def test_dashboard_shows_what_clients_do(node_factory, tmp_path):
    """While clients publish and call, the page shows the sessions open, and its totals, realm row
    and busiest URIs match the calls, publications and errors the test made."""
    app, monitor = free_port(), free_port()
    node_factory(dashboard_config(app, monitor))
    url = f"ws://127.0.0.1:{app}/ws"
    page = f"http://127.0.0.1:{monitor}/dashboard/"
    home = tmp_path / "browser"
    home.mkdir()

    async def scenario() -> Dict[str, Any]:
        loop = asyncio.get_event_loop()
        callee, caller, subscriber = await connect(url), await connect(url), await connect(url)
        got: List[int] = []
        await callee.register(lambda a, b: a + b, "com.example.add")
        await subscriber.subscribe(lambda n: got.append(n), "com.example.ticks")
        made = {"calls": 0, "publications": 0}
        stop = asyncio.Event()

        async def traffic() -> None:  # a client publishing and calling while the page is open
            while not stop.is_set():
                assert await caller.call("com.example.add", made["calls"], 1) == made["calls"] + 1
                made["calls"] += 1
                await caller.publish("com.example.ticks", made["publications"], options=PublishOptions(acknowledge=True))
                made["publications"] += 1
                await asyncio.sleep(0.05)

        busy = asyncio.ensure_future(traffic())
        with Chromium(home, width=1280, height=1100) as browser:
            assert "errorText" not in await loop.run_in_executor(None, browser.navigate, page)
            live = await loop.run_in_executor(None, browser.wait_for,
                                              "document.body.dataset.state === 'live' && "
                                              "document.querySelectorAll('#chart-messages polyline').length > 0 && "
                                              "parseFloat(document.getElementById('message-rate').textContent) > 0")
            assert live, await loop.run_in_executor(None, dom, browser)
            during = await loop.run_in_executor(None, dom, browser)
            stop.set()
            await busy
            with pytest.raises(Exception):
                await caller.call("com.example.nobody")
            assert await _until(lambda: len(got) == made["publications"])
            expected = {"calls": made["calls"] + 1, "publications": made["publications"]}

            def settled() -> bool:
                shown = dom(browser)
                return (number(shown["calls"]) == expected["calls"]
                        and number(shown["publications"]) == expected["publications"]
                        and number(shown["callErrors"]) == 1)

            settled_ok = await loop.run_in_executor(None, wait_until, settled, 15, 0.2)
            after = await loop.run_in_executor(None, dom, browser)
            assert settled_ok, (after, expected)
            ARTIFACTS.mkdir(exist_ok=True)
            await loop.run_in_executor(None, browser.screenshot, ARTIFACTS / "dashboard.png")
        await leave(callee, caller, subscriber)
        return {"during": during, "after": after, "made": made}

    result = run(scenario())
    during, after, made = result["during"], result["after"], result["made"]
    assert number(during["sessions"]) == 3 and number(during["realmSessions"]) == 3, during
    assert float(during["rate"]) > 0, during
    assert number(after["events"]) == made["publications"]
    assert number(after["errors"]) == 1  # the ERROR for the call nobody answers
    assert number(after["registrations"]) == 1
    assert f"com.example.add: {made['calls']}, 1 callees" in after["procedures"], after
    assert f"com.example.ticks: {made['publications']}, 1 subscribers" in after["topics"], after
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10000


async def _until(predicate: Any, timeout: float = 10.0) -> bool:
    return await await_until(predicate, timeout)


def test_dashboard_says_when_its_data_is_refused(node_factory, tmp_path):
    """The page open on a node that stops answering says the node cannot be reached; on a node
    whose config refuses the dashboard data to this address (403) it says so, naming the reason;
    either way every number is blanked, none left stale."""
    app, monitor = free_port(), free_port()
    first = node_factory(dashboard_config(app, monitor), cbdir=tmp_path / "first")
    page = f"http://127.0.0.1:{monitor}/dashboard/"
    home = tmp_path / "browser"
    home.mkdir()
    with Chromium(home, width=1280, height=900) as browser:
        assert "errorText" not in browser.navigate(page)
        assert browser.wait_for("document.body.dataset.state === 'live'"), dom(browser)
        assert number(dom(browser)["sessions"]) == 0
        first.stop()
        assert browser.wait_for("document.body.dataset.state === 'unreachable'"), dom(browser)
        down = dom(browser)
        assert "cannot be reached" in down["status"]
        assert down["sessions"] == "\u2014" and down["calls"] == "\u2014" and down["realmSessions"] == ""
        refusing = dashboard_config(app, monitor, {"type": "dashboard", "allowed_networks": ["10.0.0.0/8"]})
        node_factory(refusing, cbdir=tmp_path / "second")
        assert browser.wait_for("document.body.dataset.state === 'refused'"), dom(browser)
        refused = dom(browser)
        assert "refused the dashboard data (HTTP 403)" in refused["status"], refused
        assert "127.0.0.1 is not in allowed_networks" in refused["status"], refused
        assert refused["sessions"] == "\u2014" and refused["publications"] == "\u2014", refused
        assert refused["points"] == 0
        ARTIFACTS.mkdir(exist_ok=True)
        browser.screenshot(ARTIFACTS / "dashboard-refused.png")


def test_dashboard_access_and_files(node_factory):
    """The dashboard asks for a login when it has credentials, serves its own script (no other
    origin allowed by its Content-Security-Policy), and a config without readers is refused."""
    app, monitor = free_port(), free_port()
    node_factory(dashboard_config(app, monitor, {"type": "dashboard", "credentials": {"ops": "watch"}}))
    base = f"http://127.0.0.1:{monitor}/dashboard"

    def curl(url: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["curl", "-sS", "-D", "-", *args, url], capture_output=True, text=True, timeout=30)

    assert curl(base + "/data").stdout.startswith("HTTP/1.1 401")
    page = curl(base + "/", "-u", "ops:watch").stdout
    assert page.startswith("HTTP/1.1 200") and "default-src 'self'" in page and '<script src="dashboard.js"' in page
    script = curl(base + "/dashboard.js", "-u", "ops:watch").stdout
    assert "text/javascript" in script and "fetch(\"data\"" in script
    data = curl(base + "/data", "-u", "ops:watch").stdout
    snapshot = json.loads(data.split("\n\n", 1)[1])
    assert snapshot["realms"][0]["name"] == REALM and snapshot["transports"][1]["id"] == "monitor"
    assert curl(base, "-u", "ops:watch").stdout.startswith("HTTP/1.1 302")


def test_dashboard_needs_readers(tmp_path):
    """A dashboard without credentials and without allowed_networks is a configuration error."""
    cbdir = tmp_path / "node"
    cbdir.mkdir()
    (cbdir / "config.json").write_text(json.dumps(dashboard_config(free_port(), free_port(), {"type": "dashboard"})))
    result = run_cli("check", "--cbdir", str(cbdir))
    assert result.returncode == 2
    assert ("paths.dashboard: a dashboard shows realm names, URIs and load: it needs readers named. "
            "Add `credentials`") in result.stderr + result.stdout
