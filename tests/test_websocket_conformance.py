"""A short Autobahn WebSocket conformance run against the node's echo services.

``kosoku`` drives the Autobahn TestSuite's own case files (framing, pings, reserved
bits, opcodes, fragmentation, UTF-8, closing handshake, limits, compression) against
a ``websocket.testee`` transport and a ``websocket-testee`` web path, which speak
the same WebSocket stack and options as the WAMP transports. The full run (all 517
cases, ~10 minutes) is ``python bench/conformance.py``; its summary is in the README.
"""
from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any, Dict, List

from conftest import free_port, router_config, tcp
from kosoku import FailureError, run_fuzzingclient

# Every group of the suite, with its slow members left to the full run: 9.x sends
# up to 16 MiB per case and 12.x/13.x repeat compressed messages a thousand times.
CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.1.1", "9.2.1", "9.7.1", "9.8.1",
         "10.*", "12.1.1", "12.2.1", "13.1.1", "13.3.1"]

# Big enough for the cases above (Crossbar.io's testee has no limit at all).
LIMITS = {"max_frame_size": 20000000, "max_message_size": 20000000, "compression": {"deflate": {}}}


def run_cases(url: str) -> List[Any]:
    try:
        return asyncio.run(run_fuzzingclient(url, CASES, concurrency=4))
    except FailureError as failure:
        return list(failure.results)


def verdicts(results: List[Any]) -> Dict[str, Any]:
    """Case id -> (behavior, behaviorClose) for every case that did not pass."""
    return {r.case_id: (r.behavior.value, r.behavior_close.value, r.result) for r in results if not r.passed}


def test_testee_transport_passes_conformance_subset(node_factory: Any) -> None:
    """Every selected Autobahn case is OK, NON-STRICT or INFORMATIONAL on a websocket.testee transport."""
    port = free_port()
    node_factory(router_config([{"type": "websocket.testee", "endpoint": tcp(port), "options": LIMITS}]))
    results = run_cases(f"ws://127.0.0.1:{port}")
    assert len(results) >= 250
    assert verdicts(results) == {}
    assert Counter(r.behavior.value for r in results)["OK"] > 200


def test_testee_web_path_passes_conformance_subset(node_factory: Any) -> None:
    """The same cases pass on a websocket-testee path of a web transport (Twisted Web takeover)."""
    port = free_port()
    node_factory(router_config([{"type": "web", "endpoint": tcp(port), "paths": {
        "echo": {"type": "websocket-testee", "options": LIMITS},
        "ws": {"type": "websocket"}}}]))
    results = run_cases(f"ws://127.0.0.1:{port}/echo")
    assert len(results) >= 250
    assert verdicts(results) == {}


def test_testee_applies_message_size_limit(node_factory: Any) -> None:
    """With the default 1 MiB max_message_size, a 4 MiB echo case is refused (close 1009), not echoed."""
    port = free_port()
    node_factory(router_config([{"type": "websocket.testee", "endpoint": tcp(port)}]))
    try:
        results = asyncio.run(run_fuzzingclient(f"ws://127.0.0.1:{port}", ["9.1.4"]))
    except FailureError as failure:
        results = list(failure.results)
    (result,) = results
    assert result.remote_close_code == 1009
