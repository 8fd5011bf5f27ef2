"""``reverseproxy`` paths: requests below the path go to another web server.

Crossbar.io's options (``host``, ``port``, ``path``, ``forwarded_port``,
``forwarded_proto``); a request for ``<mount>/a/b?q`` goes to ``<path>/a/b?q``.
Crossbar.io used Twisted's ``ReverseProxyResource``: HTTP/1.0, a new connection
per request, the whole body read first, hop-by-hop headers passed on, no
WebSocket. Here:

- upstream requests are HTTP/1.1 with keep-alive, over a pool of at most
  ``max_idle_connections`` idle connections (Twisted's ``Agent``; a GET or HEAD
  on a pooled connection the server had closed is retried once);
- bodies stream both ways with backpressure: a request body goes on as it
  arrives (:class:`~node.web.channel.InMemoryBodyRequest` hands it over before
  it is complete), and the client's socket being full pauses the server's, so
  neither is held in memory, whatever its size;
- hop-by-hop headers (RFC 9110 section 7.6.1, and those ``Connection`` names)
  are removed; ``X-Forwarded-For`` (appended), ``-Proto``, ``-Host``, ``-Port``,
  ``X-Real-IP`` (as Crossbar.io) and ``Forwarded`` (RFC 7239, appended) are set;
  ``Host`` names the server, as Crossbar.io sent it;
- ``tls`` connects with TLS verified by the ``trust`` block (:mod:`node.trust`);
- a server that cannot be reached (refused, no answer within
  ``connect_timeout``, TLS refused) gives 502, one that sends no response head
  within ``timeout`` of the request's end gives 504; both with a one-line
  reason, and a log line naming the client;
- an ``Upgrade: websocket`` request is passed to the server as it came (its
  hop-by-hop ``Upgrade`` and ``Connection`` kept, as the upgrade needs them)
  and the connection is then spliced both ways (:mod:`node.bridge.splice`);
- a path segment ``..`` or ``.`` (which would leave ``path``) gets 400.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from twisted.internet import defer
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.policies import ProtocolWrapper
from twisted.python.failure import Failure
from twisted.web import resource, server
from twisted.web.http import PotentialDataLoss, unquote
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgentEndpointFactory, IBodyProducer
from zope.interface import implementer

from node.bridge.server import target_endpoint
from node.bridge.splice import SpliceEnd, splice
from node.config.model import BridgeTarget, ReverseProxyPath
from node.errors import ConfigErrors, NodeError
from node.trust import ClientTrust
from node.trust.connect import connect_stream, describe_failure
from node.web.channel import peer_text

log = Logger()

# RFC 9110 section 7.6.1 (and 2616's Proxy-Authenticate/-Authorization, Proxy-Connection)
HOP_BY_HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding",
              b"upgrade", b"proxy-authenticate", b"proxy-authorization"}
# set here, never passed on from the client
REPLACED = {b"host", b"content-length", b"expect", b"x-real-ip", b"x-forwarded-proto", b"x-forwarded-host",
            b"x-forwarded-port"}
# the node's own in every answer (nginx does not pass the server's either)
OWN = {b"server", b"date"}
CACHED_CONNECTION_SECONDS = 60


def _named_by_connection(headers: Headers) -> set:
    named = set()
    for value in headers.getRawHeaders(b"connection", ()):
        named |= {token.strip().lower() for token in value.split(b",") if token.strip()}
    return named


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ProxyConfigError(Exception):
    """A request this proxy cannot pass on (400)."""


def upstream_target(request: Any, base_path: str) -> bytes:
    """``base_path`` + the raw rest of the request path below the mount + ``?query``.

    @raise ProxyConfigError: a ``.`` or ``..`` segment.
    """
    path, _, query = request.uri.partition(b"?")
    mount = getattr(request, "proxy_mount", len(request.prepath))  # segments of this path's own URL
    segments = path.split(b"/")[1 + mount:]
    if any(unquote(s) in (b".", b"..") for s in segments):
        raise ProxyConfigError("the URL path has a '.' or '..' segment")
    rest = b"/" + b"/".join(segments) if segments else b""
    target = base_path.encode("utf-8") + rest
    target = target or b"/"
    return target + (b"?" + query if query else b"")


def forwarded_headers(request: Any, config: ReverseProxyPath, upgrade: bool = False) -> Headers:
    """The headers the server gets: the client's, less hop-by-hop ones, plus the forwarded ones."""
    incoming = request.requestHeaders
    dropped = HOP_BY_HOP | REPLACED | _named_by_connection(incoming)
    if upgrade:
        dropped -= {b"upgrade", b"connection"}
    headers = Headers()
    for name, values in incoming.getAllRawHeaders():
        if name.lower() not in dropped:
            headers.setRawHeaders(name, list(values))
    if upgrade:
        headers.setRawHeaders(b"connection", [b"Upgrade"])
    client = request.getClientAddress()
    client_ip = getattr(client, "host", None) or "unknown"
    proto = config.forwarded_proto or ("https" if request.isSecure() else "http")
    own_host = request.getHeader(b"host") or b""
    port = config.forwarded_port or getattr(request.getHost(), "port", None)
    default_port = 443 if config.tls else 80
    shown = config.host if config.port == default_port else _host_port(config.host, config.port)
    headers.setRawHeaders(b"host", [shown.encode("idna")])
    previous = b", ".join(incoming.getRawHeaders(b"x-forwarded-for", ()))
    headers.setRawHeaders(b"x-forwarded-for", [(previous + b", " if previous else b"") + client_ip.encode()])
    headers.setRawHeaders(b"x-real-ip", [client_ip.encode()])
    headers.setRawHeaders(b"x-forwarded-proto", [proto.encode()])
    if own_host:
        headers.setRawHeaders(b"x-forwarded-host", [own_host])
    if port:
        headers.setRawHeaders(b"x-forwarded-port", [str(port).encode()])
    node = f'"[{client_ip}]"' if ":" in client_ip else client_ip
    element = f"for={node};proto={proto}".encode()
    if own_host and b'"' not in own_host:
        element += b';host="' + own_host + b'"'
    earlier = b", ".join(incoming.getRawHeaders(b"forwarded", ()))
    headers.setRawHeaders(b"forwarded", [(earlier + b", " if earlier else b"") + element])
    return headers


