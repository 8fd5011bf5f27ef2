"""Fetch an ``archive`` path's ZIP file from its ``origin`` once, at start-up.

Crossbar.io downloads a missing archive with ``download: true`` before the service
starts. wampnode does the same through the path's outgoing ``trust`` block
(:mod:`node.trust`: system store, ``cafile``, pins, JIT trust), follows redirects
(GitHub's archive URLs redirect), and bounds the fetch by ``max_download_size`` and
``download_timeout``. The body goes to a temporary file beside the archive, which
becomes the archive (``os.replace``) only once it is complete, a ZIP file, and
matches ``hashes`` when they are given: a failed or bad download leaves nothing
behind, and the node does not start (one line saying why).
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Optional
from urllib.parse import urlsplit

from twisted.internet import defer
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from node.bridge.server import target_endpoint
from node.config.checks_webapps import archive_problem
from node.config.model import ArchivePath, BridgeTarget, ClientTlsOptions
from node.errors import ConfigErrors, NodeError
from node.trust import ClientTrust
from node.trust.connect import connect_stream, describe_failure

log = Logger()

CONNECT_TIMEOUT = 10.0  # seconds per connection (the whole fetch has download_timeout)
MAX_REDIRECTS = 5


class DownloadFailed(NodeError):
    """The archive could not be fetched; ``where`` is the path's ``origin`` key."""


@implementer(IAgentEndpointFactory)
class _Endpoints:
    """Where the Agent connects for a URL: TCP, or TLS verified by the path's trust."""

    def __init__(self, config: ArchivePath, reactor: Any, trust: ClientTrust) -> None:
        self.config = config
        self.reactor = reactor
        self.trust = trust

    def endpointForURI(self, uri: Any) -> Any:  # noqa: N802 (Twisted API)
        host = uri.host.decode("idna")
        tls = ClientTlsOptions(hostname=None, trust=self.config.trust, path=f"{self.config.path}.trust") \
            if uri.scheme == b"https" else None
        target = BridgeTarget(type="tcp", host=host, port=uri.port, socket_path=None, tls=tls, path=self.config.path)
        return _Connect(self.reactor, target, self.trust)


class _Connect:
    def __init__(self, reactor: Any, target: BridgeTarget, trust: ClientTrust) -> None:
        self.reactor, self.target, self.trust = reactor, target, trust

    def connect(self, factory: Any) -> defer.Deferred:
        endpoint = target_endpoint(self.reactor, self.target, self.trust, CONNECT_TIMEOUT)
        return connect_stream(self.reactor, endpoint, factory, CONNECT_TIMEOUT, self.target.describe())


class _ToFile(Protocol):
    """Writes the body to ``out``; gives up beyond ``limit`` octets."""

    def __init__(self, out: Any, limit: int, done: defer.Deferred) -> None:
        self.out, self.limit, self.done, self.size = out, limit, done, 0

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted API)
        self.size += len(data)
        if self.size > self.limit:
            self.transport.stopProducing()
            return
        self.out.write(data)

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802 (Twisted API)
        self.done.callback(self.size)


def _fail(config: ArchivePath, problem: str, fix: str = "") -> DownloadFailed:
    return DownloadFailed(f"{config.path}.origin", f"fetching the archive from {config.origin} failed: {problem}", fix)


@defer.inlineCallbacks
def fetch_archive(config: ArchivePath, reactor: Any) -> Any:
    """Download ``config.origin`` to ``config.archive``; fails with a NodeError."""
    # imported here: twisted.web.client (Agent and its TLS: ~20 ms of start-up) is for
    # nodes that download an archive
    from twisted.web import client

    trust = ClientTrust(config.trust)
    problems = trust.check()
    if problems:
        raise ConfigErrors(problems)
    scheme = urlsplit(config.origin or "").scheme
    if scheme not in ("http", "https"):
        raise _fail(config, f"{scheme!r} is not http or https")
    agent = client.RedirectAgent(client.Agent.usingEndpointFactory(reactor, _Endpoints(config, reactor, trust)),
                                 redirectLimit=MAX_REDIRECTS)
    partial = f"{config.archive}.download"
    log.info("Archive {path}: fetching {origin}", path=config.path, origin=config.origin)
    out: Optional[Any] = None
    try:
        os.makedirs(os.path.dirname(config.archive), exist_ok=True)
        request = agent.request(b"GET", config.origin.encode("ascii"), client.Headers({b"User-Agent": [b"wampnode"]}))
        request.addTimeout(config.download_timeout, reactor)
        response = yield request
        if response.code != 200:
            raise _fail(config, f"HTTP {response.code} {response.phrase.decode('latin-1', 'replace')}",
                        "Check the URL")
        if response.length not in (client.UNKNOWN_LENGTH, None) and response.length > config.max_download_size:
            raise _fail(config, f"it has {response.length} octets, over max_download_size "
                                f"({config.max_download_size})", "Raise max_download_size")
        out = open(partial, "wb")
        done: defer.Deferred = defer.Deferred()
        response.deliverBody(_ToFile(out, config.max_download_size, done))
        done.addTimeout(config.download_timeout, reactor)
        size = yield done
        out.close()
        if size > config.max_download_size:
            raise _fail(config, f"it has over {config.max_download_size} octets (max_download_size)",
                        "Raise max_download_size")
        problem, fix = archive_problem(_at(config, partial))
        if problem:
            raise _fail(config, problem.replace(partial, "the file fetched"), fix)
        os.replace(partial, config.archive)
    except (DownloadFailed, ConfigErrors):
        raise
    except NodeError as e:  # the connection: no route, refused, TLS not trusted
        raise _fail(config, f"{e.where}: {e.problem}" if e.where else e.problem,
                    e.fix or "Check that the origin is reachable") from None
    except defer.TimeoutError:
        raise _fail(config, f"not done within {config.download_timeout:g} s", "Raise download_timeout") from None
    except Exception as e:
        reason = getattr(e, "reasons", None)
        text = describe_failure(reason[0]) if reason else f"{type(e).__name__}: {e}"
        raise _fail(config, text, "Check that the origin is reachable") from None
    finally:
        if out is not None and not out.closed:
            out.close()
        if os.path.exists(partial):
            os.unlink(partial)
    log.info("Archive {path}: {archive} fetched ({size} octets)", path=config.path, archive=config.archive,
             size=os.path.getsize(config.archive))


def _at(config: ArchivePath, filename: str) -> ArchivePath:
    return replace(config, archive=filename, download=False)
