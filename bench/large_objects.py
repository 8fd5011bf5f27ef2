#!/usr/bin/env python3
"""The memory floor of a large call: RSS growth of a process that makes 16 MiB payloads.

    python3 bench/large_objects.py            # both variants, a fresh process each
    pypy3 bench/large_objects.py              # (PYPY_GC_NURSERY=16MB, as the node runs)

Issue 17 asks that a 16 MiB call grow the router's RSS by at most 3x the message. A
router must hold at least the message it is receiving and the one it is sending. Here,
in a process that has loaded the node's modules (its heap as a router's at rest), 40
payloads of 16 MiB are made one at a time, each filled and then dropped before the
next: the least any router holding them could keep.

- ``bytes``: each payload a Python bytes object, as the node keeps a received message.
  On CPython it is freed as it is dropped. PyPy's collector frees a large object only
  when a major collection sweeps, and starts one only once the heap has grown to 1.82
  times what the last one left alive, so dropped payloads pile up meanwhile: the floor
  of any design that keeps payloads as Python objects on PyPy.
- ``bytes_collected``: bytes as above, with a major collection run to its end before
  each payload after the first is made: the node's own policy (``LargeGarbage`` in
  ``node/fastpath/large_garbage.py``, on PyPy for messages of 8 MiB or more); on CPython
  the same as ``bytes``.
- ``c_memory``: each payload in C memory (``ffi.new``), freed by ``ffi.release`` as it
  is dropped: what a design with an explicit owner of each payload could reach.

glibc's thresholds are the node's (``node/process/malloc.py``).

Prints one JSON line: variant -> peak RSS growth as a multiple of the payload size.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = 16 * 1024 * 1024
COUNT = 40
VARIANTS = ("bytes", "bytes_collected", "c_memory")


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def growth(variant: str, size: int = SIZE, count: int = COUNT) -> float:
    """Peak RSS growth over ``count`` payloads of ``size``, one at a time, as a multiple of ``size``."""
    sys.path.insert(0, str(HERE.parent))
    import node.workers.router  # noqa: F401 (the heap of a router at rest)
    from node.fastpath.large_garbage import COLLECT_FROM, LargeGarbage
    from node.process.malloc import tune_malloc

    tune_malloc()
    before = peak = rss()
    if variant in ("bytes", "bytes_collected"):
        # the node's own policy (0 off PyPy, or for plain bytes: it does nothing)
        collector = LargeGarbage(min(COLLECT_FROM, size) if variant == "bytes_collected" else 0)
        for index in range(count):
            collector.message_begins(size)  # collects once a payload was made before ...
            collector.payload_made(size)  # ... to its end, before this one is made
            payload = bytes((index & 0xFF,)) * size  # one allocation, every page written
            peak = max(peak, rss())
            del payload
    else:
        import cffi

        ffi = cffi.FFI()
        allocate = ffi.new_allocator(should_clear_after_alloc=False)
        for index in range(count):
            payload = allocate("char[]", size)
            ffi.memmove(payload, bytes((index & 0xFF,)) * 4096 * 16, 65536)
            for offset in range(65536, size, 65536):  # every page written, as a read would
                ffi.memmove(payload + offset, payload, 65536)
            peak = max(peak, rss())
            ffi.release(payload)
            del payload
    return (peak - before) / size


def measure(python: str = sys.executable) -> dict:
    """Each variant in a fresh ``python`` process (PyPy with the node's nursery size)."""
    env = {**os.environ, "PYPY_GC_NURSERY": os.environ.get("PYPY_GC_NURSERY", "16MB")}
    out = {}
    for variant in VARIANTS:
        result = subprocess.run([python, __file__, "--variant", variant], capture_output=True, text=True,
                                check=True, env=env)
        out[variant] = json.loads(result.stdout.strip().splitlines()[-1])[variant]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=VARIANTS, help="measure this variant in this process")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps({args.variant: growth(args.variant)}))
    else:
        print(json.dumps(measure()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
