"""This process's numbers for another process of the node (``processes: N``, :mod:`node.cluster.reports`)."""
from __future__ import annotations

from typing import Any

from node.web.dashboard import snapshot
from node.web.status import NodeStatus


def local_report(status: NodeStatus, what: str) -> Any:
    """``metrics``: this process's metric families as plain lists; ``dashboard``: its snapshot."""
    if what == "metrics":
        # start-up: prometheus_client takes ~40 ms to import; only a process asked for metrics pays it
        from node.web.metrics import local_families, to_wire

        return to_wire(local_families(status))
    return snapshot(status)
