"""PyPy's nursery for large messages (issue 17): ``wampnode start`` on PyPy runs with
``PYPY_GC_NURSERY`` set (node/process/pypy_gc.py), unless it is set already; CPython
is left as it is. Checked on a real node process, on whichever interpreter runs the tests."""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Dict

import pytest

from node.process.pypy_gc import NURSERY, VARIABLE, tuned_environment
from conftest import free_port, router_config, tcp

PYPY = platform.python_implementation() == "PyPy"


def test_tuned_environment() -> None:
    assert tuned_environment({"A": "1"}, "pypy") == {"A": "1", VARIABLE: NURSERY}
    assert tuned_environment({"A": "1"}, "cpython") is None
    assert tuned_environment({VARIABLE: "4MB"}, "pypy") is None  # the user's choice stands
    assert tuned_environment({VARIABLE: ""}, "pypy") is None  # PyPy's own default, asked for


def environment_of(pid: int) -> Dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.mark.parametrize("given", [None, "4MB"])
def test_started_node_runs_with_the_nursery(node_factory, given) -> None:
    config = router_config([{"type": "websocket", "endpoint": tcp(free_port())}])
    node = node_factory(config, env={VARIABLE: given} if given else None)
    env = environment_of(node.proc.pid)  # the same process: started again with exec
    if given:
        assert env.get(VARIABLE) == given
    elif PYPY:
        assert env.get(VARIABLE) == NURSERY
    else:
        assert VARIABLE not in env
