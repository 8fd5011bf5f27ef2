"""cffi builder of ``node.fastpath._native_unmask``: WebSocket unmasking in C.

autobahn unmasks in C (its NVX masker) on CPython only; autobahn 24, the newest for
Python 3.9 such as PyPy's, has none, and a C extension of CPython's API runs on PyPy
through its emulation layer, which copies every buffer it is handed (websockets'
``apply_mask`` on a 1 MiB payload: 1.2 ms there, as slow as a Python loop). A cffi
module is what PyPy's JIT calls directly. ``setup.py`` builds it on both interpreters
(on CPython it also beats NVX, as it checks for ASCII in the same pass), and optionally:
without a C compiler and the Python headers the install goes on and the node unmasks
with autobahn's masker on CPython and 32-bit words in Python on PyPy
(:class:`node.fastpath.xormask.WordMasker`); it says so as it starts
(:mod:`node.process.native_modules`).

One pass does three jobs a large text frame needs: copy the masked octets from the
read into the frame's buffer, XOR them with the mask, and report whether they are all
ASCII (then the frame's UTF-8 check of that read costs nothing more). Run by
``setup.py`` (which loads this file by its path, not through the ``node`` package),
or by hand: ``pypy3 node/fastpath/native_unmask_build.py`` builds it in place.
"""
from __future__ import annotations

import os

from cffi import FFI

MODULE = "node.fastpath._native_unmask"

DECLARATIONS = """
int unmask_copy(uint8_t *target, const uint8_t *masked, size_t length, uint32_t key);
int unmask_from(uint8_t *target, const char *masked, size_t start, size_t length, uint32_t key);
"""

# ``key``: the four mask octets as they line up with ``masked[0]``, read as a
# little-endian word. Returns 1 if every unmasked octet is ASCII (below 0x80).
# ``unmask_from`` takes the masked octets as a ``char *`` from ``start`` on: cffi hands
# a bytes object to such a parameter as it is, where ``ffi.from_buffer`` of one that
# PyPy made in its nursery (every read under about 135 KB) copies it into C memory
# that is freed only by a later major collection and that the collector does not
# count: 64 KiB calls grew a PyPy router's RSS by 1.5 GB in 12 s that way, and each
# copy's fresh pages cost the kernel page faults.
SOURCE = r"""
#include <stdint.h>
#include <string.h>

static int unmask_copy(uint8_t *target, const uint8_t *masked, size_t length, uint32_t key)
{
    uint8_t key_octets[4];
    uint64_t key64, word, seen = 0;
    size_t i = 0;

    key_octets[0] = (uint8_t)key;
    key_octets[1] = (uint8_t)(key >> 8);
    key_octets[2] = (uint8_t)(key >> 16);
    key_octets[3] = (uint8_t)(key >> 24);
    memcpy(&key64, key_octets, 4);
    memcpy((uint8_t *)&key64 + 4, key_octets, 4);
    for (; i + 8 <= length; i += 8) {
        memcpy(&word, masked + i, 8);
        word ^= key64;
        seen |= word;
        memcpy(target + i, &word, 8);
    }
    for (; i < length; i++) {
        uint8_t octet = masked[i] ^ key_octets[i & 3];
        seen |= octet;
        target[i] = octet;
    }
    return (seen & 0x8080808080808080ULL) == 0;
}

static int unmask_from(uint8_t *target, const char *masked, size_t start, size_t length, uint32_t key)
{
    return unmask_copy(target, (const uint8_t *)masked + start, length, key);
}
"""


def make_ffi() -> FFI:
    ffi = FFI()
    ffi.cdef(DECLARATIONS)
    ffi.set_source(MODULE, SOURCE, extra_compile_args=["-O3"])
    return ffi


ffi = make_ffi()

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    ffi.compile(tmpdir=os.path.dirname(os.path.dirname(here)), verbose=True)
