"""A short Autobahn WebSocket conformance run against the node's echo services.

``kosoku`` drives the Autobahn TestSuite's own case files (framing, pings, reserved
bits, opcodes, fragmentation, UTF-8, closing handshake, limits, compression) against
a ``websocket.testee`` transport and a ``websocket-testee`` web path, which speak
the same WebSocket stack and options as the WAMP transports. The full run (all 517
cases, ~10 minutes) is ``python bench/conformance.py``; its summary is in the README.
"""
from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any, Dict

from conftest import free_port, router_config, tcp
from stack import KOSOKU_PYTHON, needs_kosoku

pytestmark = needs_kosoku

# Every group of the suite, with its slow members left to the full run: 9.x sends
# up to 16 MiB per case and 12.x/13.x repeat compressed messages a thousand times.
CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.1.1", "9.2.1", "9.7.1", "9.8.1",
         "10.*", "12.1.1", "12.2.1", "13.1.1", "13.3.1"]

# Big enough for the cases above (Crossbar.io's testee has no limit at all).
LIMITS = {"max_frame_size": 20000000, "max_message_size": 20000000, "compression": {"deflate": {}}}


def run_cases(url: str, outdir: Path, cases: Any = CASES) -> Dict[str, Dict[str, Any]]:
    """Case id -> kosoku's verdicts (``behavior``, ``behaviorClose``, ``remoteCloseCode``).

    kosoku runs in its own interpreter: its case files import a py3 shim of the old
    ``autobahn`` test-suite modules, which the real autobahn (imported by other
    tests in this process) would shadow.
    """
    selection = [arg for case in cases for arg in ("-i", case)]
    run = subprocess.run([KOSOKU_PYTHON, "-c", "from kosoku._cli import main; main()", url, *selection,
                          "-p", "4", "-o", str(outdir)], capture_output=True, text=True, timeout=120)
    assert (outdir / "index.json").exists(), f"kosoku wrote no report (pip install kosoku):\n{run.stderr}"
    index = json.loads((outdir / "index.json").read_text())
    (results,) = index.values()
    return results


def not_passed(results: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    good = {"OK", "NON-STRICT", "INFORMATIONAL"}
    return {case: (r["behavior"], r["behaviorClose"]) for case, r in results.items()
            if r["behavior"] not in good or r["behaviorClose"] not in good}


def test_testee_transport_passes_conformance_subset(node_factory: Any, tmp_path: Path) -> None:
    """Every selected Autobahn case is OK, NON-STRICT or INFORMATIONAL on a websocket.testee transport."""
    port = free_port()
    node_factory(router_config([{"type": "websocket.testee", "endpoint": tcp(port), "options": LIMITS}]))
    results = run_cases(f"ws://127.0.0.1:{port}", tmp_path)
    assert len(results) >= 250
    assert not_passed(results) == {}
    assert Counter(r["behavior"] for r in results.values())["OK"] > 200


def test_testee_web_path_passes_conformance_subset(node_factory: Any, tmp_path: Path) -> None:
    """The same cases pass on a websocket-testee path of a web transport (Twisted Web takeover)."""
    port = free_port()
    node_factory(router_config([{"type": "web", "endpoint": tcp(port), "paths": {
        "echo": {"type": "websocket-testee", "options": LIMITS},
        "ws": {"type": "websocket"}}}]))
    results = run_cases(f"ws://127.0.0.1:{port}/echo", tmp_path)
    assert len(results) >= 250
    assert not_passed(results) == {}


def test_testee_applies_message_size_limit(node_factory: Any, tmp_path: Path) -> None:
    """With the default 1 MiB max_message_size, a 4 MiB echo case is refused (close 1009), not echoed."""
    port = free_port()
    node_factory(router_config([{"type": "websocket.testee", "endpoint": tcp(port)}]))
    results = run_cases(f"ws://127.0.0.1:{port}", tmp_path, ["9.1.4"])
    assert results["9.1.4"]["remoteCloseCode"] == 1009
