"""PyPy's garbage collector, sized for a router that passes large messages on (issue 17).

PyPy reads its GC settings from the environment once, as the interpreter starts
(``PYPY_GC_NURSERY``, ``PYPY_GC_MIN`` and friends, see PyPy's documentation on
garbage collection); nothing can change them later. Its default nursery is half
the L2 cache, often 1 MiB. A router handling a 1 MiB call makes about a dozen
objects of 1 MiB (reads, the unmasked frame, the decoded text, the argument, the
encoded messages); with a nursery that small nearly every one of them brings a
minor collection, the objects still in use then are moved to the old generation,
and the old generation fills and is marked again (about 30 ms per full marking of a
started node's heap) every few calls. With a 16 MB nursery those objects die young.

A larger nursery also raises the heap size below which PyPy starts no major
collection (eight nurseries, unless ``PYPY_GC_MIN`` says otherwise): garbage large
messages would then pile up to that size before any is freed (a 16 MiB call's peak
RSS growth, ``bench/run.py --only call_16mib --pypy``, went from about 150 to 275 MiB
with a 32 MB nursery alone). :data:`SETTINGS` keeps that threshold where a 1 MiB
nursery puts it. Router CPU per 1 MiB call round trip (``--only call_1mib --pypy``)
with these settings: about 7.5 ms, against 12.5 ms with PyPy's defaults (the same
code); the 16 MiB call's peak RSS growth stays about where it was.

So ``wampnode start`` on PyPy starts itself again (``exec``: the same process id,
arguments and environment) with :data:`SETTINGS` added, unless one of them is set
already (whoever sets one tunes PyPy's GC themselves; an empty value asks for
PyPy's default). CPython is not affected.
"""
from __future__ import annotations

import os
import sys
from typing import Dict, Mapping, Optional, Sequence

SETTINGS = {"PYPY_GC_NURSERY": "16MB", "PYPY_GC_MIN": "16MB"}


def tuned_environment(environ: Mapping[str, str], implementation: Optional[str] = None) -> Optional[Dict[str, str]]:
    """The environment the node should run in, or None if this one will do
    (not PyPy, or its GC tuned by whoever started it)."""
    if (implementation or sys.implementation.name) != "pypy" or any(name in environ for name in SETTINGS):
        return None
    env = dict(environ)
    env.update(SETTINGS)
    return env


def restart_with_tuned_gc(argv: Sequence[str]) -> None:
    """Replace this process with ``python -m node ARGV`` in :func:`tuned_environment`,
    if that differs from this one; otherwise return."""
    env = tuned_environment(os.environ)
    if env is None or not sys.executable:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "node", *argv], env)
