"""Client quirks the node tolerates: decoded values fixed up before autobahn parses them.

Clients in the wild send a few things the WAMP spec does not allow but whose meaning is
plain. Each rule here names the client and the quirk; anything it does not recognise is
left as it is, so that autobahn's checks still refuse it as a protocol error.

- **Absent values.** msgpack ext type 0 and CBOR ``undefined`` (wampy.js 8 sends them for
  options it does not set, and for a missing ``args`` before ``kwargs``) are read as
  absent: dropped from dicts, ``None`` in lists, ``[]`` for ``args``.
- **Integral float IDs.** cbor-x (wampy.js 8's CBOR) encodes every integer above 2^32 as
  a float64, so an ID the node handed out (random up to 2^53) comes back as e.g.
  ``752174776083218.0``. Where WAMP expects an ID or a request ID, an integral float in
  [0, 2^53] is read as that integer; a fraction, NaN, an infinity or a value out of that
  range stays a float and is refused.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

from autobahn.wamp import message as m

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

# --- absent values ------------------------------------------------------------------------


def absent(value: Any) -> bool:
    """True for msgpack ext type 0 and CBOR ``undefined``."""
    if value is CBOR_UNDEFINED:
        return True
    if ExtType is not None and isinstance(value, ExtType):
        return value.code == 0
    return UmsgpackExt is not None and isinstance(value, UmsgpackExt) and value.type == 0


_SCALARS = frozenset((str, int, float, bool, bytes, type(None)))  # never absent, nothing inside


def scrub_absent(value: Any) -> Any:
    """Replace msgpack ext 0 / CBOR undefined with None; drop them from dicts.

    A list or dict that holds none is returned itself, not copied, and a plain scalar
    costs one set lookup: the usual message costs a walk and no allocation."""
    if isinstance(value, list):
        copy = None
        for i, item in enumerate(value):
            new = item if type(item) in _SCALARS else None if absent(item) else scrub_absent(item)
            if copy is None and new is not item:
                copy = value[:i]
            if copy is not None:
                copy.append(new)
        return value if copy is None else copy
    if isinstance(value, dict):
        changed = None
        for key, item in value.items():
            if type(item) in _SCALARS:
                continue
            new = scrub_absent(item)
            if absent(item) or new is not item:
                changed = changed or {}
                changed[key] = new
        if changed is None:
            return value
        return {k: changed.get(k, v) for k, v in value.items() if not absent(v)}
    return value


def scrub_message(raw: list) -> list:
    """:func:`scrub_absent` for a whole message (a copy): trailing absent elements are
    dropped (an absent ``kwargs`` or ``args``), an absent ``args`` before ``kwargs`` becomes []."""
    raw = list(raw)
    while raw and absent(raw[-1]):
        raw.pop()
    return [[] if absent(v) else scrub_absent(v) for v in raw]


# --- integral float IDs --------------------------------------------------------------------

ID_MAX = 2**53  # WAMP IDs are integers in [0, 2^53] (autobahn's check_or_raise_id)

# where each message type carries an ID or a request ID: the positions autobahn's
# ``parse`` checks with ``check_or_raise_id`` (ERROR's position 1 is a message type)
ID_POSITIONS: Dict[int, Tuple[int, ...]] = {
    m.Welcome.MESSAGE_TYPE: (1,),
    m.Error.MESSAGE_TYPE: (2,),
    m.Publish.MESSAGE_TYPE: (1,),
    m.Published.MESSAGE_TYPE: (1, 2),
    m.Subscribe.MESSAGE_TYPE: (1,),
    m.Subscribed.MESSAGE_TYPE: (1, 2),
    m.Unsubscribe.MESSAGE_TYPE: (1, 2),
    m.Unsubscribed.MESSAGE_TYPE: (1,),
    m.Event.MESSAGE_TYPE: (1, 2),
    m.EventReceived.MESSAGE_TYPE: (1,),
    m.Call.MESSAGE_TYPE: (1,),
    m.Cancel.MESSAGE_TYPE: (1,),
    m.Result.MESSAGE_TYPE: (1,),
    m.Register.MESSAGE_TYPE: (1,),
    m.Registered.MESSAGE_TYPE: (1, 2),
    m.Unregister.MESSAGE_TYPE: (1, 2),
    m.Unregistered.MESSAGE_TYPE: (1,),
    m.Invocation.MESSAGE_TYPE: (1, 2),
    m.Interrupt.MESSAGE_TYPE: (1,),
    m.Yield.MESSAGE_TYPE: (1,),
}

# options holding lists of session IDs, in messages a client sends: PUBLISH's black/white listing
_PUBLISH = m.Publish.MESSAGE_TYPE
_SESSION_LIST_OPTIONS = ("exclude", "eligible")


def integral_id(value: Any) -> Any:
    """An integral float in [0, 2^53] as the int it stands for; any other value unchanged."""
    if type(value) is float and value.is_integer() and 0 <= value <= ID_MAX:
        return int(value)
    return value


def integral_ids(raw: list) -> list:
    """``raw`` with the integral float IDs of its message type as ints.

    ``raw`` (a message list whose first element is its type) is returned itself when it
    holds no float ID, the usual case; otherwise a copy (the caller's list is never changed).
    """
    fixed = raw
    for i in ID_POSITIONS.get(raw[0], ()):
        if i < len(raw) and type(raw[i]) is float:
            if fixed is raw:
                fixed = list(raw)
            fixed[i] = integral_id(raw[i])
    if raw[0] == _PUBLISH and len(raw) > 2 and type(raw[2]) is dict:
        options = raw[2]
        for name in _SESSION_LIST_OPTIONS:
            sessions = options.get(name)
            if type(sessions) is list and any(type(s) is float for s in sessions):
                if fixed is raw:
                    fixed = list(raw)
                if fixed[2] is options:
                    fixed[2] = dict(options)
                fixed[2][name] = [integral_id(s) for s in sessions]
    return fixed
