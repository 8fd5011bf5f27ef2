"""``"$NAME"`` / ``"${NAME}"`` string values are taken from the environment.

Crossbar.io does this for some keys (ports, secrets); doing it for every string
value is simpler to explain and lets a secret never be written into the file.
Only a whole-string reference is replaced, so a cipher string or a URL that merely
contains a ``$`` stays as written.
"""
from __future__ import annotations

import re
from typing import Any, List, Mapping, Tuple

from node.errors import ConfigError

_REFERENCE = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")


def json_path(parts: Tuple[Any, ...]) -> str:
    """Render ``("workers", 0, "realms")`` as ``workers[0].realms``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def substitute(value: Any, environ: Mapping[str, str], where: str) -> Tuple[Any, List[ConfigError]]:
    """Return ``value`` with environment references replaced, and the missing ones."""
    errors: List[ConfigError] = []

    def walk(node: Any, parts: Tuple[Any, ...]) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, parts + (k,)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, parts + (i,)) for i, v in enumerate(node)]
        if isinstance(node, str):
            match = _REFERENCE.match(node)
            if match:
                name = match.group(1) or match.group(2)
                if name in environ:
                    return environ[name]
                errors.append(ConfigError(
                    f"{where}: {json_path(parts)}",
                    f"environment variable {name} is not set",
                    f"Set {name} in the node's environment, or write the value into the config",
                ))
        return node

    return walk(value, ()), errors
