"""A proxy worker's session to the router: one connection per frontend session (as Crossbar.io).

:class:`BackendLink` connects over a proxy connection (RawSocket or WebSocket, Unix or
TCP), says HELLO with ``anonymous-proxy`` or ``cryptosign-proxy`` and the identity it
speaks for in ``authextra`` (Crossbar.io's keys, see :mod:`node.router.auth.proxy`),
answers a ``cryptosign-proxy`` CHALLENGE with the node key, and then hands every
message to its owner. It tells its owner exactly one of:

- ``backend_joined(link, welcome)`` then, later, ``backend_closed(link, reason, message)``;
- ``backend_refused(link, reason, message)``: ABORT from the router, connection refused,
  handshake failed, or no WELCOME within ``timeout`` seconds.

Messages arrive parsed (autobahn's client parser) and leave with the connection's serializer:
a frontend speaking JSON and a router speaking CBOR is re-serialization only; request ids are
per session and pass unchanged. While the connection holds more than a buffer's worth unsent,
the client an owner relays is not read (:mod:`node.workers.proxy_flow`).
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from autobahn.twisted.rawsocket import WampRawSocketClientFactory, WampRawSocketClientProtocol
from autobahn.twisted.websocket import WampWebSocketClientFactory, WampWebSocketClientProtocol
from autobahn.wamp.message import Abort, Authenticate, Challenge, Goodbye, Hello, Message, Welcome
from autobahn.wamp.serializer import create_transport_serializer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from twisted.logger import Logger

from node.config.model import ProxyConnection
from node.fastpath.timeouts import round_up_timeouts
from node.workers.container_components import client_endpoint, protocol_options
from node.workers.proxy_flow import register_relayed_reads

log = Logger()

AUTHENTICATION_FAILED = "wamp.error.authentication_failed"
LEAVE_TIMEOUT = 2.0  # seconds the router has to answer our GOODBYE before the connection is dropped


class NodeKey:
    """The proxy's Ed25519 key (``cryptosign-proxy``): signs the router's challenge."""

    def __init__(self, seed_hex: str, public_hex: str) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
        self.public_hex = public_hex

    def sign(self, challenge_hex: str) -> str:
        """autobahn's answer: the 64-byte signature followed by the challenge, in hex."""
        challenge = bytes.fromhex(challenge_hex)
        return (self._key.sign(challenge) + challenge).hex()


