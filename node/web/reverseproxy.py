"""``reverseproxy`` paths (work in progress)."""
from __future__ import annotations

from typing import Any


def reverse_proxy_resource(config: Any, reactor: Any) -> Any:
    raise NotImplementedError
