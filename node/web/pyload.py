"""Import what a ``wsgi`` or ``resource`` path names, with one-line errors.

The router worker's ``options.pythonpath`` is put in front of ``sys.path`` before
(:func:`add_pythonpath`), as Crossbar.io starts its router worker with it. A name
that does not resolve is a :class:`ConfigError` (the node does not start, and says
which key to fix); a module whose own code raises says what it raised.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any, Sequence

from node.errors import ConfigError, ConfigErrors


def add_pythonpath(pythonpath: Sequence[str]) -> None:
    """The router's ``pythonpath`` directories, first on ``sys.path`` (once each)."""
    sys.path[:0] = [p for p in pythonpath if p not in sys.path]


def load(module_name: str, name: str, where: str, what: str, name_where: str = "") -> Any:
    """``module_name.name``; ``where`` is the JSON path of the key naming the module,
    ``name_where`` (default: the same) that of the key naming the object."""
    def refused(problem: str, fix: str, at: str = where) -> ConfigErrors:
        return ConfigErrors([ConfigError(at, f"{what}: {problem}", fix)])

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise refused(f"module {module_name!r} is not found on the Python path",
                          "Fix the name, or add its directory to the router's options.pythonpath") from None
        raise refused(f"importing module {module_name!r} raised ModuleNotFoundError: {e}",
                      "Install what it imports") from None
    except Exception as e:
        raise refused(f"importing module {module_name!r} raised {type(e).__name__}: {e}",
                      "Fix the module") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise refused(f"module {module_name!r} ({getattr(module, '__file__', '?')}) has no {name!r}",
                      "Fix the name", name_where or where) from None
