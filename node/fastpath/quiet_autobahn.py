"""Keep autobahn from formatting debug strings that nobody reads.

autobahn builds the arguments of its ``log.debug`` calls before the call, so
they cost the same with debug logging off: every new WebSocket connection
pretty-prints its ~30 protocol options (``pformat``, about half of the router's
CPU time per connection), and reads, writes and handshakes colour qualified
names and values (``hltype``/``hlval`` through ``click.style``). Twisted's
logger formats an event only when an observer emits it, so autobahn's
WebSocket modules get lazy versions of these three helpers: the log text is
the same when debug lines are written, and nothing is formatted otherwise.

In those modules (autobahn 23.1 to 26.x) every use of the three helpers is a
keyword argument of a log call, which is what makes the swap safe, except
``Timings.__str__``, which is given back a plain ``pprint.pformat``;
``tests/test_perf_paths.py`` checks that against the installed autobahn.
:func:`quiet_autobahn` is idempotent; the WebSocket transport calls it on import.
"""
from __future__ import annotations

import pprint
from typing import Any, Callable, Dict, Tuple

PATCHED_MODULES = ("autobahn.websocket.protocol", "autobahn.twisted.websocket")
PATCHED_NAMES = ("pformat", "hltype", "hlval")

_done = False


class Lazy:
    """``function(*args, **kwargs)`` as text, computed when the log line is formatted."""

    __slots__ = ("_function", "_args", "_kwargs")

    def __init__(self, function: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        self._function = function
        self._args = args
        self._kwargs = kwargs

    def __str__(self) -> str:
        return str(self._function(*self._args, **self._kwargs))

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def lazy(function: Callable[..., Any]) -> Callable[..., Lazy]:
    def deferred(*args: Any, **kwargs: Any) -> Lazy:
        return Lazy(function, args, kwargs)

    deferred.__name__ = f"lazy_{function.__name__}"
    return deferred


def quiet_autobahn() -> None:
    global _done
    if _done:
        return
    import importlib

    import autobahn.util

    originals = {"pformat": pprint.pformat, "hltype": autobahn.util.hltype, "hlval": autobahn.util.hlval}
    for module_name in PATCHED_MODULES:
        module = importlib.import_module(module_name)
        for name in PATCHED_NAMES:
            if hasattr(module, name):
                setattr(module, name, lazy(originals[name]))
    # the one use that is not a log argument: Timings.__str__ must return real text
    timings = getattr(importlib.import_module("autobahn.websocket.protocol"), "Timings", None)
    if timings is not None:
        timings.__str__ = _timings_text
    _done = True


def _timings_text(timings: Any) -> str:
    return pprint.pformat(timings._timings)
