"""Outgoing stream connections: plain, or TLS that is verified before anyone uses it.

:class:`TrustedTLSEndpoint` is an ``IStreamClientEndpoint`` whose ``connect``
fires only after a handshake that :class:`~node.trust.policy.ClientTrust`
accepted; the application protocol is built then, so no byte of it ever goes
to an unverified server. On a trust failure it either retries once with the CA
JIT trust found (libwebsockets' flow: fail, look the issuer up by AKID, retry
trusting only that CA, cache host -> CA) or fails with a
:class:`~node.errors.ConnectError` carrying the diagnosis line.

Every failure of :func:`connect_stream` is a ``ConnectError`` naming the peer.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence

from cryptography import x509
from twisted.internet import defer, error
from twisted.internet.interfaces import IHandshakeListener, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from node.errors import ConnectError, NodeError
from node.trust.handover import HandoverProtocol
from node.tls.certinfo import hex_id, name_text, subject_key_id
from node.trust.policy import Attempt, ClientTrust

log = Logger()


class HandshakeRejected(Exception):
    """Internal: our verification refused the server; ``attempt`` says why."""

    def __init__(self, attempt: Attempt) -> None:
        super().__init__(attempt.address)
        self.attempt = attempt


@implementer(IHandshakeListener)
class _HandshakeGate(HandoverProtocol):
    """Sits under TLS until the handshake completes, then connects the real protocol."""

    def __init__(self, factory: Factory, addr: Any, done: defer.Deferred, creator: Any) -> None:
        self.inner_factory = factory
        self.addr = addr
        self.done = done
        self.creator = creator

    def handshakeCompleted(self) -> None:  # noqa: N802 (Twisted API)
        if self.done.called:
            return
        self.done.callback(self.hand_over(self.inner_factory, self.addr))

    def lost_before_handover(self, reason: Failure) -> None:
        if self.done.called:
            return
        attempt = self.creator.attempt
        if attempt is not None and attempt.rejected:
            self.done.errback(HandshakeRejected(attempt))
        else:
            self.done.errback(ConnectError(f"TLS to {self.creator.address}",
                                           f"handshake failed: {describe_failure(reason)}",
                                           "Check that the server speaks TLS on that port"))


class _GateFactory(Factory):
    noisy = False

    def __init__(self, factory: Factory, done: defer.Deferred, creator: Any) -> None:
        self.factory = factory
        self.done = done
        self.creator = creator
        self.gate: Optional[_HandshakeGate] = None

    def buildProtocol(self, addr: Any) -> _HandshakeGate:  # noqa: N802
        self.gate = _HandshakeGate(self.factory, addr, self.done, self.creator)
        return self.gate


def describe_failure(reason: Any) -> str:
    """A short cause for a connection failure (``Connection refused``, a TLS alert)."""
    value = getattr(reason, "value", reason)
    if isinstance(value, error.ConnectionRefusedError):
        return "connection refused"
    if isinstance(value, (error.TimeoutError, defer.TimeoutError)):
        return "timed out"
    if isinstance(value, error.DNSLookupError):
        return "host name not found"
    if isinstance(value, error.ConnectionDone):
        return "connection closed by the peer"
    text = getattr(value, "osError", None) or value
    errors = getattr(value, "args", None)
    if errors and isinstance(errors[0], list) and errors[0] and isinstance(errors[0][0], tuple):
        return "; ".join(e[-1] for e in errors[0] if e[-1]) or value.__class__.__name__
    return str(text).strip().rstrip(".") or value.__class__.__name__


@implementer(IStreamClientEndpoint)
class TrustedTLSEndpoint:
    """TLS over the stream ``make_endpoint()`` opens, verified by ``trust``."""

    def __init__(self, make_endpoint: Callable[[], Any], trust: ClientTrust, address: str, hostname: str) -> None:
        self.make_endpoint = make_endpoint
        self.trust = trust
        self.address = address
        self.hostname = hostname

    @defer.inlineCallbacks
    def connect(self, protocolFactory: Factory) -> Any:  # noqa: N803 (interface name)
        cached = self.trust.cached_cas(self.hostname)
        try:
            protocol = yield self._attempt(protocolFactory, cached or ())
            if cached:
                log.debug("JIT trust: {host} verified with its cached CA", host=self.hostname)
            return protocol
        except HandshakeRejected as rejected:
            evidence = rejected.attempt.evidence()
            if cached:
                self.trust.forget(self.hostname)
            cas = self.trust.cas_for(evidence)
            if not cas or (cached and _same(cas, cached)):
                raise self.trust.diagnose(evidence)
        log.info("JIT trust: {address} needs {cas}; retrying trusting only that", address=self.address,
                 cas=", ".join(f"CA '{name_text(c.subject)}' (SKID {hex_id(subject_key_id(c))})" for c in cas))
        try:
            protocol = yield self._attempt(protocolFactory, cas)
        except HandshakeRejected as rejected:
            raise self.trust.diagnose(rejected.attempt.evidence())
        self.trust.remember(self.hostname, cas)
        return protocol

    def _attempt(self, factory: Factory, cas: Sequence[x509.Certificate]) -> defer.Deferred:
        from twisted.internet.endpoints import wrapClientTLS

        creator = self.trust.creator(self.address, self.hostname, cas)
        gates: List[_GateFactory] = []

        def cancel(_: defer.Deferred) -> None:
            gate = gates[0].gate if gates else None
            if gate is not None and gate.transport is not None:
                gate.transport.abortConnection()
            connecting.cancel()

        done: defer.Deferred = defer.Deferred(canceller=cancel)
        gates.append(_GateFactory(factory, done, creator))
        connecting = wrapClientTLS(creator, self.make_endpoint()).connect(gates[0])

        def not_connected(failure: Failure) -> None:
            if not done.called:
                done.errback(failure)

        connecting.addErrback(not_connected)
        return done


@implementer(IStreamClientEndpoint)
class NoDelayEndpoint:
    """TCP_NODELAY as soon as the connection is up, before TLS or a proxy handshake.

    Bridged streams are often interactive (ssh keystrokes): a small write must
    not wait under Nagle's algorithm for the ACK of the previous one (up to the
    peer's 40 ms delayed ACK on Linux; measured with a test echo server).
    """

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint

    def connect(self, protocolFactory: Factory) -> defer.Deferred:  # noqa: N803 (interface name)
        def connected(protocol: Any) -> Any:
            transport = getattr(protocol, "transport", None)
            if transport is not None and hasattr(transport, "setTcpNoDelay"):
                transport.setTcpNoDelay(True)
            return protocol

        return self.endpoint.connect(protocolFactory).addCallback(connected)


def _same(a: Sequence[x509.Certificate], b: Sequence[x509.Certificate]) -> bool:
    return [subject_key_id(c) for c in a] == [subject_key_id(c) for c in b]


def connect_stream(reactor: Any, endpoint: Any, factory: Factory, timeout: float, where: str) -> defer.Deferred:
    """``endpoint.connect(factory)`` within ``timeout`` seconds; failures become ConnectError.

    Cancelling the returned Deferred fails it with ``CancelledError`` as is: the
    canceller knows why (the timeout's own cancel arrives as a ``TimeoutError``).
    """
    d = endpoint.connect(factory)
    d.addTimeout(timeout, reactor)

    def failed(failure: Failure) -> Failure:
        if isinstance(failure.value, NodeError) or failure.check(defer.CancelledError):
            return failure
        if failure.check(defer.TimeoutError, error.TimeoutError):
            return Failure(ConnectError(where, f"no connection within {timeout:g} s",
                                        "Check that the service runs and is reachable, or raise the timeout"))
        return Failure(ConnectError(where, f"cannot connect: {describe_failure(failure)}",
                                    "Check that the service runs and the address is right"))

    return d.addErrback(failed)