@implementer(IBodyProducer)
class StreamedBody:
    """The client's request body, passed to the server as it arrives (``IBodyProducer``)."""

    def __init__(self, request: Any) -> None:
        self.request = request
        length = request.requestHeaders.getRawHeaders(b"content-length")
        self.length = int(length[0]) if length and not request.requestHeaders.hasHeader(b"transfer-encoding") \
            else UNKNOWN_LENGTH
        self.consumer: Any = None
        self.done: defer.Deferred = defer.Deferred()
        self.held: List[bytes] = []
        self.stopped = False
        request.body_sink = self.write
        request.body_end = self.end
        self._client().pauseProducing()  # until the server's connection takes the body

    def _client(self) -> Any:
        transport = self.request.channel.transport if self.request.channel is not None else None
        return transport if transport is not None else _Nothing()

    def write(self, data: bytes) -> None:
        if self.stopped:
            return
        if self.consumer is None:
            self.held.append(data)
            self._client().pauseProducing()
        else:
            self.consumer.write(data)

    def end(self) -> None:
        if self.consumer is None:
            self.held.append(b"")  # marks the end
        elif not self.done.called:
            self.done.callback(None)

    def startProducing(self, consumer: Any) -> defer.Deferred:  # noqa: N802 (Twisted API)
        self.consumer = consumer
        held, self.held = self.held, []
        ended = bool(held) and held[-1] == b""
        for data in held:
            if data:
                consumer.write(data)
        if ended or self.request.body_complete:
            if not self.done.called:
                self.done.callback(None)
        else:
            self._client().resumeProducing()
        return self.done

    def pauseProducing(self) -> None:  # noqa: N802
        self._client().pauseProducing()

    def resumeProducing(self) -> None:  # noqa: N802
        self._client().resumeProducing()

    def stopProducing(self) -> None:  # noqa: N802
        """The server's connection is gone: the rest of the body is read and dropped."""
        self.stopped = True
        self._client().resumeProducing()


class _Nothing:
    def pauseProducing(self) -> None:  # noqa: N802
        pass

    def resumeProducing(self) -> None:  # noqa: N802
        pass


class _ResponseRelay(Protocol):
    """The server's response body -> the client, the client's socket pausing the server's."""

    def __init__(self, request: Any, finished: defer.Deferred) -> None:
        self.request = request
        self.finished = finished

    def connectionMade(self) -> None:  # noqa: N802
        if not self.request._disconnected:
            self.request.registerProducer(self.transport, True)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        if not self.request._disconnected:
            self.request.write(data)

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        self.finished.callback((reason,))  # in a tuple: a Failure given to callback() would errback


@implementer(IAgentEndpointFactory)
class _Upstream:
    """Where the Agent connects: the configured server, TCP or TLS, within ``connect_timeout``."""

    def __init__(self, config: ReverseProxyPath, reactor: Any, trust: Optional[ClientTrust]) -> None:
        self.config = config
        self.reactor = reactor
        self.target = BridgeTarget(type="tcp", host=config.host, port=config.port, socket_path=None,
                                   tls=config.tls, path=config.path)
        self.trust = trust

    def endpointForURI(self, uri: Any) -> Any:  # noqa: N802 (Twisted API)
        return self

    def connect(self, factory: Factory) -> defer.Deferred:
        endpoint = target_endpoint(self.reactor, self.target, self.trust, self.config.connect_timeout)
        return connect_stream(self.reactor, endpoint, factory, self.config.connect_timeout, self.target.describe())


