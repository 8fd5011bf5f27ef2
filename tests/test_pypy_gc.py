"""``wampnode start`` on PyPy runs with a nursery sized for large messages (node.process.pypy_gc).

Checked on the node process itself: its environment as the kernel shows it
(``/proc/PID/environ`` after the node executed itself again), its process ID (the
same: the pidfile names the process the test started), and the operator's own value.
"""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Any, Dict, Optional

import pytest

from node.process.pypy_gc import NURSERY, NURSERY_VARIABLE, pypy_gc_environment

from conftest import free_port, router_config, tcp

ON_PYPY = platform.python_implementation() == "PyPy"


def test_only_pypy_without_a_chosen_size_gets_the_nursery() -> None:
    assert pypy_gc_environment({"HOME": "/root"}, "PyPy") == {"HOME": "/root", NURSERY_VARIABLE: NURSERY}
    assert pypy_gc_environment({NURSERY_VARIABLE: "2MB"}, "PyPy") is None
    assert pypy_gc_environment({}, "CPython") is None


def process_environment(pid: int) -> Dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().split("=", 1) for entry in raw if b"=" in entry)


@pytest.mark.parametrize("chosen", [None, "2MB"])
def test_started_node_runs_with_the_nursery(node_factory: Any, chosen: Optional[str]) -> None:
    config = router_config([{"type": "websocket", "endpoint": tcp(free_port())}])
    node = node_factory(config, env={NURSERY_VARIABLE: chosen} if chosen else None)
    environment = process_environment(node.proc.pid)
    expected = chosen or (NURSERY if ON_PYPY else None)
    assert environment.get(NURSERY_VARIABLE) == expected
    assert int((node.cbdir / "node.pid").read_text().split()[0]) == node.proc.pid
    assert "Traceback" not in node.output()
