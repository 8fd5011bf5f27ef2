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

MAX_ELEMENTS = 8  # native_scan_build.MAX_ELEMENTS: a WAMP message has seven at most
KIND_OTHER, KIND_ARRAY, KIND_MAP = 0, 1, 2

SCANS = _lib is not None
"""Whether the scanner was built (else every message is decoded in full)."""

_SCANNERS = {"json": "scan_json", "msgpack": "scan_msgpack", "cbor": "scan_cbor"} if SCANS else {}


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
    starts = _ffi.new("size_t[]", MAX_ELEMENTS)
    ends = _ffi.new("size_t[]", MAX_ELEMENTS)
    kinds = _ffi.new("uint8_t[]", MAX_ELEMENTS)
    count = getattr(_lib, name)(_ffi.from_buffer("uint8_t[]", payload), len(payload), starts, ends, kinds)
    if count < 0:
        return None
    return ScannedMessage(_ffi.unpack(starts, count), _ffi.unpack(ends, count), list(_ffi.unpack(kinds, count)))