class BackendLink:
    """One WAMP session from the proxy to the router (autobahn's ``ITransportHandler``).

    @param owner: told of the outcome and given every message (see the module doc).
    @param identity: ``proxy_realm``, ``proxy_authid``, ``proxy_authrole``, ... (Crossbar.io's keys).
    @param roles: the roles announced in HELLO (the client's, so the router offers it what it asked for).
    """

    def __init__(self, owner: Any, connection: ProxyConnection, realm: str, roles: Dict[str, Any],
                 identity: Dict[str, Any], key: Optional[NodeKey], authid: Optional[str], reactor: Any,
                 timeout: float) -> None:
        self.owner = owner
        self.connection = connection
        self.realm = realm
        self.roles = roles
        self.identity = identity
        self.key = key
        self.authid = authid
        self.reactor = reactor
        self.state = "connecting"  # -> hello -> joined -> leaving -> closed
        self.transport: Any = None
        self.session_id: Optional[int] = None
        # autobahn's WebSocket transport reads these of its session (for its trace log lines)
        self._authid = authid
        self._session_id: Optional[int] = None
        self._timer: Any = reactor.callLater(timeout, self._timed_out, timeout)
        self._pending: Any = None  # the connect Deferred, until the connection is made
        self._reads: Any = None  # pauses reading the client while this connection is full (proxy_flow)

    # --- connecting -------------------------------------------------------------------------

    def connect(self) -> None:
        transport = self.connection.transport
        try:
            endpoint = client_endpoint(self.reactor, transport.endpoint)  # TLS files are read here
            pending = endpoint.connect(_factory(self, transport))
        except Exception as e:  # a TLS file gone since `wampnode check`: this session is refused, not the proxy
            self.reactor.callLater(0, self._refused, AUTHENTICATION_FAILED,
                                   f"proxy: cannot connect over connection '{self.connection.name}': {e}")
            return
        self._pending = pending
        self._pending.addCallbacks(self._connected, self._connect_failed)

    def _connected(self, protocol: Any) -> None:
        self._pending = None
        if self.state == "closed":  # given up (timeout, frontend gone) while connecting
            _drop(protocol)

    def _connect_failed(self, failure: Any) -> None:
        self._pending = None
        if self.state == "closed":
            return
        target = self.connection.transport.endpoint.describe()
        self._refused(AUTHENTICATION_FAILED, f"proxy: the router is unreachable over connection "
                                             f"'{self.connection.name}' ({target}): {failure.getErrorMessage()}")

    def _timed_out(self, timeout: float) -> None:
        self._timer = None
        if self.state in ("connecting", "hello"):
            self._refused(AUTHENTICATION_FAILED, f"proxy: the router did not welcome the session within "
                                                 f"{timeout:g} s over connection '{self.connection.name}' "
                                                 f"(options.backend_timeout)")

    # --- ITransportHandler ---------------------------------------------------------------------

    def onOpen(self, transport: Any) -> None:
        self.transport = transport
        if self.state == "closed":
            self._close_transport()
            return
        client = getattr(self.owner, "client_transport", None)  # None: the proxy's own service session
        if client is not None:
            self._reads = register_relayed_reads(transport, client)
        self.state = "hello"
        method = self.connection.auth
        extra = dict(self.identity)
        if method == "cryptosign-proxy" and self.key is not None:
            extra["pubkey"] = self.key.public_hex
        transport.send(Hello(self.realm, self.roles, authmethods=[method], authid=self.authid, authextra=extra))

    def onMessage(self, msg: Message) -> None:
        try:
            self._on_message(msg)
        except Exception:  # never let one session's fault reach the reactor
            log.failure("proxy: error handling {message} from the router", message=type(msg).__name__)
            self.close()

    def _on_message(self, msg: Message) -> None:
        state = self.state
        if state == "joined":
            if isinstance(msg, Goodbye):
                self.state = "closed"
                self._send(Goodbye("wamp.close.goodbye_and_out"))
                self._close_transport()
                self.owner.backend_closed(self, msg.reason, msg.message)
            elif isinstance(msg, Abort):
                self.state = "closed"
                self._close_transport()
                self.owner.backend_closed(self, msg.reason, msg.message)
            else:
                self.owner.backend_message(self, msg)
        elif state == "hello":
            if isinstance(msg, Welcome):
                self._stop_timer()
                self.state = "joined"
                self.session_id = self._session_id = msg.session
                self.owner.backend_joined(self, msg)
            elif isinstance(msg, Challenge) and msg.method == "cryptosign-proxy" and self.key is not None:
                self._send(Authenticate(self.key.sign(str(msg.extra.get("challenge", ""))), {}))
            elif isinstance(msg, Abort):
                self._refused(msg.reason, msg.message or "the router refused the session")
            else:
                self._refused(AUTHENTICATION_FAILED, f"proxy: the router sent {type(msg).__name__.upper()} "
                                                     f"before WELCOME")
        elif state == "leaving" and isinstance(msg, (Goodbye, Abort)):
            self.state = "closed"
            self._close_transport()

    def onClose(self, wasClean: bool) -> None:
        self.transport = None
        self.lost()

    def lost(self) -> None:
        """The connection is gone (also before its WAMP handshake completed)."""
        state, self.state = self.state, "closed"
        self._stop_timer()
        if state in ("connecting", "hello"):
            self.owner.backend_refused(self, AUTHENTICATION_FAILED,
                                       f"proxy: the router closed connection '{self.connection.name}' before "
                                       f"welcoming the session")
        elif state == "joined":
            self.owner.backend_closed(self, "wamp.close.transport_lost", "the proxy lost its connection to the router")

    # --- from the owner ------------------------------------------------------------------------

    def send(self, msg: Message) -> None:
        """Relay a message to the router (joined only; dropped otherwise)."""
        if self.state == "joined":
            self._send(msg)
            if self._reads is not None:
                self._reads.hold()

    def leave(self, reason: str = "wamp.close.normal", message: Optional[str] = None) -> None:
        """GOODBYE to the router; the connection closes at its answer (or after a grace period)."""
        if self.state != "joined":
            self.close()
            return
        self.state = "leaving"
        self._send(Goodbye(reason, message))
        self.reactor.callLater(LEAVE_TIMEOUT, self._leave_expired)

    def close(self) -> None:
        """Drop the session and its connection, telling the owner nothing more."""
        self.state = "closed"
        self._stop_timer()
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.cancel()
        self._close_transport()

    # --- internals -----------------------------------------------------------------------------

    def _leave_expired(self) -> None:
        if self.state == "leaving":
            self.state = "closed"
            self._close_transport()

    def _refused(self, reason: str, message: str) -> None:
        if self.state == "closed":
            return
        self.close()
        self.owner.backend_refused(self, reason, message)

    def _send(self, msg: Message) -> None:
        transport = self.transport
        if transport is None:
            return
        try:
            transport.send(msg)
        except Exception as e:  # too large for the router, or a value its serializer cannot carry
            log.warn("proxy: cannot relay {message} to the router: {error}", message=type(msg).__name__,
                     error=str(e))
            if self.state == "joined":
                self.state = "closed"
                self._close_transport()
                self.owner.backend_closed(self, "wamp.error.protocol_violation",
                                          f"the proxy could not relay {type(msg).__name__.upper()}: {e}")

    def _close_transport(self) -> None:
        transport, self.transport = self.transport, None
        if transport is not None:
            try:
                transport.close()
            except Exception:  # already closing
                pass

    def _stop_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()


class _RawSocketProtocol(WampRawSocketClientProtocol):
    def connectionLost(self, reason: Any) -> None:  # noqa: N802 (Twisted's name)
        had_session = self._session is not None
        super().connectionLost(reason)
        if not had_session:  # the handshake never completed: autobahn tells no session
            self.factory.link.lost()


class _WebSocketProtocol(WampWebSocketClientProtocol):
    def connectionLost(self, reason: Any) -> None:  # noqa: N802
        had_session = getattr(self, "_session", None) is not None
        super().connectionLost(reason)
        if not had_session:
            self.factory.link.lost()


def _factory(link: BackendLink, transport: Any) -> Any:
    """autobahn's client factory for the connection, carrying ``link`` as its one session."""
    options = protocol_options(transport)
    if transport.type == "websocket":
        serializers = [create_transport_serializer(name) for name in transport.serializers]
        factory: Any = round_up_timeouts(WampWebSocketClientFactory(lambda: link, url=transport.url,
                                                                    serializers=serializers))
        factory.protocol = _WebSocketProtocol
    else:
        factory = WampRawSocketClientFactory(lambda: link, serializer=create_transport_serializer(
            transport.serializers[0]))
        factory.protocol = _RawSocketProtocol
    for name, value in options.items():
        try:
            factory.setProtocolOptions(**{name: value})
        except (TypeError, KeyError):  # an option this transport type does not take
            pass
    factory.noisy = False
    factory.link = link
    return factory


def _drop(protocol: Any) -> None:
    transport = getattr(protocol, "transport", None)
    if transport is not None:
        transport.loseConnection()

