"""``websocket-reverseproxy`` paths (work in progress)."""
from __future__ import annotations

from typing import Any


def websocket_proxy_resource(config: Any, reactor: Any) -> Any:
    raise NotImplementedError
