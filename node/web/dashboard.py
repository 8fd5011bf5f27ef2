"""``dashboard`` paths: a live page of the node's numbers, and the JSON it reads.

``<path>/`` is a self-contained page (HTML, CSS and JavaScript served from this
package: no CDN, and a Content-Security-Policy that allows nothing else); every
``interval`` seconds its script reads ``<path>/data``, a small JSON snapshot, and
draws sessions, messages per second and errors per second as SVG charts over the
last ``history`` seconds, the realms with their busiest URIs, the transports
with their certificates, and the processes.

Why a JSON endpoint and not a WAMP session using the meta API: what the page
shows is mostly not in the WAMP meta API (message and error rates, certificate
expiry, processes), which is per realm and has no counters; a WAMP route would
need new router procedures that show every realm to a session of one. The
snapshot is read from the same counts as the metrics, so the page and
Prometheus never disagree, it sits behind the same access rules (networks,
basic auth: the browser's own login prompt), and with ``processes: N`` it is
gathered over the backplane like the metrics.

When the node refuses the data (401, 403) or cannot be reached, the page says
so and blanks every number: it never shows stale ones.
"""
from __future__ import annotations

import heapq
import json
import os
import time
from typing import Any, Dict, List, Optional

from twisted.logger import Logger
from twisted.web import resource
from twisted.web.server import NOT_DONE_YET

from node import __version__
from node.config.model import DashboardPath
from node.web.access import Access, guarded
from node.web.status import NodeStatus

log = Logger()

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets")
FILES = {"": ("dashboard.html", b"text/html; charset=utf-8"),
         "dashboard.js": ("dashboard.js", b"text/javascript; charset=utf-8"),
         "dashboard.css": ("dashboard.css", b"text/css; charset=utf-8")}
BUSIEST = 5  # URIs listed per realm and kind
ERROR = 8  # WAMP message codes counted as errors on the page
ABORT = 3
# the page runs only what it was served: no inline script, nothing from elsewhere
CSP = b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def _busiest(observations: Any, count_key: str, hits_key: str) -> List[Dict[str, Any]]:
    top = heapq.nlargest(BUSIEST, (o for o in observations if o.hits), key=lambda o: o.hits)
    return [{"uri": o.uri, "match": o.match, count_key: len(o.observers), hits_key: o.hits} for o in top]


def _process_facts() -> Dict[str, Any]:
    """RSS (bytes) and CPU seconds of this process, from /proc where there is one."""
    facts: Dict[str, Any] = {"pid": os.getpid(), "cpu_seconds": round(time.process_time(), 2), "rss_bytes": None}
    try:
        with open("/proc/self/statm") as f:
            facts["rss_bytes"] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    return facts


def snapshot(status: NodeStatus) -> Dict[str, Any]:
    """This process's numbers, as the page reads them (see the module doc)."""
    now = time.time()
    router = status.router
    realms = []
    totals = {"sessions": 0, "received": 0, "sent": 0, "errors": 0, "publications": 0, "events": 0, "calls": 0,
              "call_errors": 0}
    if router is not None:
        counts = router.counts
        totals["received"] = sum(counts.received)
        totals["sent"] = sum(counts.sent)
        totals["errors"] = counts.sent[ERROR] + counts.sent[ABORT]
        for realm in router.realms():
            rc = realm.counts
            sessions = rc.session_count()
            totals["sessions"] += sessions
            totals["publications"] += rc.publications
            totals["events"] += rc.events
            totals["calls"] += rc.calls
            totals["call_errors"] += sum(rc.call_errors.values())
            realms.append({
                "name": realm.name, "sessions": sessions,
                "subscriptions": len(realm.broker.subscriptions), "registrations": len(realm.dealer.registrations),
                "topics": _busiest(realm.broker.subscriptions, "subscribers", "publications"),
                "procedures": _busiest(realm.dealer.registrations, "callees", "calls"),
            })
    transports = []
    certificates: Dict[str, List[Dict[str, Any]]] = {}
    for tid, creator in status.certificates:
        for identity in creator.material.identities:
            if identity.chain:
                leaf = identity.chain[0]
                expires = leaf.not_valid_after_utc.timestamp()
                certificates.setdefault(tid, []).append({
                    "name": identity.sni_name or "default", "subject": leaf.subject.rfc4514_string(),
                    "not_after": leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC"),
                    "seconds_left": round(expires - now)})
    for counts in status.transport_counts:
        open_now = status.connection_counts.get(counts.transport)
        transports.append({"id": counts.transport, "endpoint": status.endpoints.get(counts.transport, ""),
                           "tls": counts.tls is not None, "connections": open_now() if open_now else 0,
                           "bytes_received": counts.bytes_in, "bytes_sent": counts.bytes_out,
                           "certificates": certificates.get(counts.transport, [])})
    process = dict(_process_facts(), process=status.process or "1/1", answered=True,
                   sessions=totals["sessions"], uptime_seconds=round(now - status.started_at, 1))
    return {"node": {"version": f"wampnode {__version__}", "uptime_seconds": round(now - status.started_at, 1)},
            "time": now, "totals": totals, "realms": realms, "transports": transports, "processes": [process],
            "workers": None}


