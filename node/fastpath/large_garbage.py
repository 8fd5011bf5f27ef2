"""PyPy: the payloads of very large messages freed before the next one is made, not piled up.

PyPy frees a large object only when a major collection sweeps, and starts one only once
the heap has grown to 1.82 times what the last one left alive (``PYPY_GC_MAJOR_COLLECT``),
at least to 8 times the nursery (``PYPY_GC_MIN``): in a router whose heap is some 100 MB,
the payloads of finished 16 MiB calls piled up to 7-12 times the message before PyPy
collected them (``bench/run.py --pypy --only call_16mib``: RSS growth at peak). Lower
settings do not reach the message's size (``PYPY_GC_MAJOR_COLLECT=1.3``, ``PYPY_GC_MIN=32MB``:
7.0x at +38% router CPU), because a large object made while a major collection is under
way outlives it.

So a message of at least :data:`COLLECT_FROM` octets, gathered in C memory
(:class:`node.fastpath.xormask.GatheredBuffer`) while an earlier one of that size may
lie dead, begins a major collection, and each read of it takes one step of it
(``gc.collect_step``, about 4-5 ms on a router's heap, seven to a collection), so that
the collection is over, and the dead payloads freed, before this message's payload is
made: never a pause of a whole collection (about 30 ms) for the other clients. The
price is that collection, once per such message: a 16 MiB call cost a PyPy router 115
to 146 ms of CPU instead of 47 to 74, and grew its RSS by 2.1 times the message instead
of 10-11 times (with glibc's mapping threshold at 4 MiB on PyPy:
:mod:`node.process.malloc`). ``WAMPNODE_COLLECT_FROM`` in the environment sets the size
(octets; ``0`` turns this off). CPython frees a payload as it is dropped and gathers
none in C memory: there this does nothing.
"""
from __future__ import annotations

import gc
import os
import platform
from typing import Any, Callable, Mapping, Optional

COLLECT_FROM_VARIABLE = "WAMPNODE_COLLECT_FROM"
DEFAULT_COLLECT_FROM = 8 * 1024 * 1024


def _octets(value: str) -> Optional[int]:
    """``value`` as a whole number of octets, or None if it is not one."""
    value = value.strip()
    return int(value) if value.isdigit() else None


def collect_from(environ: Mapping[str, str], implementation: Optional[str] = None) -> int:
    """The message size from which payloads are collected this way (0: never): the
    environment's value if it is a whole number of octets, else the default; 0 off PyPy."""
    if (implementation or platform.python_implementation()) != "PyPy":
        return 0
    chosen = _octets(environ.get(COLLECT_FROM_VARIABLE, ""))
    return DEFAULT_COLLECT_FROM if chosen is None else chosen


COLLECT_FROM = collect_from(os.environ) if hasattr(gc, "collect_step") else 0


def collect_from_warning(environ: Mapping[str, str], implementation: Optional[str] = None) -> Optional[str]:
    """The line ``wampnode start`` logs when the environment's size is not a number of
    octets (it is then ignored), else None."""
    value = environ.get(COLLECT_FROM_VARIABLE)
    if value is None or _octets(value) is not None:
        return None
    used = collect_from(environ, implementation)
    return (f"{COLLECT_FROM_VARIABLE}={value!r} is not a whole number of octets and is ignored (using {used}); "
            f"set it to a number of octets, or to 0 to turn off collecting after very large messages on PyPy")


class LargeGarbage:
    """Whether a very large payload may lie dead, and the major collection under way for it."""

    def __init__(self, threshold: int, step: Optional[Callable[[], Any]] = None) -> None:
        self.threshold = threshold
        self._step = step or getattr(gc, "collect_step", None)  # PyPy's; None where threshold is 0
        self.made_since = 0  # payloads of at least ``threshold`` made since the last collection began
        self.collecting = False
        self.collections = 0  # begun here (the tests read it)

    def message_begins(self, length: int) -> None:
        """A message of ``length`` octets is being gathered: begin a collection if it is
        very large and an earlier very large payload may be dead by now."""
        if self.threshold and length >= self.threshold and self.made_since and not self.collecting:
            self.collecting = True
            self.made_since = 0
            self.collections += 1

    def step(self) -> None:
        """One step of the collection under way, if any (a read of the message came in)."""
        if self.collecting and self._step().major_is_done:
            self.collecting = False

    def payload_made(self, length: int) -> None:
        """The message is whole and its payload about to be made: the collection ends
        first (what it frees is freed before the new payload takes memory)."""
        while self.collecting:
            self.step()
        if self.threshold and length >= self.threshold:
            self.made_since += 1


large_garbage = LargeGarbage(COLLECT_FROM)