class ReverseProxyResource(resource.Resource):
    """One ``reverseproxy`` path: every request below it is passed on."""

    isLeaf = False  # paths configured below this one (children) are served by their own resources
    takes_body = True
    streams_body = True
    max_request_body = 2 ** 62  # streamed, never kept: no limit of the node's own

    def __init__(self, config: ReverseProxyPath, reactor: Any) -> None:
        # imported here: twisted.web.client (Agent, its TLS and pool: ~20 ms of start-up)
        # is for nodes that have a reverseproxy path
        from twisted.web import client

        super().__init__()
        self.response_done = client.ResponseDone
        self.config = config
        self.reactor = reactor
        trust = None
        if config.tls is not None:
            trust = ClientTrust(config.tls.trust)
            problems = trust.check()  # its CA files, read now: a fault stops start-up
            if problems:
                raise ConfigErrors(problems)
        self.upstream = _Upstream(config, reactor, trust)
        pool = client.HTTPConnectionPool(reactor, persistent=config.max_idle_connections > 0)
        pool.maxPersistentPerHost = max(config.max_idle_connections, 1)
        pool.cachedConnectionTimeout = CACHED_CONNECTION_SECONDS
        pool.retryAutomatically = True
        pool._factory = type("QuietHTTP11ClientFactory", (pool._factory,), {"noisy": False})  # no log per connection
        self.pool = pool
        self.agent = client.Agent.usingEndpointFactory(reactor, self.upstream, pool=pool)
        scheme = b"https" if config.tls else b"http"
        self.origin = scheme + b"://" + _host_port(config.host, config.port).encode("idna")

    def getChildWithDefault(self, segment: bytes, request: Any) -> Any:  # noqa: N802 (Twisted API)
        """A configured child, else this resource for the whole rest of the path (which
        starts at the segment Twisted just moved to ``prepath``)."""
        child = self.children.get(segment)
        if child is not None:
            return child
        if not hasattr(request, "proxy_mount"):
            request.proxy_mount = len(request.prepath) - 1
        return self

    # --- answers -------------------------------------------------------------------

    def _fail(self, request: Any, code: int, reason: str) -> Any:
        log.warn("Reverse proxy {path} -> {upstream}: {method} from {peer}: {reason} ({code})",
                 path=self.config.path, upstream=self.config.describe(), peer=peer_text(request.getClientAddress()),
                 method=request.method.decode("latin-1")[:20], reason=reason, code=code)
        if request._disconnected or request.finished:
            return None
        if request.startedWriting:  # the response was under way: cut it, the client sees it incomplete
            transport = request.channel.transport if request.channel is not None else None
            if transport is not None:
                transport.abortConnection()
            return None
        body = (reason + "\n").encode("utf-8")
        request.setResponseCode(code)
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"content-length", b"%d" % len(body))
        request.write(body)
        request.finish()
        return None

    # --- the request ---------------------------------------------------------------

    def render(self, request: Any) -> Any:
        upgrade = (request.getHeader(b"upgrade") or b"").lower()
        try:
            target = upstream_target(request, self.config.base_path)
        except ProxyConfigError as e:
            self._fail(request, 400, str(e))
            return server.NOT_DONE_YET
        if upgrade:
            if upgrade != b"websocket" or not self.config.websocket:
                self._fail(request, 501, f"upgrade to '{upgrade.decode('latin-1')[:40]}' is not passed on here")
                return server.NOT_DONE_YET
            return self._upgrade(request, target)
        headers = forwarded_headers(request, self.config)
        body = StreamedBody(request) if request.streaming else None
        d = self.agent.request(request.method, self.origin + target, headers, body)
        timer: List[Any] = []
        expired: List[bool] = []

        def expire() -> None:
            expired.append(True)
            self._fail(request, 504, f"no response from {self.config.describe()} within {self.config.timeout:g} s")
            d.cancel()  # whatever it still gives is dropped

        settled: List[bool] = []  # not d.called: a Deferred waiting on a pooled connection's answer is "called"

        def start_timer() -> None:
            if not settled:
                timer.append(self.reactor.callLater(self.config.timeout, expire))

        if body is None:
            start_timer()
        else:
            body.done.addCallback(lambda _: start_timer())

        def stop_timer(result: Any) -> Any:
            settled.append(True)
            for t in timer:
                if t.active():
                    t.cancel()
            return result

        d.addBoth(stop_timer)
        d.addCallbacks(lambda response: self._respond(request, response, bool(expired)),
                       lambda f: self._failed(request, f, bool(expired)))
        d.addErrback(lambda f: log.failure("reverse proxy {path}", f, path=self.config.path))
        request.notifyFinish().addErrback(lambda _: d.cancel())
        return server.NOT_DONE_YET

    def _failed(self, request: Any, failure: Failure, expired: bool) -> None:
        if request._disconnected or expired:
            return  # the client left (and so cancelled the request), or got its 504
        if failure.check(NodeError):
            self._fail(request, 502, failure.value.line())
            return
        self._fail(request, 502, f"{self.config.describe()} failed: {_cause(failure)}")

    def _respond(self, request: Any, response: Any, expired: bool = False) -> Any:
        if request._disconnected or expired:
            response.deliverBody(Protocol())  # read and drop; the connection goes back to the pool or closes
            return None
        request.setResponseCode(response.code, response.phrase)
        named = _named_by_connection(response.headers)
        for name, values in response.headers.getAllRawHeaders():
            if name.lower() not in HOP_BY_HOP and name.lower() not in named and name.lower() not in OWN:
                request.responseHeaders.setRawHeaders(name, list(values))
        if response.length is not UNKNOWN_LENGTH and request.method != b"HEAD":
            request.setHeader(b"content-length", b"%d" % response.length)
        finished: defer.Deferred = defer.Deferred()
        relay = _ResponseRelay(request, finished)
        response.deliverBody(relay)
        request.notifyFinish().addErrback(lambda _: relay.transport.stopProducing() if relay.transport else None)

        def done(result: Tuple[Any]) -> None:
            reason = result[0]
            if request._disconnected:
                return
            request.unregisterProducer()
            if reason is None or reason.check(self.response_done, PotentialDataLoss):
                request.finish()
            else:
                self._fail(request, 502, f"{self.config.describe()} broke off the response: {_cause(reason)}")

        finished.addCallback(done)
        return None

    # --- WebSocket upgrade -----------------------------------------------------------

    def _upgrade(self, request: Any, target: bytes) -> Any:
        headers = forwarded_headers(request, self.config, upgrade=True)
        head = [request.method + b" " + target + b" HTTP/1.1"]
        for name, values in headers.getAllRawHeaders():
            head += [name + b": " + value for value in values]
        client = SpliceEnd("client")
        client.held.append(b"\r\n".join(head) + b"\r\n\r\n")  # goes to the server first
        take_over(request, client)
        client.transport.pauseProducing()
        upstream = SpliceEnd("server")
        peer = peer_text(request.getClientAddress())
        d = self.upstream.connect(_one(upstream))

        def connected(_: Any) -> None:
            if client.lost:
                upstream.transport.loseConnection()
                return
            splice(client, upstream)
            log.info("Reverse proxy {path}: {peer} upgraded to a WebSocket, spliced to {upstream}",
                     path=self.config.path, peer=peer, upstream=self.config.describe())

        def failed(failure: Failure) -> None:
            reason = failure.value.line() if failure.check(NodeError) else _cause(failure)
            log.warn("Reverse proxy {path} -> {upstream}: WebSocket upgrade from {peer}: {reason} (502)",
                     path=self.config.path, upstream=self.config.describe(), peer=peer, reason=reason)
            if client.transport is not None and not client.lost:
                body = (reason + "\n").encode("utf-8")
                client.transport.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                       b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                client.transport.loseConnection()

        d.addCallbacks(connected, failed)
        return server.NOT_DONE_YET