def merge(local: Dict[str, Any], others: Dict[str, Optional[Dict[str, Any]]]) -> Dict[str, Any]:
    """One snapshot for the node from this process's and the others' (None: did not answer).

    Sessions, messages and counts add up; a realm's subscriptions add up (each
    process holds its own subscribers'); its registrations are the largest count
    (every process knows every registration); transports are this process's
    (all processes listen on the same ones).
    """
    out = dict(local, processes=list(local["processes"]))
    totals = dict(local["totals"])
    realms = {r["name"]: dict(r) for r in local["realms"]}
    for label in sorted(others):
        other = others[label]
        if not isinstance(other, dict):
            out["processes"].append({"process": label, "answered": False})
            continue
        out["processes"].extend(p for p in other.get("processes", []) if isinstance(p, dict))
        for key, value in other.get("totals", {}).items():
            if key in totals and isinstance(value, (int, float)):
                totals[key] += value
        for realm in other.get("realms", []):
            mine = realms.get(realm.get("name"))
            if mine is None:
                continue
            mine["sessions"] += realm.get("sessions", 0)
            mine["subscriptions"] += realm.get("subscriptions", 0)
            mine["registrations"] = max(mine["registrations"], realm.get("registrations", 0))
            for kind, hits in (("topics", "publications"), ("procedures", "calls")):
                entries = mine[kind] + [e for e in realm.get(kind, []) if isinstance(e, dict)]
                mine[kind] = heapq.nlargest(BUSIEST, entries, key=lambda e: e.get(hits, 0))
    out["totals"] = totals
    out["realms"] = list(realms.values())
    out["processes"].sort(key=lambda p: str(p.get("process")))
    return out


class DashboardResource(resource.Resource):
    """The page (``<path>/``), its script and style, and ``<path>/data``."""

    isLeaf = True

    def __init__(self, status: NodeStatus, config: DashboardPath, reactor: Any) -> None:
        super().__init__()
        self.status = status
        self.config = config
        self.reactor = reactor
        self.access = Access(config.access, "dashboard", getattr(status.router, "auth_failures", None))
        self.files: Dict[str, bytes] = {}
        for name, (filename, _) in FILES.items():
            with open(os.path.join(ASSETS, filename), "rb") as f:
                self.files[name] = f.read()

    def render_GET(self, request: Any) -> Any:  # noqa: N802 (Twisted's name)
        return guarded(self.access, request, lambda: self._answer(request), self.reactor)

    def _answer(self, request: Any) -> Any:
        request.setHeader(b"Cache-Control", b"no-store")
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        request.setHeader(b"Content-Security-Policy", CSP)
        name = b"/".join(request.postpath).decode("utf-8", "replace")
        if not request.postpath:  # <path> without the slash: the page's relative URLs need it
            request.redirect(request.path + b"/")
            return b""
        if name == "data":
            return self._data(request)
        if name not in FILES:
            request.setResponseCode(404)
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return b"Not Found\n"
        request.setHeader(b"Content-Type", FILES[name][1])
        return self.files[name]

    def _data(self, request: Any) -> Any:
        request.setHeader(b"Content-Type", b"application/json")
        status = self.status
        local = dict(snapshot(status), interval=self.config.interval, history=self.config.history)
        if status.cluster is None:
            return json.dumps(local).encode("utf-8")

        def answer(others: Dict[str, Any]) -> None:
            if not getattr(request, "_disconnected", False):
                request.write(json.dumps(merge(local, others)).encode("utf-8"))
                request.finish()

        def failed(failure: Any) -> None:
            log.failure("gathering the dashboard numbers of the other processes failed", failure)
            answer({})

        status.cluster.gather("dashboard", self.config.gather_timeout).addCallbacks(answer, failed)
        return NOT_DONE_YET


def dashboard_resource(status: NodeStatus, config: DashboardPath, reactor: Any) -> DashboardResource:
    return DashboardResource(status, config, reactor)
