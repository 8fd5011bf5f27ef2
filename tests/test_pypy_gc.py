"""PyPy's GC settings for large messages (issue 17): ``wampnode start`` on PyPy runs
with ``PYPY_GC_NURSERY`` and ``PYPY_GC_MIN`` set (node/process/pypy_gc.py), unless one
of them is set already; CPython is left as it is. Checked on a real node process, on
whichever interpreter runs the tests."""
from __future__ import annotations

import platform
from pathlib import Path
from typing import Dict

import pytest

from conftest import free_port, router_config, tcp
from node.process.pypy_gc import SETTINGS, tuned_environment

PYPY = platform.python_implementation() == "PyPy"


def test_tuned_environment() -> None:
    assert tuned_environment({"A": "1"}, "pypy") == {"A": "1", **SETTINGS}
    assert tuned_environment({"A": "1"}, "cpython") is None
    assert tuned_environment({"PYPY_GC_NURSERY": "4MB"}, "pypy") is None  # the user's choice stands
    assert tuned_environment({"PYPY_GC_MIN": ""}, "pypy") is None  # PyPy's own default, asked for


def environment_of(pid: int) -> Dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.mark.parametrize("given", [None, "4MB"])
def test_started_node_runs_with_the_gc_settings(node_factory, given) -> None:
    config = router_config([{"type": "websocket", "endpoint": tcp(free_port())}])
    node = node_factory(config, env={"PYPY_GC_NURSERY": given} if given else None)
    env = environment_of(node.proc.pid)  # the same process: started again with exec
    if given:
        assert env.get("PYPY_GC_NURSERY") == given and "PYPY_GC_MIN" not in env
    elif PYPY:
        assert {name: env.get(name) for name in SETTINGS} == SETTINGS
    else:
        assert not any(name in env for name in SETTINGS)
