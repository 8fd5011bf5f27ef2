"""PyPy's JIT compiles a router's paths sooner (node.process.pypy_jit).

Whether a loop is compiled is asked of PyPy itself (``pypyjit``'s counters), in a fresh
interpreter per case: a loop run 400 times is compiled with the node's thresholds and not
with PyPy's defaults (1039).
"""
from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from node.process.pypy_jit import JIT_VARIABLE, THRESHOLDS, jit_parameters, tune_jit

from conftest import free_port, router_config, tcp

ON_PYPY = platform.python_implementation() == "PyPy"
REPO = Path(__file__).resolve().parent.parent

# prints how many loops PyPy compiled for a loop that runs 400 times, after tune_jit(environment)
PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import pypyjit
from node.process.pypy_jit import tune_jit
warning = tune_jit(json.loads(sys.argv[2]))

def loop(n):
    total = 0
    for i in range(n):
        total += i * 3 % 7
    return total

before = pypyjit.get_stats_snapshot().counters["TOTAL_COMPILED_LOOPS"]
loop(400)
print(json.dumps([pypyjit.get_stats_snapshot().counters["TOTAL_COMPILED_LOOPS"] - before, warning]))
"""


def test_parameters_come_from_the_environment_and_only_on_pypy() -> None:
    assert jit_parameters({}, "PyPy") == THRESHOLDS
    assert jit_parameters({JIT_VARIABLE: " threshold=500 "}, "PyPy") == "threshold=500"
    assert jit_parameters({JIT_VARIABLE: "default"}, "PyPy") is None
    assert jit_parameters({JIT_VARIABLE: "threshold=500"}, "CPython") is None
    assert jit_parameters({}, "CPython") is None


@pytest.mark.skipif(ON_PYPY, reason="the CPython case")
def test_cpython_is_left_alone() -> None:
    assert tune_jit({JIT_VARIABLE: "no such thing"}) is None


def _probe(environment: str) -> Any:
    out = subprocess.run([sys.executable, "-c", PROBE, str(REPO), environment], capture_output=True, text=True,
                         timeout=60, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not ON_PYPY, reason="PyPy's JIT")
@pytest.mark.parametrize("environment, compiled", [
    ("{}", 1),  # the node's thresholds: 400 turns are enough
    ('{"WAMPNODE_PYPY_JIT": "default"}', 0),  # PyPy's own: not yet
    ('{"WAMPNODE_PYPY_JIT": "threshold=1000000"}', 0),  # the operator's value wins
])
def test_a_loop_is_compiled_after_the_thresholds_pypy_is_given(environment: str, compiled: int) -> None:
    assert _probe(environment) == [compiled, None]


@pytest.mark.skipif(not ON_PYPY, reason="PyPy's JIT")
def test_parameters_pypy_refuses_are_named_with_the_fix_and_the_nodes_used() -> None:
    compiled, warning = _probe('{"WAMPNODE_PYPY_JIT": "threshold=many"}')
    assert compiled == 1, "the node's own thresholds apply instead"
    assert "WAMPNODE_PYPY_JIT='threshold=many' is not a list of JIT parameters PyPy takes" in warning
    assert f"using {THRESHOLDS}" in warning and "'pypy3 --jit help'" in warning and "'default'" in warning


def test_start_warns_once_of_parameters_pypy_refuses_and_runs(node_factory: Any) -> None:
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(free_port())}]),
                        env={JIT_VARIABLE: "threshold=many"})
    lines = [line for line in node.output().splitlines() if JIT_VARIABLE in line]
    assert len(lines) == (1 if ON_PYPY else 0), node.output()  # CPython has no JIT to tell
    assert node.stop() == 0
    assert "Traceback" not in node.output()