def _one(protocol: Protocol) -> Factory:
    factory = Factory.forProtocol(lambda: protocol)
    factory.noisy = False
    return factory


def _cause(failure: Any) -> str:
    reasons = getattr(failure.value, "reasons", None)  # ResponseFailed and friends wrap their causes
    if reasons:
        return "; ".join(describe_failure(r) for r in reasons)
    return describe_failure(failure)


def take_over(request: Any, protocol: Protocol) -> None:
    """Take the request's connection from Twisted Web and give it to ``protocol``
    (what autobahn's ``WebSocketResource`` does for a WebSocket path)."""
    transport, request.channel.transport = request.channel.transport, None
    if isinstance(transport, ProtocolWrapper):
        transport.wrappedProtocol = protocol
    elif isinstance(getattr(transport, "protocol", None), ProtocolWrapper):
        transport.protocol.wrappedProtocol = protocol
    else:
        transport.protocol = protocol
    protocol.makeConnection(transport)
    network = getattr(transport, "_networkProducer", None)
    (network or transport).resumeProducing()


def reverse_proxy_resource(config: ReverseProxyPath, reactor: Any) -> ReverseProxyResource:
    return ReverseProxyResource(config, reactor)


__all__: Tuple[str, ...] = ("reverse_proxy_resource", "ReverseProxyResource", "forwarded_headers", "take_over")
