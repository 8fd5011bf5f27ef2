"""glibc malloc thresholds for a process that handles large WAMP messages.

glibc serves every allocation above ``M_MMAP_THRESHOLD`` (128 KiB at start,
adjusted upwards only as such blocks are freed) with a fresh ``mmap`` and
returns it with ``munmap``; heap memory above ``M_TRIM_THRESHOLD`` is handed
back to the kernel after each free. A 1 MiB call passes through several
buffers of that size (frame, text, decoded args, re-encoded message), so each
one costs thousands of page faults for freshly zeroed pages: measured here,
~3,000 minor faults and ~20 ms of router CPU per 1 MiB call round trip by
default, ~20 faults and ~17.5 ms with the thresholds below.

The price is memory that stays mapped: at most ``TRIM_THRESHOLD`` of freed
heap is kept for reuse instead of being returned at once (the idle RSS after
start does not change). The mapping threshold stays at 16 MiB although a lower
one would map a 16 MiB message's buffers per use and halve the RSS growth of a
16 MiB call (4 MiB: 2.0x the message instead of ~4x): orjson grows its output
buffer to about 16 times a large string's length while encoding it (a 1 MiB
string: a 16.6 MB ``realloc``), and below that size every 1 MiB message it
encodes would be mapped afresh: +1 ms of router CPU per 1 MiB call (3.7 against
2.7 ms, ``bench/run.py --only call_1mib``). PyPy has no orjson, and there it is 4 MiB:
a very large message's buffers are then mapped for it and unmapped as they are freed
(:mod:`node.fastpath.large_garbage` has PyPy free dead payloads before the next one),
where with 16 MiB they were cut from the free heap that ``TRIM_THRESHOLD`` keeps and went
back to it: a 16 MiB call grew a PyPy router by 3.1 times the message, 2.1 times with
4 MiB (``bench/run.py --pypy --only call_16mib``). The glibc environment variables
(``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``) still win: when either
is set, nothing is changed here. Elsewhere than on glibc this does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from typing import Mapping, Optional

M_TRIM_THRESHOLD = -1  # <malloc.h>
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 * 1024 * 1024 if platform.python_implementation() == "PyPy" else 16 * 1024 * 1024
TRIM_THRESHOLD = 32 * 1024 * 1024  # glibc's own ceiling for its dynamic thresholds on 64-bit
ENVIRONMENT = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def tune_malloc(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Set the thresholds above; True if they were set."""
    environ = os.environ if environ is None else environ
    if any(name in environ for name in ENVIRONMENT):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
