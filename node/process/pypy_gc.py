"""PyPy's nursery sized for a router that carries large messages.

PyPy's garbage collector (incminimark) makes young objects in a nursery, by default
half the L2 cache (1 MB on the machines measured). At every minor collection, when the
nursery is full, each young object still alive is promoted, and a promoted large
object is freed only by the next major collection, which marks the whole heap: some
35 MB of objects in a running node (importing Twisted's reactor alone makes 17 MB).
A WAMP message of 64 KiB or more is alive across reactor turns while it comes in and
goes out, so with a 1 MB nursery its buffers are promoted and a major collection
follows every few large calls: in a 1 MiB call workload ``PYPYLOG`` showed about 45%
of the router's CPU in the collector, marking in steps of about 3 ms.

With a 16 MB nursery most of a message's objects die young. Router CPU per call on
PyPy 7.3.11 (``bench/run.py`` workloads, wampnode alone, alternating runs): 64 KiB
call 792 -> 346/354 µs, 1 MiB call 8,160/8,205 -> 6,667/6,842 µs, small calls with 16
outstanding unchanged (12 µs); idle RSS unchanged. 32 MB would make a 1 MiB call
cheaper still (5,856/5,954 µs in the same runs) but costs 15 MB of idle RSS, and PyPy
then lets several times the nursery's size of dead large objects pile up before it
collects: 150 HELLOs of 900 kB left the RSS 134 MiB higher with 32 MB, 88 MiB with
24 MB, 19-30 MiB with 1, 8 or 16 MB (``tests/test_hello_roles_cache.py`` bounds it
at 64 MiB on PyPy).

PyPy reads its collector settings from the environment when it starts, and only
then, so ``wampnode start`` on PyPy executes itself once more with
``PYPY_GC_NURSERY`` set (same process ID, arguments and environment otherwise),
unless the variable is set already: the operator's value wins, and setting it to
``1MB`` restores PyPy's default here. On CPython this does nothing.
"""
from __future__ import annotations

import os
import platform
import sys
from typing import Dict, Mapping, Optional

NURSERY_VARIABLE = "PYPY_GC_NURSERY"
NURSERY = "16MB"


def pypy_gc_environment(environ: Mapping[str, str],
                        implementation: Optional[str] = None) -> Optional[Dict[str, str]]:
    """The environment to execute the node with, or None: not PyPy, or the nursery
    size chosen already."""
    implementation = implementation or platform.python_implementation()
    if implementation != "PyPy" or NURSERY_VARIABLE in environ:
        return None
    return {**environ, NURSERY_VARIABLE: NURSERY}


def start_with_pypy_gc() -> None:
    """Replace this process by ``python -m node`` with the same arguments and the
    nursery size above, if :func:`pypy_gc_environment` says so; returns otherwise
    (also when the interpreter cannot be executed: the node then runs as it is)."""
    environ = pypy_gc_environment(os.environ)
    if environ is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, [sys.executable, "-m", "node", *sys.argv[1:]], environ)
    except OSError:
        return
