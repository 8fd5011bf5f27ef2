"""``metrics`` paths: the node's numbers in the Prometheus text format.

Nothing is counted here. The router, the transports, TLS and the backplane keep
plain integer counts as they work (:mod:`node.router.counters`,
:mod:`node.transports.counts`, :mod:`node.tls.handshakes`); :class:`NodeCollector`,
a ``prometheus_client`` custom collector, reads them when Prometheus scrapes and
the library writes the exposition format (text, or OpenMetrics when asked). So
a message costs an integer increment, never a metrics-library call.

Labels stay few: realm, transport ID, WAMP message type, authentication
method, and fixed sets of reasons. Never a session ID, a URI or an authid.

With ``processes: N`` a scrape reaches whichever process the kernel gives the
connection to (the port is shared). That process asks the others for their
numbers over the backplane (:mod:`node.cluster.reports`), waits up to
``gather_timeout`` seconds, and answers for all of them, each sample labelled
``process="i/N"``; ``wampnode_process_answered`` says which answered. One scrape
target sees the whole node, and counters never jump between processes.
"""
from __future__ import annotations

import time
from typing import Any, Dict, Iterable, List, Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector
from twisted.logger import Logger
from twisted.web import resource
from twisted.web.server import NOT_DONE_YET

from node import __version__
from node.config.model import MetricsPath
from node.router.counters import CALL_ERROR_REASONS, CLOSE_REASONS
from node.web.access import Access, guarded
from node.web.status import NodeStatus

log = Logger()

# WAMP message code -> name (the ``type`` label); the router receives the first set, sends the second
MESSAGE_NAMES = {1: "HELLO", 2: "WELCOME", 3: "ABORT", 4: "CHALLENGE", 5: "AUTHENTICATE", 6: "GOODBYE", 8: "ERROR",
                 16: "PUBLISH", 17: "PUBLISHED", 32: "SUBSCRIBE", 33: "SUBSCRIBED", 34: "UNSUBSCRIBE",
                 35: "UNSUBSCRIBED", 36: "EVENT", 48: "CALL", 49: "CANCEL", 50: "RESULT", 64: "REGISTER",
                 65: "REGISTERED", 66: "UNREGISTER", 67: "UNREGISTERED", 68: "INVOCATION", 69: "INTERRUPT",
                 70: "YIELD"}
RECEIVED = (1, 3, 5, 6, 8, 16, 32, 34, 48, 49, 64, 66, 70)
SENT = (2, 3, 4, 6, 8, 17, 33, 35, 36, 50, 65, 67, 68, 69)

_PROCESS = ProcessCollector(registry=None)  # CPU, RSS, open files of this process (Linux /proc)


def _counter(name: str, doc: str, labels: List[str]) -> CounterMetricFamily:
    return CounterMetricFamily(f"wampnode_{name}", doc, labels=labels)


