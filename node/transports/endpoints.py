"""One endpoint config object -> one Twisted ``IStreamServerEndpoint``.

TCP (IPv4 or IPv6, optionally SO_REUSEPORT), Unix sockets, and TLS on top of
either: TLS wraps the factory (``TLSMemoryBIOFactory``) rather than choosing
between ``SSL4ServerEndpoint`` and friends, so every combination works the same way,
including TLS on IPv6 (which Crossbar.io cannot do).
"""
from __future__ import annotations

import errno
import os
import socket
import stat
from typing import Any, Optional

from twisted.internet import defer, error
from twisted.internet.interfaces import IStreamServerEndpoint
from zope.interface import implementer

from node.config.model import Endpoint, UnixEndpoint
from node.errors import ListenError
from node.tls.handshakes import HandshakeCounts
from node.fastpath.write_coalescing import TCPPort, UNIXPort
from node.transports.counts import TransportCounts


@implementer(IStreamServerEndpoint)
class TLSServerEndpoint:
    """Any stream endpoint, with TLS in front of the protocol factory."""

    def __init__(self, wrapped: Any, creator: Any, counts: Optional[TransportCounts] = None) -> None:
        self.wrapped = wrapped
        self.creator = creator
        self.handshakes = counts.tls if counts is not None and counts.tls is not None else HandshakeCounts()

    def listen(self, protocolFactory: Any) -> defer.Deferred:  # noqa: N803 (interface name)
        # start-up: twisted.protocols.tls loads pyOpenSSL (~30 ms), which a node without TLS never needs
        from node.tls.handshake_protocol import CountingTLSFactory

        return self.wrapped.listen(CountingTLSFactory(self.creator, protocolFactory, self.handshakes))


@implementer(IStreamServerEndpoint)
class TCPServerEndpoint:
    """TCP over IPv4 or IPv6 (by the interface address), with end-of-turn writes.

    Twisted's ``TCP4ServerEndpoint`` does the same through ``listenTCP``, which
    cannot be given the port class whose connections flush at the end of the turn.
    """

    def __init__(self, reactor: Any, port: int, interface: str, backlog: int,
                 counts: Optional[TransportCounts] = None) -> None:
        self.reactor = reactor
        self.port = port
        self.interface = interface
        self.backlog = backlog
        self.counts = counts

    def listen(self, protocolFactory: Any) -> defer.Deferred:  # noqa: N803
        port = TCPPort(self.port, protocolFactory, self.backlog, self.interface, self.reactor)
        port.counts = self.counts  # its connections count their bytes there
        return defer.execute(_started, port)


@implementer(IStreamServerEndpoint)
class UNIXServerEndpoint:
    """A Unix socket (mode 0660), with end-of-turn writes like :class:`TCPServerEndpoint`."""

    def __init__(self, reactor: Any, path: str, backlog: int, counts: Optional[TransportCounts] = None) -> None:
        self.reactor = reactor
        self.path = path
        self.backlog = backlog
        self.counts = counts

    def listen(self, protocolFactory: Any) -> defer.Deferred:  # noqa: N803
        port = UNIXPort(self.path, protocolFactory, self.backlog, 0o660, self.reactor)
        port.counts = self.counts
        return defer.execute(_started, port)


def _started(port: Any) -> Any:
    port.startListening()
    return port


@implementer(IStreamServerEndpoint)
class SharedTCPServerEndpoint:
    """TCP with SO_REUSEPORT, so that several processes can listen on one port.

    Twisted's TCP endpoints cannot set socket options before ``bind``; this one
    binds its own socket and adopts it, as ``reactor.adoptStreamPort`` would.
    """

    def __init__(self, reactor: Any, port: int, interface: str, version: int, backlog: int,
                 counts: Optional[TransportCounts] = None) -> None:
        self.counts = counts
        self.reactor = reactor
        self.port = port
        self.interface = interface
        self.family = socket.AF_INET6 if version == 6 else socket.AF_INET
        self.backlog = backlog

    def listen(self, protocolFactory: Any) -> defer.Deferred:  # noqa: N803
        sock = socket.socket(self.family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((self.interface, self.port))
            sock.listen(self.backlog)
            sock.setblocking(False)
            port = TCPPort._fromListeningDescriptor(self.reactor, sock.fileno(), self.family, protocolFactory)
            port.counts = self.counts
            port.startListening()
            return defer.succeed(port)
        except OSError as e:
            return defer.fail(error.CannotListenError(self.interface, self.port, e))
        finally:
            sock.close()  # adoptStreamPort keeps its own duplicate


def _remove_stale_socket(path: str) -> None:
    """A socket file left by a crashed node blocks ``bind``; remove it if nobody answers."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return
    except FileNotFoundError:
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError as e:
        if e.errno in (errno.ECONNREFUSED, errno.ENOENT):
            os.unlink(path)
    finally:
        probe.close()


def server_endpoint(reactor: Any, config: Endpoint, tls_creator: Optional[Any] = None,
                    counts: Optional[TransportCounts] = None) -> Any:
    """The endpoint for ``config``; ``tls_creator`` (from :mod:`node.tls.context`) when it has TLS;
    its connections count bytes and TLS handshakes on ``counts``."""
    if isinstance(config, UnixEndpoint):
        _remove_stale_socket(config.socket_path)
        endpoint: Any = UNIXServerEndpoint(reactor, config.socket_path, config.backlog, counts)
    else:
        interface = config.interface or ("::" if config.version == 6 else "")
        if config.shared:
            endpoint = SharedTCPServerEndpoint(reactor, config.port, interface, config.version, config.backlog,
                                               counts)
        else:
            endpoint = TCPServerEndpoint(reactor, config.port, interface, config.backlog, counts)
    if tls_creator is not None:
        endpoint = TLSServerEndpoint(endpoint, tls_creator, counts)
    return endpoint


def listen_error(config: Endpoint, failure_value: BaseException) -> ListenError:
    """A one-line explanation of why ``config`` could not listen, with the fix."""
    cause = getattr(failure_value, "socketError", None) or failure_value
    code = getattr(cause, "errno", None)
    if code == errno.EADDRINUSE:
        problem, fix = "address already in use", "Stop the program using it, or choose another port"
    elif code == errno.EACCES:
        problem, fix = "permission denied", ("Ports below 1024 need root or CAP_NET_BIND_SERVICE; "
                                             "use a port >= 1024 or grant the capability")
    elif code == errno.EADDRNOTAVAIL:
        problem, fix = "address not available on this machine", "Use an interface address this machine has"
    else:
        problem, fix = (getattr(cause, "strerror", None) or str(cause)), "Check the endpoint settings"
    return ListenError(config.path, f"cannot listen on {config.describe()}: {problem}", fix)
