"""HTTP proxies for outgoing connections: which one (environment), and CONNECT through it.

``proxy_for`` follows the conventions of curl and most tools: ``https_proxy`` /
``HTTPS_PROXY`` for wss (``http_proxy`` / ``HTTP_PROXY`` for ws), skipped for
hosts matched by ``no_proxy`` / ``NO_PROXY`` (``*``, host names with their
subdomains, ``.domain``, ``host:port``, IP addresses and CIDR blocks).

:class:`HTTPConnectEndpoint` opens a connection to the proxy, asks for a tunnel
with ``CONNECT host:port`` (RFC 9110 section 9.3.6), with Basic authentication
(RFC 7617) when the proxy URL carries ``user:password@``, and on a 2xx answer
hands the raw tunnel to the real protocol (TLS, then WebSocket). Any other
answer is a :class:`~node.errors.ConnectError` naming the proxy and its status.
"""
from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from typing import Any, Mapping, Optional
from urllib.parse import unquote, urlsplit

from twisted.internet import defer
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.python.failure import Failure
from zope.interface import implementer

from node.errors import ConfigError, ConnectError
from node.trust.connect import describe_failure
from node.trust.handover import HandoverProtocol

MAX_RESPONSE_HEAD = 16384


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    username: Optional[str]
    password: Optional[str]

    def label(self) -> str:
        """``http://host:port`` without credentials, for messages."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def parse_proxy(url: str, where: str = "--proxy") -> Proxy:
    """``http://[user:password@]host[:port]`` -> Proxy.

    @raise ConfigError: another scheme, or no host.
    """
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise ConfigError(where, f"proxy scheme {parts.scheme!r} is not supported",
                          "Use an HTTP proxy URL (http://host:port); the tunnel inside it is still TLS")
    if not parts.hostname:
        raise ConfigError(where, f"no host in proxy URL {url!r}", "Write it as http://host:port")
    try:
        port = parts.port or 80
    except ValueError:
        raise ConfigError(where, f"bad port in proxy URL {url!r}", "Write it as http://host:port") from None
    return Proxy(parts.hostname, port, unquote(parts.username) if parts.username is not None else None,
                 unquote(parts.password) if parts.password is not None else None)


def _env(environ: Mapping[str, str], name: str) -> str:
    return environ.get(name.lower()) or environ.get(name.upper()) or ""


def bypasses(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``no_proxy`` (comma or space separated) exempts ``host:port``."""
    host = host.strip("[]").lower().rstrip(".")
    try:
        address: Optional[Any] = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in no_proxy.replace(",", " ").split():
        entry = entry.strip().lower()
        if entry == "*":
            return True
        if entry.startswith("[") and "]" in entry:  # [::1]:8080
            name, _, rest = entry[1:].partition("]")
            entry_port = rest[1:] if rest.startswith(":") else ""
        elif entry.count(":") == 1:
            name, entry_port = entry.split(":")
        else:
            name, entry_port = entry, ""
        if entry_port and entry_port != str(port):
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        name = name.lstrip("*").lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def proxy_for(secure: bool, host: str, port: int, explicit: Optional[str],
              environ: Mapping[str, str]) -> Optional[Proxy]:
    """The proxy to use for ``host:port``: ``explicit`` (``--proxy``), else the environment."""
    if explicit is not None:
        return parse_proxy(explicit) if explicit else None
    url = _env(environ, "https_proxy" if secure else "http_proxy")
    if not url or bypasses(host, port, _env(environ, "no_proxy")):
        return None
    return parse_proxy(url, "HTTPS_PROXY" if secure else "HTTP_PROXY")


