"""``nodeinfo`` paths: a small status page (Crossbar.io's default config has one).

It shows what an operator checks first: versions, uptime, sessions, transports, and
the container and guest workers (pid, state, uptime, restarts).
``Accept: application/json`` gets the same facts as JSON for scripts.
"""
from __future__ import annotations

import html
import json
import time
from typing import Any, Dict

from twisted.web import resource

from node.web.status import NodeStatus


class NodeInfo(resource.Resource):
    """Not a leaf: at ``"/"`` the transport's other paths are its children and must
    win; any other path below it is the page itself, as before."""

    def __init__(self, status: NodeStatus) -> None:
        super().__init__()
        self.status = status

    def getChild(self, path: bytes, request: Any) -> resource.Resource:  # noqa: N802 (Twisted API)
        return self

    def facts(self) -> Dict[str, Any]:
        return self.status.as_dict()

    def render_GET(self, request: Any) -> bytes:
        facts = self.facts()
        request.setHeader(b"Cache-Control", b"no-store")
        if b"application/json" in (request.getHeader(b"accept") or b""):
            request.setHeader(b"Content-Type", b"application/json")
            return json.dumps(facts, indent=2).encode("utf-8")
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_text(v))}</td></tr>"
                       for k, v in facts.items())
        page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>wampnode</title></head>"
                f"<body><h1>wampnode node</h1><table>{rows}</table>"
                f"<p>Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')}</p></body></html>")
        return page.encode("utf-8")


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "; ".join(_text(v) for v in value)
    if isinstance(value, dict):  # a worker: "id backend, type container, pid 123, state running, ..."
        return ", ".join(f"{k} {v}" for k, v in value.items() if v not in (None, ""))
    return str(value)


def nodeinfo_resource(status: NodeStatus) -> NodeInfo:
    return NodeInfo(status)
