"""Build a Twisted Web resource tree and site from a ``web`` service's paths."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List

from twisted.logger import Logger
from twisted.web import resource, server

from node.config import model
from node.web.channel import InMemoryBodyRequest, NodeChannel, peer_text
from node.web.archive import archive_resource
from node.web.dashboard import dashboard_resource
from node.web.hsts import hsts_header
from node.web.httpbridge import bridge_resource
from node.web.jsonvalue import json_resource
from node.web.nodeinfo import nodeinfo_resource
from node.web.pyresource import twisted_resource
from node.web.redirect import redirect_resource
from node.web.static import static_resource
from node.web.status import NodeStatus
from node.web.tcpbridge import tcpbridge_resource
from node.web.wap import wap_resource
from node.web.urlpath import url_path_problem
from node.web.wsgi import wsgi_resource

log = Logger()


class NotFoundRoot(resource.Resource):
    """The root when no ``/`` path is configured: 404 itself, children still served."""

    def render(self, request: Any) -> bytes:
        return resource.NoResource().render(request)


@dataclass(frozen=True)
class WebContext:
    """What path builders need beyond their own config: the node's status page data,
    the builder of WAMP WebSocket resources (one per transport), the router (for the
    HTTP bridge's sessions) and the reactor (timers, outgoing connections)."""

    status: NodeStatus
    websocket_resource: Callable[[Any], Any]
    router: Any = None
    reactor: Any = None


def _reverse_proxy(config: model.ReverseProxyPath, reactor: Any) -> Any:
    # imported here: the proxy brings twisted.web.client and the outgoing TLS stack (node.trust,
    # pyOpenSSL: ~30 ms of start-up) that a node without a reverseproxy path need not load
    from node.web.reverseproxy import reverse_proxy_resource

    return reverse_proxy_resource(config, reactor)


def _build_path(service: object, context: WebContext) -> Any:
    builders: Dict[type, Callable[[Any], Any]] = {
        model.StaticPath: static_resource,
        model.RedirectPath: redirect_resource,
        model.JsonPath: json_resource,
        model.ArchivePath: lambda s: archive_resource(s, context.reactor, context.status.pending),
        model.WsgiPath: lambda s: wsgi_resource(s, context.reactor, context.status.pythonpath),
        model.ResourcePath: lambda s: twisted_resource(s, context.status.pythonpath),
        model.TcpBridgePath: tcpbridge_resource,
        model.NodeInfoPath: lambda _: nodeinfo_resource(context.status),
        model.WebSocketPath: lambda s: context.websocket_resource(s.service),
        model.WebSocketTesteePath: context.websocket_resource,  # an echo service, built beside WAMP's
        model.MetricsPath: lambda s: _metrics(s, context.status),
        model.DashboardPath: lambda s: dashboard_resource(context.status, s, context.status.reactor),
        model.ReverseProxyPath: lambda s: _reverse_proxy(s, context.reactor),
        model.WebSocketReverseProxyPath: context.websocket_resource,  # built by the transport, as WAMP's
        model.LongPollPath: context.websocket_resource,  # WAMP over long-poll: built by the transport, as WebSocket
        model.WapPath: lambda s: wap_resource(s, context.router),
    }
    if isinstance(service, model.BRIDGE_PATHS):
        return bridge_resource(service, context.router, context.reactor)
    return builders[type(service)](service)


def _metrics(service: model.MetricsPath, status: NodeStatus) -> Any:
    # start-up: prometheus_client takes ~40 ms to import, which only a node with a metrics path pays
    from node.web.metrics import metrics_resource

    return metrics_resource(status, service, status.reactor)


def build_tree(paths: Dict[str, object], context: WebContext) -> Any:
    """``{"/": ..., "ws": ..., "a/b": ...}`` -> a root resource with (nested) children."""
    root = _build_path(paths["/"], context) if "/" in paths else NotFoundRoot()
    for key in sorted(k for k in paths if k != "/"):
        parent = root
        segments: List[str] = key.split("/")
        for segment in segments[:-1]:
            child = parent.children.get(segment.encode())
            if child is None:
                child = NotFoundRoot()
                parent.putChild(segment.encode(), child)
            parent = child
        parent.putChild(segments[-1].encode(), _build_path(paths[key], context))
    return root


class NodeRequest(InMemoryBodyRequest):
    """A request whose ``Server`` header names wampnode and carries HSTS when asked."""

    def setHeader(self, name: Any, value: Any) -> None:  # noqa: N802 (Twisted API)
        if name in (b"Server", b"server"):
            value = b"wampnode"
        super().setHeader(name, value)

    def write(self, data: bytes) -> None:
        if not self.startedWriting and self.site.hsts is not None and self.isSecure():
            super().setHeader(b"Strict-Transport-Security", self.site.hsts)
        super().write(data)


class NodeSite(server.Site):
    requestFactory = NodeRequest
    protocol = NodeChannel
    hsts = None  # the Strict-Transport-Security value (node.web.hsts), or None
    noisy = False

    def __init__(self, root: Any, options: model.WebOptions) -> None:
        # client_timeout is Twisted Web's idle timeout (None: none)
        super().__init__(root, timeout=options.client_timeout)
        self.request_head_timeout = options.request_head_timeout  # node.web.deadline
        self.max_request_head = options.max_request_head  # node.web.channel
        self.max_request_body = options.max_request_body  # node.web.body
        self.access_log = options.access_log
        self.hsts = hsts_header(options)

    def getResourceFor(self, request: Any) -> Any:  # noqa: N802 (Twisted API)
        problem = url_path_problem(request.postpath)
        if problem is not None:
            log.warn("Bad request from {peer}: the URL path {problem}: {uri}",
                     peer=peer_text(request.getClientAddress()), problem=problem,
                     uri=repr(request.uri[:200])[2:-1])
            return resource.ErrorPage(400, "Bad Request", f"The URL path {problem}.")
        return super().getResourceFor(request)

    def log(self, request: Any) -> None:
        if self.access_log:
            log.info('{peer} "{method} {uri}" {code} {length}', peer=request.getClientAddress(),
                     method=request.method.decode("latin-1"), uri=request.uri.decode("latin-1"),
                     code=request.code, length=request.sentLength)


def build_site(web: model.WebService, context: WebContext) -> NodeSite:
    return NodeSite(build_tree(web.paths, context), web.options)
