"""The router side of one WAMP connection: a small state machine.

States and what each accepts (anything else is a protocol violation: ABORT
``wamp.error.protocol_violation`` with a message saying what was wrong, then close):

============== ===================================================================
``closed``     before ``onOpen`` / after ``onClose``: nothing
``hello``      waiting for HELLO
``auth``       HELLO answered with CHALLENGE (or a dynamic authenticator is
               deciding): AUTHENTICATE, ABORT
``joined``     WELCOME sent: routing messages go to the realm; GOODBYE, ABORT
``leaving``    the router sent GOODBYE (session killed): waits for GOODBYE
============== ===================================================================

The session implements autobahn's ``ITransportHandler`` (``onOpen``,
``onMessage``, ``onClose``) and is what the realm delivers to (``send``, ``kill``).
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Optional, Tuple

from autobahn.wamp.message import (
    Abort, Authenticate, Challenge as ChallengeMsg, Error, Goodbye, Hello, Message, Welcome,
)
from autobahn.wamp.role import RoleBrokerFeatures, RoleDealerFeatures
from twisted.logger import Logger

from node.config.model import AuthMethod
from node.router.auth import (
    NO_AUTH_METHOD, Accept, Authenticator, Challenge, Deny, HelloContext, choose_method, make_authenticator,
)
from node.router.ids import random_id
from node.router.peer import Peer
from node.wire.roles import compact_roles
from node.wire.messages import InvalidUriRequest

if TYPE_CHECKING:  # pragma: no cover
    from node.router.realm import RealmRouter
    from node.router.router import Router

log = Logger()

PROTOCOL_VIOLATION = "wamp.error.protocol_violation"
NO_SUCH_REALM = "wamp.error.no_such_realm"
NO_SUCH_ROLE = "wamp.error.no_such_role"
GOODBYE_AND_OUT = "wamp.close.goodbye_and_out"
GOODBYE_TIMEOUT = 5.0  # seconds a killed session has to answer our GOODBYE


@functools.lru_cache(maxsize=None)
def router_roles(meta_api: bool) -> dict:
    """The WELCOME ``roles``: exactly the features this router implements
    (made once per flag and shared by every WELCOME: never modify the result)."""
    meta = True if meta_api else None
    broker = RoleBrokerFeatures(
        publisher_identification=True, pattern_based_subscription=True, session_meta_api=meta,
        subscription_meta_api=meta, subscriber_blackwhite_listing=True, publisher_exclusion=True,
        event_history=meta, payload_transparency=True, event_retention=True,
    )
    dealer = RoleDealerFeatures(
        caller_identification=True, pattern_based_registration=True, session_meta_api=meta,
        registration_meta_api=meta, shared_registration=True, call_timeout=True, call_canceling=True,
        progressive_call_results=True, payload_transparency=True, testament_meta_api=meta,
        registration_revocation=True,
    )
    dealer.progressive_call_invocations = True  # WAMP spec 2023+, unknown to autobahn's class
    return {"broker": broker, "dealer": dealer}


class RouterWelcome(Welcome):
    """autobahn's WELCOME, with the router's roles marshalled once per roles object.

    autobahn walks every feature of every role (dozens of ``getattr`` calls) for
    each WELCOME; the roles of :func:`router_roles` never change.
    """

    _marshalled: dict = {}  # id(roles) -> (roles, marshalled roles)

    def marshal(self) -> list:
        roles = self.roles
        self.roles = {}
        try:
            wmsg = super().marshal()
        finally:
            self.roles = roles
        entry = self._marshalled.get(id(roles))
        if entry is None or entry[0] is not roles:
            entry = self._marshalled[id(roles)] = (roles, Welcome(1, roles).marshal()[2]["roles"])
        wmsg[2]["roles"] = entry[1]
        return wmsg


class RouterSession:
    """One connection's WAMP session on the router."""

    def __init__(self, router: "Router", auth: Tuple[AuthMethod, ...]) -> None:
        self._router = router
        self._auth = auth
        self._transport: Any = None
        self.state = "closed"
        self.session_id: Optional[int] = None
        self.realm: Optional["RealmRouter"] = None
        self.peer: Optional[Peer] = None
        self._hello: Optional[Hello] = None
        self._authenticator: Optional[Authenticator] = None

    # --- ITransportHandler ----------------------------------------------------

    def onOpen(self, transport: Any) -> None:
        self._transport = transport
        self.state = "hello"

    def onMessage(self, msg: Message) -> None:
        """Handle one parsed message; never raises (a fault aborts this session only)."""
        try:
            self._dispatch(msg)
        except Exception:
            log.failure("internal error handling {message} from {peer}", message=type(msg).__name__,
                        peer=self._peer_name())
            self._abort(PROTOCOL_VIOLATION, f"internal error handling {type(msg).__name__.upper()}")

    def onClose(self, wasClean: bool) -> None:
        """The connection is gone: drop everything this session had in its realm."""
        self.state = "closed"
        self._leave_realm()
        self._transport = None

    # --- delivery (called by the realm) -----------------------------------------

    def send(self, message: Message) -> None:
        transport = self._transport
        if transport is None:
            return
        try:
            if transport.isOpen():
                transport.send(message)
        except Exception as e:  # a transport that fails to send is a dead peer, not a router fault
            log.warn("cannot send {message} to {peer}: {error}", message=type(message).__name__,
                     peer=self._peer_name(), error=str(e))

    def kill(self, reason: Optional[str], message: Optional[str]) -> None:
        """Close the session from the router side (``wamp.session.kill``)."""
        if self.state != "joined":
            return
        self._leave_realm()
        self.state = "leaving"
        self.send(Goodbye(reason or "wamp.close.killed", message))
        # a peer that never answers the GOODBYE must not keep its connection
        self._router.clock.callLater(GOODBYE_TIMEOUT, self._close_if_leaving)

    def _close_if_leaving(self) -> None:
        if self.state == "leaving":
            self._close()

    # --- state machine ------------------------------------------------------------

    def _dispatch(self, msg: Message) -> None:
        state = self.state
        if state == "joined":
            self._joined(msg)
        elif state == "hello":
            if isinstance(msg, Hello):
                self._on_hello(msg)
            else:
                self._violation(f"{type(msg).__name__.upper()} received before HELLO")
        elif state == "auth":
            if isinstance(msg, Authenticate) and self._authenticator is not None and self._hello is not None:
                authenticator, self._authenticator = self._authenticator, None
                self._then(authenticator.authenticate(msg), self._on_auth_result)
            elif isinstance(msg, Abort):
                self._close()
            else:
                self._violation(f"{type(msg).__name__.upper()} received during authentication")
        elif state == "leaving":
            if isinstance(msg, (Goodbye, Abort)):
                self._close()

    def _joined(self, msg: Message) -> None:
        if isinstance(msg, InvalidUriRequest):
            self.send(Error(msg.request_type, msg.request, "wamp.error.invalid_uri", args=[msg.message]))
        elif isinstance(msg, Goodbye):
            self._leave_realm()
            self.send(Goodbye(GOODBYE_AND_OUT))
            self._close()
        elif isinstance(msg, Abort):
            self._leave_realm()
            self._close()
        elif isinstance(msg, Hello):
            self._violation("second HELLO received in an established session")
        else:
            problem = self.realm.process(self.session_id, msg)
            if problem is not None:
                self._violation(problem)

    def _on_hello(self, hello: Hello) -> None:
        self._hello = hello
        self.session_id = random_id()
        if hello.realm is not None and self._router.realm(hello.realm) is None:
            self._abort(NO_SUCH_REALM, f"no realm '{hello.realm}' on this node")
            return
        peer_cert = self._transport_detail("peer_cert")
        method = choose_method(self._auth, hello, isinstance(peer_cert, dict))
        if method is None:
            offered = ", ".join(m.method for m in self._auth)
            self._abort(NO_AUTH_METHOD, f"none of the authmethods {hello.authmethods or ['anonymous']} "
                                        f"is offered here (offered: {offered})")
            return
        self._authenticator = make_authenticator(method)
        if self._authenticator is None:
            self._abort(NO_AUTH_METHOD, f"authmethod '{method.method}' is not implemented")
            return
        channel_id = self._transport_detail("channel_id") or {}
        ctx = HelloContext(
            realm=hello.realm, session_id=self.session_id, transport=self._transport_info(),
            channel_id=channel_id.get("tls-unique") if isinstance(channel_id, dict) else None,
            peer_cert=peer_cert if isinstance(peer_cert, dict) else None, call=self._router.call,
        )
        self.state = "auth"
        self._then(self._authenticator.hello(hello, ctx), self._on_auth_result)

    def _then(self, result: Any, handle: Any) -> None:
        """Handle an authenticator answer now, or when its Deferred fires."""
        if hasattr(result, "addCallback"):
            def fired(answer: Any) -> None:
                if self.state == "auth":
                    handle(answer)

            def failed(failure: Any) -> None:
                if self.state == "auth":
                    log.warn("authenticator failed for {peer}: {error}", peer=self._peer_name(),
                             error=failure.getErrorMessage())
                    self._abort("wamp.error.authentication_failed", "the authenticator failed")

            result.addCallbacks(fired, failed)
        else:
            handle(result)

    def _on_auth_result(self, result: Any) -> None:
        if isinstance(result, Challenge):
            self.send(ChallengeMsg(result.method, result.extra))
        elif isinstance(result, Accept):
            self._welcome(result)
        elif isinstance(result, Deny):
            self._abort(result.reason, result.message)
        else:
            self._abort("wamp.error.authentication_failed", "authentication gave no answer")

    def _welcome(self, accept: Accept) -> None:
        hello = self._hello
        if accept.realm and hello.realm and accept.realm != hello.realm:
            self._abort("wamp.error.not_authorized",
                        f"principal '{accept.authid}' may not join realm '{hello.realm}'")
            return
        realm = self._router.realm(accept.realm or hello.realm)
        if realm is None:
            self._abort(NO_SUCH_REALM, f"no realm '{accept.realm or hello.realm}' on this node")
            return
        if not realm.authorizer.has_role(accept.authrole):
            self._abort(NO_SUCH_ROLE, f"no role '{accept.authrole}' on realm '{realm.name}'")
            return
        self.realm = realm
        self.peer = Peer(
            session_id=self.session_id, realm=realm.name, authid=accept.authid, authrole=accept.authrole,
            authmethod=accept.authmethod, authprovider=accept.authprovider, authextra=accept.authextra,
            roles=compact_roles(hello.roles), transport=self._transport_info(),
        )
        self._hello = self._authenticator = None  # an idle session keeps only what routing reads
        self.state = "joined"
        self.send(RouterWelcome(self.session_id, router_roles(realm.config.enable_meta_api), realm=realm.name,
                          authid=accept.authid, authrole=accept.authrole, authmethod=accept.authmethod,
                          authprovider=accept.authprovider, authextra=accept.authextra))
        realm.attach(self.peer, self)

    # --- endings --------------------------------------------------------------------

    def _violation(self, problem: str) -> None:
        log.warn("protocol violation by {peer}: {problem}", peer=self._peer_name(), problem=problem)
        self._abort(PROTOCOL_VIOLATION, problem)

    def _abort(self, reason: str, message: str) -> None:
        self._leave_realm()
        self.send(Abort(reason, message))
        self._close()

    def _close(self) -> None:
        self._leave_realm()
        self.state = "closed"
        transport = self._transport
        if transport is not None:
            try:
                transport.close()
            except Exception as e:
                log.warn("closing {peer} failed: {error}", peer=self._peer_name(), error=str(e))

    def _leave_realm(self) -> None:
        realm, self.realm = self.realm, None
        if realm is not None and self.session_id is not None:
            realm.detach(self.session_id)

    # --- transport details ------------------------------------------------------------

    def _transport_detail(self, name: str) -> Any:
        details = getattr(self._transport, "transport_details", None)
        return getattr(details, name, None)

    def _transport_info(self) -> dict:
        details = getattr(self._transport, "transport_details", None)
        try:
            info = details.marshal() if details is not None else {}
        except Exception:
            return {}
        channel_id = info.get("channel_id")
        if isinstance(channel_id, dict):  # bytes do not survive every serializer: send hex
            info["channel_id"] = {k: v.hex() if isinstance(v, bytes) else v for k, v in channel_id.items()}
        return info

    def _peer_name(self) -> str:
        peer = self._transport_detail("peer")
        return f"{peer} (session {self.session_id})" if self.session_id else str(peer or "unknown peer")
