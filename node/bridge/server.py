"""The ``tcpbridge`` web path: each WebSocket connection carries one target connection.

RFC 6455 only (autobahn's ``versions=[13]``; the hixie and hybi drafts are
refused). The WebSocket opens first, then the target is dialled; until it
answers, at most one message's worth (``max_message_size``) is read from the
client and held. Reading on is what lets the node see a client that leaves
meanwhile (a close frame or a FIN is only seen by reading): the dial is then
cancelled. A target that cannot be reached (or whose TLS certificate is
refused) closes the WebSocket with 1011 and a reason; the log carries the full
one-line cause (for TLS, the trust diagnosis). Messages to the client are at
most ``send_message_size`` octets (default 1500, see :mod:`node.bridge.framing`),
whatever ``max_message_size`` (the receive limit) is.
"""
from __future__ import annotations

from typing import Any, Optional, Set

from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from twisted.internet import defer, task
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from node.bridge.relay import CLOSE_GOING_AWAY, CLOSE_INTERNAL_ERROR, StreamEnd, StreamOverWebSocket
from node.config.model import BridgeTarget, TcpBridgePath
from node.errors import ConfigErrors, NodeError
from node.fastpath.timeouts import round_up_timeouts
from node.trust import ClientTrust
from node.trust.connect import NoDelayEndpoint, TrustedTLSEndpoint, connect_stream

log = Logger()


class BridgeServerProtocol(StreamOverWebSocket, WebSocketServerProtocol):
    """One bridged connection: WebSocket client <-> target."""
    _connecting: Any = None
    _dial_cancelled = False  # onClose cancelled the dial: whatever error that gives, the client left first

    def onConnect(self, request: Any) -> Optional[str]:  # noqa: N802 (autobahn API)
        """Answer ``base64`` (exactly) when offered; ``binary`` for websockify-style clients."""
        if "base64" in request.protocols:
            self.use_base64 = True
            return "base64"
        if "binary" in request.protocols:
            return "binary"
        return None

    def onOpen(self) -> None:  # noqa: N802
        factory: BridgeFactory = self.factory
        self.max_message_size = factory.config.max_message_size
        self.send_message_size = factory.config.send_message_size
        factory.connections.add(self)
        end = StreamEnd(self)
        self._connecting = factory.connect_target(end)
        self._connecting.addCallbacks(self._target_up, self._target_failed)

    def describe(self) -> str:
        return f"Bridge {self.peer}"

    def _to_stream(self, data: bytes) -> None:
        super()._to_stream(data)
        if self._connecting is not None and self.octets_in >= self.max_message_size:
            self.transport.pauseProducing()  # enough held for the target; stream_connected resumes

    def _target_up(self, protocol: Any) -> None:
        self._connecting = None
        if self.state != self.STATE_OPEN:
            protocol.transport.loseConnection()
            return
        self.stream_connected(protocol)
        log.info("Bridge {peer} -> {target} open{mode}", peer=self.peer, target=self.factory.config.target.describe(),
                 mode=" (base64)" if self.use_base64 else "")

    def _target_failed(self, failure: Failure) -> None:
        self._connecting = None
        target = self.factory.config.target.describe()
        # Cancelling can surface as another error (Twisted's HostnameEndpoint gives ConnectingCancelledError
        # during the TCP connect, DNSLookupError during resolution), hence the flag.
        if self._dial_cancelled or failure.check(defer.CancelledError):  # onClose: the client left first
            log.info("Bridge {peer} -> {target}: the client went away while the target was being connected; "
                     "connection attempt cancelled", peer=self.peer, target=target)
            return
        if failure.check(NodeError):
            cause = failure.value.line()
        else:
            cause = failure.getErrorMessage()
        log.warn("Bridge {peer} -> {target}: {cause}", peer=self.peer, target=target, cause=cause)
        problem = failure.value.problem if failure.check(NodeError) else cause
        self.fail_stream(CLOSE_INTERNAL_ERROR, f"target {target} unreachable: {problem}", warn=False)

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:  # noqa: N802,N803
        if self._connecting is not None:
            connecting, self._connecting = self._connecting, None
            self._dial_cancelled = True
            connecting.cancel()
        if self in self.factory.connections:
            self.factory.connections.discard(self)
            log.info("Bridge {peer} closed ({code}): {into} octets to the target, {out} from it",
                     peer=self.peer, code=code, into=self.octets_in, out=self.octets_out)
        super().onClose(wasClean, code, reason)