def _gauge(name: str, doc: str, labels: List[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"wampnode_{name}", doc, labels=labels)


def router_families(router: Any) -> List[Metric]:
    """Sessions, messages, logins and routing of ``router`` (a :class:`node.router.Router`)."""
    counts = router.counts
    received = _counter("messages_received", "WAMP messages received from clients, by message type", ["type"])
    sent = _counter("messages_sent", "WAMP messages sent to clients, by message type", ["type"])
    for code in RECEIVED:
        received.add_metric([MESSAGE_NAMES[code]], counts.received[code])
    for code in SENT:
        sent.add_metric([MESSAGE_NAMES[code]], counts.sent[code])
    auth_ok = _counter("auth_successes", "Sessions welcomed, by authentication method", ["method"])
    auth_failed = _counter("auth_failures", "Failed authentications, by method", ["method"])
    for method, value in sorted(counts.auth_ok.items()):
        auth_ok.add_metric([method], value)
    for method, value in sorted(counts.auth_failed.items()):
        auth_failed.add_metric([method], value)
    sessions = _gauge("sessions", "WAMP sessions joined now, by realm and transport", ["realm", "transport", "type"])
    opened = _counter("sessions_opened", "WAMP sessions joined", ["realm"])
    closed = _counter("sessions_closed", "WAMP sessions ended, by reason class", ["realm", "reason"])
    publications = _counter("publications", "Publications routed (authorized PUBLISH from clients)", ["realm"])
    events = _counter("events_delivered", "EVENT messages handed to subscribers", ["realm"])
    calls = _counter("calls", "CALLs received", ["realm"])
    call_errors = _counter("call_errors", "ERROR answers to CALLs, by reason class", ["realm", "reason"])
    timeouts = _counter("call_timeouts", "Calls whose timeout expired", ["realm"])
    cancels = _counter("call_cancels", "Calls canceled by their caller", ["realm"])
    for realm in router.realms():
        rc = realm.counts
        name = realm.name
        for listener in router.listeners:
            sessions.add_metric([name, listener.transport, listener.kind], rc.open.get(listener, 0))
        opened.add_metric([name], rc.opened)
        for reason in CLOSE_REASONS:
            closed.add_metric([name, reason], rc.closed.get(reason, 0))
        publications.add_metric([name], rc.publications)
        events.add_metric([name], rc.events)
        calls.add_metric([name], rc.calls)
        for reason in CALL_ERROR_REASONS:
            call_errors.add_metric([name, reason], rc.call_errors.get(reason, 0))
        timeouts.add_metric([name], rc.call_timeouts)
        cancels.add_metric([name], rc.call_cancels)
    return [sessions, opened, closed, received, sent, publications, events, calls, call_errors, timeouts, cancels,
            auth_ok, auth_failed]


def transport_families(status: NodeStatus, now: float) -> List[Metric]:
    """Bytes, connections, refusals, violations, TLS handshakes and certificates of each transport."""
    bytes_in = _counter("bytes_received", "Bytes received on the transport's connections (TLS included)",
                        ["transport"])
    bytes_out = _counter("bytes_sent", "Bytes sent on the transport's connections (TLS included)", ["transport"])
    accepted = _counter("connections", "Connections accepted", ["transport"])
    wamp_open = _gauge("wamp_connections", "WAMP connections (WebSocket, RawSocket) open now", ["transport"])
    refused = _counter("connections_refused", "Connections refused or dropped at a limit", ["transport", "limit"])
    violations = _counter("protocol_violations", "Connections closed for a WAMP protocol violation", ["transport"])
    handshakes = _counter("tls_handshakes", "TLS handshakes completed", ["transport"])
    failures = _counter("tls_handshake_failures", "TLS handshakes failed, by reason class", ["transport", "reason"])
    expiry = _gauge("tls_certificate_expiry_seconds", "Seconds until the certificate expires (negative: expired)",
                    ["transport", "name"])
    hello_timeouts: Dict[str, int] = {}
    session_violations: Dict[str, int] = {}
    router = status.router
    for listener in getattr(router, "listeners", ()):
        hello_timeouts[listener.transport] = hello_timeouts.get(listener.transport, 0) + listener.hello_timeouts
        session_violations[listener.transport] = session_violations.get(listener.transport, 0) + listener.violations
    for counts in status.transport_counts:
        tid = counts.transport
        bytes_in.add_metric([tid], counts.bytes_in)
        bytes_out.add_metric([tid], counts.bytes_out)
        accepted.add_metric([tid], counts.connections)
        open_now = status.connection_counts.get(tid)
        wamp_open.add_metric([tid], open_now() if open_now is not None else 0)
        for limit, value in counts.refused.items():
            refused.add_metric([tid, limit], value)
        refused.add_metric([tid, "hello_timeout"], hello_timeouts.get(tid, 0))
        violations.add_metric([tid], counts.violations + session_violations.get(tid, 0))
        if counts.tls is not None:
            handshakes.add_metric([tid], counts.tls.completed)
            for reason, value in counts.tls.failed.items():
                failures.add_metric([tid, reason], value)
    for tid, creator in status.certificates:
        for identity in creator.material.identities:
            if identity.chain:
                expires = identity.chain[0].not_valid_after_utc.timestamp()
                expiry.add_metric([tid, identity.sni_name or "default"], round(expires - now))
    return [bytes_in, bytes_out, accepted, wamp_open, refused, violations, handshakes, failures, expiry]


def node_families(status: NodeStatus) -> List[Metric]:
    """The node's version, reloads and, in a router spanning processes, its backplane."""
    info = _gauge("info", "wampnode version (always 1)", ["version"])
    info.add_metric([__version__], 1)
    reloads = _counter("config_reloads", "SIGHUP reloads of TLS certificates and keys, by outcome", ["outcome"])
    for outcome, value in sorted(status.reloads.items()):
        reloads.add_metric([outcome], value)
    families: List[Metric] = [info, reloads]
    cluster = status.cluster
    if cluster is not None:
        bus, member = cluster.bus, cluster.member
        for name, doc, value in (
                ("backplane_messages_sent", "NATS messages published (each a batch of frames)", bus.sent_messages),
                ("backplane_messages_received", "NATS messages received", bus.received_messages),
                ("backplane_frames_sent", "Frames sent to other processes", bus.sent_frames),
                ("backplane_frames_received", "Frames received from other processes", bus.received_frames),
                ("backplane_resyncs", "State resyncs: another process's sessions reloaded after a gap",
                 member.resyncs)):
            family = _counter(name, doc, [])
            family.add_metric([], value)
            families.append(family)
        peers = _gauge("backplane_processes", "Other router processes this one hears", [])
        peers.add_metric([], len(member.members))
        families.append(peers)
    return families + worker_families(status.workers())


def worker_families(workers: List[Dict[str, Any]]) -> List[Metric]:
    """The container and guest workers this process runs: restarts and whether each runs.
    Worker ids come from the config, so the label stays low-cardinality."""
    restarts = _counter("worker_restarts", "Restarts of a container or guest worker", ["worker", "type"])
    running = _gauge("worker_running", "1 while a container or guest worker's process runs", ["worker", "type"])
    for worker in workers:
        labels = [str(worker["id"]), str(worker["type"])]
        restarts.add_metric(labels, worker.get("restarts") or 0)
        running.add_metric(labels, 1 if worker.get("state") == "running" else 0)
    return [restarts, running] if workers else []


def local_families(status: NodeStatus) -> List[Metric]:
    """Every metric of this process."""
    families = node_families(status)
    if status.router is not None:
        families += router_families(status.router)
    families += transport_families(status, time.time())
    families += list(_PROCESS.collect())
    return families


# --- across processes ----------------------------------------------------------------------------


def to_wire(families: Iterable[Metric]) -> list:
    """Families as plain lists, for the backplane: [name, type, help, [[sample, labels, value], ...]]."""
    return [[f.name, f.type, f.documentation, [[s.name, dict(s.labels), s.value] for s in f.samples]]
            for f in families]


def from_wire(data: Any) -> List[Metric]:
    """The families of :func:`to_wire`; malformed entries are skipped."""
    families = []
    for entry in data if isinstance(data, list) else []:
        try:
            name, kind, doc, samples = entry
            family = Metric(name, doc, kind)
            for sample, labels, value in samples:
                family.add_sample(sample, {str(k): str(v) for k, v in labels.items()}, float(value))
        except (TypeError, ValueError, AttributeError):
            continue
        families.append(family)
    return families


def merged(reports: Dict[str, Optional[List[Metric]]]) -> List[Metric]:
    """One family per name with every process's samples labelled ``process``, and
    ``wampnode_process_answered`` (0 for a process whose report did not come)."""
    out: Dict[str, Metric] = {}
    answered = _gauge("process_answered", "1 if the router process's numbers are in this scrape", ["process"])
    for label in sorted(reports):
        families = reports[label]
        answered.add_metric([label], 0 if families is None else 1)
        for family in families or ():
            target = out.get(family.name)
            if target is None:
                target = out[family.name] = Metric(family.name, family.documentation, family.type)
            for s in family.samples:
                target.add_sample(s.name, dict(s.labels, process=label), s.value, s.timestamp, s.exemplar)
    return [answered] + list(out.values())


class _Families:
    """What ``prometheus_client``'s encoders take: anything with ``collect()``."""

    def __init__(self, families: List[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


class MetricsResource(resource.Resource):
    isLeaf = True

    def __init__(self, status: NodeStatus, config: MetricsPath, reactor: Any) -> None:
        super().__init__()
        self.status = status
        self.config = config
        self.reactor = reactor
        router = status.router
        self.access = Access(config.access, "metrics", getattr(router, "auth_failures", None))

    def render_GET(self, request: Any) -> Any:  # noqa: N802 (Twisted's name)
        return guarded(self.access, request, lambda: self._answer(request), self.reactor)

    def render_HEAD(self, request: Any) -> Any:  # noqa: N802
        return self.render_GET(request)

    def _answer(self, request: Any) -> Any:
        encoder, content_type = choose_encoder((request.getHeader(b"accept") or b"").decode("latin-1"))
        request.setHeader(b"Content-Type", content_type.encode("ascii"))
        request.setHeader(b"Cache-Control", b"no-store")
        status = self.status
        if status.cluster is None:
            return encoder(_Families(local_families(status)))
        here = status.process
        local = local_families(status)

        def answer(others: Dict[str, Any]) -> None:
            reports: Dict[str, Optional[List[Metric]]] = {here: local}
            for label, payload in others.items():
                reports[label] = from_wire(payload) if payload is not None else None
            if not getattr(request, "_disconnected", False):
                request.write(encoder(_Families(merged(reports))))
                request.finish()

        def failed(failure: Any) -> None:
            log.failure("gathering the metrics of the other processes failed", failure)
            answer({})

        status.cluster.gather("metrics", self.config.gather_timeout).addCallbacks(answer, failed)
        return NOT_DONE_YET


def metrics_resource(status: NodeStatus, config: MetricsPath, reactor: Any) -> MetricsResource:
    return MetricsResource(status, config, reactor)