def connect_request(host: str, port: int, proxy: Proxy, user_agent: str) -> bytes:
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", f"User-Agent: {user_agent}"]
    if proxy.username is not None:
        token = base64.b64encode(f"{proxy.username}:{proxy.password or ''}".encode("utf-8")).decode("ascii")
        lines.append(f"Proxy-Authorization: Basic {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


_FIXES = {
    403: "The proxy does not allow CONNECT to this host and port; ask its administrator "
         "(Squid: allow the port in its CONNECT/SSL_ports ACL)",
    407: "The proxy wants credentials: give them in the proxy URL, http://user:password@host:port",
}


class _ConnectProtocol(HandoverProtocol):
    """Asks the proxy for the tunnel, then passes every byte through to the inner protocol."""

    def __init__(self, endpoint: "HTTPConnectEndpoint", factory: Factory, done: defer.Deferred) -> None:
        self.endpoint = endpoint
        self.inner_factory = factory  # not `factory`: Factory.buildProtocol sets that to its own
        self.done = done
        self.head = b""

    def connectionMade(self) -> None:  # noqa: N802 (Twisted API)
        e = self.endpoint
        self.transport.write(connect_request(e.host, e.port, e.proxy, e.user_agent))

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        if self.inner is not None:
            self.inner.dataReceived(data)
            return
        self.head += data
        if b"\r\n\r\n" not in self.head:
            if len(self.head) > MAX_RESPONSE_HEAD:
                self._fail("answered with an oversized response head", "Check the proxy address")
            return
        head, rest = self.head.split(b"\r\n\r\n", 1)
        status_line = head.split(b"\r\n", 1)[0].decode("latin-1").strip()
        parts = status_line.split(None, 2)
        code = int(parts[1]) if len(parts) > 1 and parts[1].isascii() and parts[1].isdigit() else 0
        if not parts or not parts[0].startswith("HTTP/") or not 200 <= code < 300:
            target = f"{self.endpoint.host}:{self.endpoint.port}"
            self._fail(f"refused CONNECT to {target}: {status_line or 'no status line'}",
                       _FIXES.get(code, "Check the proxy address and its access rules"))
            return
        self.done.callback(self.hand_over(self.inner_factory, self.transport.getPeer()))
        if rest:
            self.inner.dataReceived(rest)

    def _fail(self, problem: str, fix: str) -> None:
        if not self.done.called:
            self.done.errback(ConnectError(f"proxy {self.endpoint.proxy.label()}", problem, fix))
        self.transport.loseConnection()

    def lost_before_handover(self, reason: Failure) -> None:
        if not self.done.called:
            self.done.errback(ConnectError(f"proxy {self.endpoint.proxy.label()}",
                                           "closed the connection before answering CONNECT",
                                           "Check that this is an HTTP proxy"))


@implementer(IStreamClientEndpoint)
class HTTPConnectEndpoint:
    """A stream to ``host:port`` through ``proxy``'s CONNECT tunnel."""

    def __init__(self, proxy_endpoint: Any, proxy: Proxy, host: str, port: int, user_agent: str) -> None:
        self.proxy_endpoint = proxy_endpoint
        self.proxy = proxy
        self.host = host
        self.port = port
        self.user_agent = user_agent

    def connect(self, protocolFactory: Factory) -> defer.Deferred:  # noqa: N803 (interface name)
        protocols = []

        def cancel(_: defer.Deferred) -> None:
            if protocols and protocols[0].transport is not None:
                protocols[0].transport.abortConnection()
            connecting.cancel()

        done: defer.Deferred = defer.Deferred(canceller=cancel)

        def build() -> _ConnectProtocol:
            protocols.append(_ConnectProtocol(self, protocolFactory, done))
            return protocols[0]

        factory = Factory.forProtocol(build)
        factory.noisy = False
        connecting = self.proxy_endpoint.connect(factory)

        def not_connected(failure: Failure) -> None:
            if not done.called:
                done.errback(ConnectError(f"proxy {self.proxy.label()}", f"cannot connect: {describe_failure(failure)}",
                                          "Check the proxy address (--proxy or HTTPS_PROXY)"))

        connecting.addErrback(not_connected)
        return done