def one_protocol(protocol: Any) -> Factory:
    """A quiet factory whose one connection uses ``protocol``."""
    factory = Factory.forProtocol(lambda: protocol)
    factory.noisy = False
    return factory


def target_endpoint(reactor: Any, target: BridgeTarget, trust: Any, timeout: float) -> Any:
    """The client endpoint of ``target``: Unix, TCP, or TLS over TCP verified by ``trust``."""
    if target.type == "unix":
        return UNIXClientEndpoint(reactor, target.socket_path, timeout=timeout)

    def tcp() -> Any:
        return NoDelayEndpoint(HostnameEndpoint(reactor, target.host, target.port, timeout=timeout))

    if target.tls is None:
        return tcp()

    return TrustedTLSEndpoint(tcp, trust, f"{target.host}:{target.port}", target.tls.hostname or target.host)


class BridgeFactory(WebSocketServerFactory):
    """Builds :class:`BridgeServerProtocol`; one per ``tcpbridge`` path (one JIT cache)."""
    protocol = BridgeServerProtocol

    def __init__(self, config: TcpBridgePath, reactor: Any) -> None:
        super().__init__(server="wampnode")
        self.config = config
        self.reactor = reactor
        round_up_timeouts(self)
        self.noisy = False
        self.trust = None
        if config.target.tls is not None:

            self.trust = ClientTrust(config.target.tls.trust)
            problems = self.trust.check()  # its CA files, read now: a fault stops start-up
            if problems:
                raise ConfigErrors(problems)
        self.connections: Set[BridgeServerProtocol] = set()
        self.setProtocolOptions(
            versions=[13],  # RFC 6455 only
            maxMessagePayloadSize=config.max_message_size,  # -> 1009 before the payload is read
            maxFramePayloadSize=config.max_message_size,
            autoFragmentSize=0,  # every message sent is one frame
            requireMaskedClientFrames=True,  # RFC 6455 section 5.1 -> 1002
            failByDrop=False,  # violations (1002, 1009) get a close frame with the code, not a bare drop
            allowedOrigins=list(config.allowed_origins),
            utf8validateIncoming=False,  # text is base64 here, checked more strictly
            perMessageCompressionAccept=lambda offers: None,  # raw bytes: no deflate
        )
        reactor.addSystemEventTrigger("before", "shutdown", self.close_all)

    def connect_target(self, end: StreamEnd) -> Any:
        endpoint = target_endpoint(self.reactor, self.config.target, self.trust, self.config.connect_timeout)
        return connect_stream(self.reactor, endpoint, one_protocol(end), self.config.connect_timeout,
                              self.config.target.describe())

    def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "node shutting down",
                  grace: float = 1.0) -> Any:
        """Close every bridge (1001); the Deferred fires when they are gone, at most ``grace`` s later."""
        for connection in list(self.connections):
            connection.fail_stream(code, reason, warn=False)
        if not self.connections:
            return None
        deadline = self.reactor.seconds() + grace

        @defer.inlineCallbacks
        def wait() -> Any:
            while self.connections and self.reactor.seconds() < deadline:
                yield task.deferLater(self.reactor, 0.05, lambda: None)

        return wait()


def bridge_factory(config: TcpBridgePath, reactor: Any = None) -> BridgeFactory:
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    return BridgeFactory(config, reactor)
