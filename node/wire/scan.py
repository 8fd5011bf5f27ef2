"""Where a WAMP message's elements are, found by checking its octets in C, not decoding them.

:func:`scan_message` runs the scanner of ``node.wire._native_scan``
(:mod:`node.wire.native_scan_build` says what it accepts and why) over one message
payload: None where the module was not built, or where the scanner is not sure the
codec decodes the message to plain data without error; else each top-level element's
octet span and whether it is an array or a map.
"""
from __future__ import annotations

from typing import Any, List, NamedTuple, Optional

try:  # built by setup.py (node/wire/native_scan_build.py); absent where it could not be compiled
    from node.wire._native_scan import ffi as _ffi, lib as _lib  # type: ignore[import-not-found]
except ImportError:
    _ffi = _lib = None

SCANNER_FOUND = _lib is not None
SCANS = SCANNER_FOUND and _ffi.typeof(_lib.scan_json).args[0].cname == "char *"
"""Whether the scanner was built (else every message is decoded in full); one built from
an older builder, which took ``uint8_t *``, counts as not built (node.process.native_modules
says so at start)."""

# as the C source defines them (a WAMP message has seven elements at most); unbuilt, no
# message is scanned and no kind is ever compared with these
MAX_ELEMENTS, KIND_OTHER, KIND_ARRAY, KIND_MAP = (
    (_lib.MAX_ELEMENTS, _lib.KIND_OTHER, _lib.KIND_ARRAY, _lib.KIND_MAP) if SCANS else (0, -1, -1, -1))

_SCANNERS = {"json": _lib.scan_json, "msgpack": _lib.scan_msgpack, "cbor": _lib.scan_cbor} if SCANS else {}


class ScannedMessage(NamedTuple):
    starts: List[int]  # offset of each top-level element
    ends: List[int]  # offset just past it
    kinds: List[int]  # KIND_ARRAY, KIND_MAP or KIND_OTHER


def scan_message(codec: str, payload: Any) -> Optional[ScannedMessage]:
    """The elements of the message array in ``payload`` (bytes, bytearray or memoryview of
    octets in ``codec``: "json", "msgpack", "cbor"), or None (not built, or not sure)."""
    name = _SCANNERS.get(codec)
    if name is None:
        return None
    found = _ffi.new("size_t[]", 3 * MAX_ELEMENTS)  # starts, ends, kinds (native_scan_build.DECLARATIONS)
    # bytes as they are: ffi.from_buffer of bytes young on PyPy copies them (native_scan_build.py)
    octets = payload if type(payload) is bytes else _ffi.from_buffer("char[]", payload)
    count = name(octets, len(payload), found)
    if count < 0:
        return None
    every = _ffi.unpack(found, 3 * MAX_ELEMENTS)
    return ScannedMessage(every[:count], every[MAX_ELEMENTS:MAX_ELEMENTS + count],
                          every[2 * MAX_ELEMENTS:2 * MAX_ELEMENTS + count])
