"""What the running node knows about itself, for the nodeinfo page and logs."""
from __future__ import annotations

import os
import platform
import time
from typing import Any, Callable, Dict, List, Optional

import autobahn
import twisted

from node import __version__


class NodeStatus:
    """Live facts about a node; ``session_count`` is read from the router on demand."""

    def __init__(self, session_count: Optional[Callable[[], int]] = None) -> None:
        self.started_at = time.time()
        self.transports: List[str] = []
        self.session_count = session_count or (lambda: 0)
        # the container and guest workers the node runs (set by the node process; none by default)
        self.workers: Callable[[], List[Dict[str, Any]]] = lambda: []

    def uptime(self) -> float:
        return time.time() - self.started_at

    def as_dict(self) -> Dict[str, Any]:
        return {
            "node": f"wampnode {__version__}",
            "pid": os.getpid(),
            "uptime_seconds": round(self.uptime(), 1),
            "sessions": self.session_count(),
            "transports": list(self.transports),
            "workers": self.workers(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "twisted": twisted.__version__,
            "autobahn": autobahn.__version__,
        }
