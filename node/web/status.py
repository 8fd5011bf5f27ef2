"""What the running node knows about itself, for the nodeinfo page, metrics and logs.

The layers that count (router, transports, TLS, backplane) sit above or below
``node.web``; the worker that builds them hands their count objects to the
:class:`NodeStatus` it passes down, and :mod:`node.web.metrics` reads them at
scrape time without importing those layers.
"""
from __future__ import annotations

import os
import platform
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import autobahn
import twisted

from node import __version__


class NodeStatus:
    """Live facts about a node; ``session_count`` is read from the router on demand."""

    def __init__(self, session_count: Optional[Callable[[], int]] = None, router: Any = None) -> None:
        self.started_at = time.time()
        self.transports: List[str] = []
        self.session_count = session_count or (lambda: 0)
        # the container and guest workers the node runs (set by the node process; none by default)
        self.workers: Callable[[], List[Dict[str, Any]]] = lambda: []
        self.router = router  # node.router.Router: realms, and the counts of node.router.counters
        self.transport_counts: List[Any] = []  # node.transports.counts.TransportCounts, one per transport
        self.connection_counts: Dict[str, Callable[[], int]] = {}  # transport id -> open WAMP connections
        self.certificates: List[Tuple[str, Any]] = []  # (transport id, node.tls.context.ServerTls)
        self.reloads: Dict[str, int] = {"ok": 0, "refused": 0}  # SIGHUP reloads of TLS material
        self.process = ""  # "2/4" in a router spanning processes; "" in a single process
        self.cluster: Any = None  # what gathers the other processes' reports (node.cluster.reports)
        self.endpoints: Dict[str, str] = {}  # transport id -> where it listens
        self.reactor: Any = None  # the node's clock (late answers to addresses that failed to log in)
        self.pythonpath: Tuple[str, ...] = ()  # the router's: wsgi and resource paths import with it
        self.pending: List[Any] = []  # Deferreds the node waits for before it listens (archive downloads)

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
