"""Client quirks the node tolerates: decoded values fixed up before autobahn parses them.

Clients in the wild send a few things the WAMP spec does not allow but whose meaning is
plain. Each rule here names the client and the quirk; anything it does not recognise is
left as it is, so that autobahn's checks still refuse it as a protocol error.

- **Absent values.** msgpack ext type 0 and CBOR ``undefined`` (wampy.js 8 sends them for
  options it does not set, and for a missing ``args`` before ``kwargs``) are read as
  absent: dropped from dicts, ``None`` in lists, ``[]`` for ``args``.
"""
from __future__ import annotations

from typing import Any

try:  # optional codecs: only needed to recognise their "undefined" values
    from msgpack import ExtType
except ImportError:  # pragma: no cover
    ExtType = None
try:  # autobahn's msgpack codec on PyPy
    from umsgpack import Ext as UmsgpackExt
except ImportError:
    UmsgpackExt = None
try:
    from cbor2 import undefined as CBOR_UNDEFINED
except ImportError:  # pragma: no cover
    CBOR_UNDEFINED = object()


def absent(value: Any) -> bool:
    """True for msgpack ext type 0 and CBOR ``undefined``."""
    if value is CBOR_UNDEFINED:
        return True
    if ExtType is not None and isinstance(value, ExtType):
        return value.code == 0
    return UmsgpackExt is not None and isinstance(value, UmsgpackExt) and value.type == 0


def scrub_absent(value: Any) -> Any:
    """Replace msgpack ext 0 / CBOR undefined with None; drop them from dicts."""
    if isinstance(value, list):
        return [None if absent(v) else scrub_absent(v) for v in value]
    if isinstance(value, dict):
        return {k: scrub_absent(v) for k, v in value.items() if not absent(v)}
    return value


def scrub_message(raw: list) -> list:
    """:func:`scrub_absent` for a whole message (a copy): trailing absent elements are
    dropped (an absent ``kwargs`` or ``args``), an absent ``args`` before ``kwargs`` becomes []."""
    raw = list(raw)
    while raw and absent(raw[-1]):
        raw.pop()
    return [[] if absent(v) else scrub_absent(v) for v in raw]
