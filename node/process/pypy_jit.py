"""PyPy's JIT told to compile a router's paths sooner than its defaults would.

PyPy compiles a loop once it has run ``threshold`` times (1039 by default), a function
once it has been entered ``function_threshold`` times (1619), and a bridge once a guard
has failed ``trace_eagerness`` times (200); until then that code runs in PyPy's
interpreter, several times slower than CPython's. A router's busiest paths get there in
a second, but those of a session's handshake or of a large message run a few dozen to a
few hundred times a second: with 1 MiB events to 10 subscribers (34 events a second)
``perf`` put half of a PyPy router's CPU in PyPy's runtime and 3% in compiled code after
20 s, and router CPU per delivered MiB went 652, 509, 500 µs over three 7-second rounds
on a fresh router. With :data:`THRESHOLDS`, about a tenth of PyPy's, the same rounds
took 555, 341, 379 µs; sessions over ws 1,004, 443, 382 → 324, 290, 303 µs per session;
1 MiB calls 5,303, 4,724, 4,085 → 5,154, 2,803, 2,481 µs per call; small calls with
one in flight unchanged (about 95 µs). A fifth of PyPy's thresholds was half-way.

The parameters are set once, when the node process starts; ``WAMPNODE_PYPY_JIT`` in the
environment replaces them with its own (``pypyjit.set_param``'s comma-separated
``name=value`` list; ``default`` keeps PyPy's own). PyPy's own ``--jit`` option is not the
way: the node's parameters replace it, and ``wampnode start`` does not pass it on when it
executes itself again for its nursery (:mod:`node.process.pypy_gc`). On CPython this does nothing.
"""
from __future__ import annotations

import platform
from typing import Any, Mapping, Optional

pypyjit: Any
try:
    import pypyjit  # PyPy's own module
except ImportError:  # CPython: no JIT to tune
    pypyjit = None

JIT_VARIABLE = "WAMPNODE_PYPY_JIT"
THRESHOLDS = "threshold=100,function_threshold=150,trace_eagerness=50"


def jit_parameters(environ: Mapping[str, str], implementation: Optional[str] = None) -> Optional[str]:
    """What to give ``pypyjit.set_param``, or None: not PyPy, or PyPy's defaults asked for."""
    if (implementation or platform.python_implementation()) != "PyPy":
        return None
    chosen = environ.get(JIT_VARIABLE, "").strip()
    if chosen == "default":
        return None
    return chosen or THRESHOLDS


def tune_jit(environ: Mapping[str, str]) -> Optional[str]:
    """Set the parameters :func:`jit_parameters` gives. Returns the line the node logs
    when PyPy refuses the environment's (they are then ignored, and the node's own set),
    else None."""
    parameters = jit_parameters(environ)
    if parameters is None or pypyjit is None:
        return None
    try:
        pypyjit.set_param(parameters)
    except ValueError:  # PyPy's only word: "error in JIT parameters string"
        pypyjit.set_param(THRESHOLDS)
        return (f"{JIT_VARIABLE}={parameters!r} is not a list of JIT parameters PyPy takes and is ignored "
                f"(using {THRESHOLDS}); give comma-separated name=value pairs from 'pypy3 --jit help', "
                f"or 'default' for PyPy's own")
    return None
