"""PyPy frees a dead very large payload before it makes the next one (node.fastpath.large_garbage).

The policy is checked with a counted step function; the collection itself with PyPy's
own collector: a payload gathered in C memory and promoted to the old generation is
freed by the time the next one's payload is made, and, with the policy off, is not.
"""
from __future__ import annotations

import gc
import platform
import weakref
from typing import Any, List

import pytest

from node.fastpath import large_garbage as module
from node.fastpath.large_garbage import (
    COLLECT_FROM_VARIABLE, DEFAULT_COLLECT_FROM, LargeGarbage, collect_from, collect_from_warning,
)
from node.fastpath.xormask import GATHER_IN_C_MEMORY, GatheredBuffer

from conftest import free_port, router_config, tcp

ON_PYPY = platform.python_implementation() == "PyPy"


def test_size_comes_from_the_environment_and_only_counts_on_pypy() -> None:
    assert collect_from({}, "PyPy") == DEFAULT_COLLECT_FROM
    assert collect_from({COLLECT_FROM_VARIABLE: "0"}, "PyPy") == 0
    assert collect_from({COLLECT_FROM_VARIABLE: " 1048576 "}, "PyPy") == 1048576
    assert collect_from({COLLECT_FROM_VARIABLE: "8MB"}, "PyPy") == DEFAULT_COLLECT_FROM  # not a number of octets
    assert collect_from({COLLECT_FROM_VARIABLE: "1048576"}, "CPython") == 0


def test_a_size_that_is_no_number_is_named_with_the_fix() -> None:
    assert collect_from_warning({}) is None
    assert collect_from_warning({COLLECT_FROM_VARIABLE: "0"}) is None
    line = collect_from_warning({COLLECT_FROM_VARIABLE: "8MB"}, "PyPy")
    assert line is not None and "WAMPNODE_COLLECT_FROM='8MB' is not a whole number of octets" in line
    assert f"using {DEFAULT_COLLECT_FROM}" in line and "or to 0 to turn off" in line


def test_start_warns_once_of_a_size_that_is_no_number_and_runs(node_factory: Any) -> None:
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(free_port())}]),
                        env={COLLECT_FROM_VARIABLE: "8MB"})
    lines = [line for line in node.output().splitlines() if COLLECT_FROM_VARIABLE in line]
    assert len(lines) == 1 and "is not a whole number of octets" in lines[0], node.output()
    assert node.stop() == 0
    assert "Traceback" not in node.output()


class Steps:
    """A collection that ends at its ``length``-th step, counting the steps taken."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.taken: List[int] = []

    def __call__(self) -> Any:
        self.taken.append(1)
        done = len(self.taken) % self.length == 0

        class Stats:
            major_is_done = done

        return Stats


def test_collection_begins_only_for_a_very_large_message_after_one_was_made() -> None:
    steps = Steps(3)
    policy = LargeGarbage(1000, steps)
    policy.message_begins(5000)  # nothing made yet: nothing to free
    policy.step()
    policy.payload_made(5000)
    assert (policy.collections, steps.taken) == (0, [])
    policy.message_begins(999)  # small: PyPy's own policy
    policy.payload_made(999)
    assert policy.collections == 0
    policy.message_begins(1000)  # one very large payload was made: a collection begins
    assert policy.collecting and policy.collections == 1
    policy.step()
    assert len(steps.taken) == 1 and policy.collecting
    policy.payload_made(1000)  # it ends before this payload is made
    assert len(steps.taken) == 3 and not policy.collecting
    policy.message_begins(1000)  # the one just made may be dead now
    assert policy.collections == 2
    policy.step(), policy.step(), policy.step()
    assert not policy.collecting
    policy.step()  # no collection under way: no step
    assert len(steps.taken) == 6


def test_policy_off_never_collects() -> None:
    steps = Steps(1)
    policy = LargeGarbage(0, steps)
    for _ in range(3):
        policy.message_begins(1 << 30)
        policy.step()
        policy.payload_made(1 << 30)
    assert (policy.collections, steps.taken) == (0, [])


class Holder:
    """Dies with the payload it holds: a weak reference tells when the collector freed both."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload


def gathered_payload(length: int, fill: bytes) -> bytes:
    buffer = GatheredBuffer(length)
    for offset in range(0, length, 65536):
        room = buffer.space(offset, min(65536, length - offset))
        room[0:len(room)] = fill * len(room)
    return buffer.payload()


def dead_old_holder(length: int) -> Any:
    """A weak reference to a holder of a gathered payload, both old (promoted) and then dropped."""
    holder = Holder(gathered_payload(length, b"a"))
    gc.collect()  # both old now: only a major collection frees them
    reference = weakref.ref(holder)
    del holder
    return reference


@pytest.mark.skipif(not (ON_PYPY and GATHER_IN_C_MEMORY), reason="PyPy gathering large messages in C memory")
@pytest.mark.parametrize("on", [True, False])
def test_dead_payload_is_freed_before_the_next_one_is_made(monkeypatch: Any, on: bool) -> None:
    size = 1 << 20
    monkeypatch.setattr(module.large_garbage, "threshold", size if on else 0)
    monkeypatch.setattr(module.large_garbage, "made_since", 0)
    monkeypatch.setattr(module.large_garbage, "collecting", False)
    gathered_payload(size, b"w")  # one very large payload made (the policy counts it)
    reference = dead_old_holder(size)
    second = gathered_payload(size, b"b")
    assert second == b"b" * size
    assert (reference() is None) is on
    assert not module.large_garbage.collecting
