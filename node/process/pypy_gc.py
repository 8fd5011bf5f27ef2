"""PyPy's garbage collector, sized for a router that passes large messages on (issue 17).

PyPy reads its GC settings from the environment once, as the interpreter starts
(``PYPY_GC_NURSERY`` and friends, see PyPy's documentation on garbage collection);
nothing can change them later. Its default nursery is half the L2 cache, often
1 MiB. A router handling a 1 MiB call makes about a dozen objects of 1 MiB (reads,
the unmasked frame, the decoded text, the argument, the encoded messages); with a
nursery that small nearly every one of them brings a minor collection, the objects
still in use then are moved to the old generation, and the old generation fills
and is marked again (about 30 ms per full marking of a started node's heap) every
few calls. With a 32 MB nursery the same calls die young: router CPU per 1 MiB call
round trip (``bench/run.py --only call_1mib --pypy``) went from 11-13 ms to
7.5-8 ms, for about 30 MiB more resident memory (the nursery, once used).

So ``wampnode start`` on PyPy starts itself again (``exec``: the same process id,
arguments and environment) with :data:`NURSERY`, unless ``PYPY_GC_NURSERY`` is
already set, which is also how to choose another size (or PyPy's default, with
an empty value). CPython is not affected.
"""
from __future__ import annotations

import os
import sys
from typing import Dict, Mapping, Optional, Sequence

VARIABLE = "PYPY_GC_NURSERY"
NURSERY = "32MB"


def tuned_environment(environ: Mapping[str, str], implementation: Optional[str] = None) -> Optional[Dict[str, str]]:
    """The environment the node should run in, or None if this one will do
    (not PyPy, or the nursery chosen already)."""
    if (implementation or sys.implementation.name) != "pypy" or VARIABLE in environ:
        return None
    env = dict(environ)
    env[VARIABLE] = NURSERY
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
