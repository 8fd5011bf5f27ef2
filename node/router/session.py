"""The router side of one WAMP connection: a small state machine.

States and what each accepts (anything else is a protocol violation: ABORT
``wamp.error.protocol_violation`` with a message saying what was wrong, then close):

============== ===================================================================
``closed``     before ``onOpen`` / after ``onClose``: nothing
``hello``      waiting for HELLO
``auth``       HELLO answered with CHALLENGE (or a dynamic authenticator is
               deciding, or the answer is held back after failed logins from
               this address): AUTHENTICATE, ABORT
``joined``     WELCOME sent: routing messages go to the realm; GOODBYE, ABORT
``leaving``    the router sent GOODBYE (session killed): waits for GOODBYE
============== ===================================================================

A connection must reach ``joined`` within ``hello_timeout`` seconds of opening
(authentication included: the timer runs until WELCOME); otherwise it is closed:
ABORT ``wamp.error.timeout`` first if HELLO came, then WebSocket close 1008 (a
transport offering ``close_with(code, reason)``) or the connection dropped (RawSocket).

A message the transport refuses as too large for the peer (``PayloadExceededError``)
never vanishes: a WELCOME is sent again without the feature announcements (a client
with a 512-octet limit can still join), an ABORT or GOODBYE without its message; for
a joined session the realm decides what goes instead (:mod:`node.router.oversize`);
anything else before joining ends the session with ABORT
``wamp.error.payload_size_exceeded``.

The session implements autobahn's ``ITransportHandler`` (``onOpen``,
``onMessage``, ``onClose``) and is what the realm delivers to (``send``, ``kill``).

Each failed authentication is logged, and the final answer (WELCOME or ABORT) to
an address with many recent failures is sent late (:mod:`node.router.auth.failures`).

With cookie tracking (``cookies``: the service's store; the transport puts the
connection's cookie in ``transport_details.http_cbtid``), a session that joins by
any method but ``anonymous`` and ``cookie`` binds its identity to the cookie, which
``auth.cookie`` then accepts instead of credentials; GOODBYE with reason
``wamp.close.logout`` unbinds it.

A session made with ``trusted`` (a router component, joined in memory by
:mod:`node.transports.in_memory`) skips authentication: its HELLO is answered
with that identity, as Crossbar.io gives router components their configured role.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Optional, Tuple

from autobahn.exception import PayloadExceededError
from autobahn.wamp.exception import SerializationError
from autobahn.wamp.message import (
    Abort, Authenticate, Call, Challenge as ChallengeMsg, Error, Goodbye, Hello, Message, Welcome,
)
from autobahn.wamp.role import RoleBrokerFeatures, RoleDealerFeatures
from twisted.logger import Logger

from node.config.model import AuthMethod
from node.router.auth import (
    NO_AUTH_METHOD, Accept, Authenticator, Challenge, Deny, HelloContext, choose_method, make_authenticator,
)
from node.router.auth.cookie import usable_login
from node.router.auth.failures import log_failure, peer_address
from node.router.cookie_store import CookieLogin, CookieStore
from node.router.counters import (
    CALL_INVALID_URI, CLOSE_ABORT, CLOSE_ERROR, CLOSE_GOODBYE, CLOSE_KILLED, CLOSE_LOST, CLOSE_VIOLATION, Listener,
)
from node.router.ids import random_id
from node.router.peer import Peer
from node.router.oversize import PAYLOAD_SIZE_EXCEEDED, too_large_text
from node.wire.roles import compact_roles
from node.wire.messages import InvalidUriRequest, remember_hello_roles

if TYPE_CHECKING:  # pragma: no cover
    from node.router.realm import RealmRouter
    from node.router.router import Router

log = Logger()

PROTOCOL_VIOLATION = "wamp.error.protocol_violation"
NO_SUCH_REALM = "wamp.error.no_such_realm"
NO_SUCH_ROLE = "wamp.error.no_such_role"
# A client's GOODBYE is answered with wamp.close.normal, as Crossbar.io answers it
# (the WAMP spec suggests wamp.close.goodbye_and_out): clients written against
# Crossbar.io check that their session ended with wamp.close.normal.
GOODBYE_REPLY = "wamp.close.normal"
GOODBYE_TIMEOUT = 5.0  # seconds a killed session has to answer our GOODBYE
HELLO_TIMEOUT = "wamp.error.timeout"  # ABORT reason when authentication outlasts hello_timeout
CLOSE_POLICY_VIOLATION = 1008  # RFC 6455 7.4.1: the WebSocket close code of a hello_timeout
LOGOUT = "wamp.close.logout"  # a GOODBYE reason that also unbinds the cookie's login (Crossbar.io)


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


BARE_ROLES = {"broker": RoleBrokerFeatures(), "dealer": RoleDealerFeatures()}
"""The WELCOME ``roles`` for a client whose size limit the full announcement exceeds:
the roles the spec requires, without features (announcing them is optional)."""


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

    def __init__(self, router: "Router", auth: Tuple[AuthMethod, ...], hello_timeout: float = 0.0,
                 trusted: Optional[Accept] = None, listener: Optional[Listener] = None,
                 cookies: Optional[CookieStore] = None) -> None:
        self._router = router
        self._listener = listener if listener is not None else Listener()
        # the router's count of messages received, indexed by message code (node.router.counters);
        # messages sent are counted by the transport that writes them (node.transports.counts)
        self._received = router.counts.received
        self._auth = auth
        self._trusted = trusted  # the identity of a router component: no authentication
        self._hello_timeout = hello_timeout  # seconds from onOpen to WELCOME; 0: no limit
        self._hello_timer: Any = None
        self._transport: Any = None
        self.state = "closed"
        self.session_id: Optional[int] = None
        self.realm: Optional["RealmRouter"] = None
        self.peer: Optional[Peer] = None
        self._hello: Optional[Hello] = None
        self._authenticator: Optional[Authenticator] = None
        self._method = ""  # the authentication method chosen for the HELLO
        self._held: Any = None  # the timer of a final answer held back after failed logins
        self._cookies = cookies  # the cookie store of a cookie-tracking service
        self._cbtid: Optional[str] = None  # this connection's tracking cookie

    # --- ITransportHandler ----------------------------------------------------

    def onOpen(self, transport: Any) -> None:
        self._transport = transport
        self.state = "hello"
        if self._hello_timeout > 0:
            self._hello_timer = self._router.clock.callLater(self._hello_timeout, self._hello_timed_out)

    def onMessage(self, msg: Message) -> None:
        """Handle one parsed message; never raises (a fault aborts this session only)."""
        self._received[msg.MESSAGE_TYPE] += 1
        try:
            self._dispatch(msg)
        except Exception:
            log.failure("internal error handling {message} from {peer}", message=type(msg).__name__,
                        peer=self._peer_name())
            self._abort(PROTOCOL_VIOLATION, f"internal error handling {type(msg).__name__.upper()}")

    def onClose(self, wasClean: bool) -> None:
        """The connection is gone: drop everything this session had in its realm."""
        self.state = "closed"
        held, self._held = self._held, None
        if held is not None and held.active():
            held.cancel()
        self._stop_hello_timer()
        self._leave_realm(CLOSE_LOST)
        self._transport = None

    # --- delivery (called by the realm) -----------------------------------------

    def send(self, message: Message) -> None:
        transport = self._transport
        if transport is None:
            return
        try:
            if transport.isOpen():
                transport.send(message)
        except PayloadExceededError as e:  # refused, not sent: never silently
            self._too_large(message, e)
        except SerializationError as e:  # a value its serializer cannot carry: never silently either
            if self.state == "joined" and self.realm is not None and self.session_id is not None:
                self.realm.unencodable(self.session_id, message, str(e))
            else:
                log.warn("cannot encode {message} for {peer}: {error}", message=type(message).__name__,
                         peer=self._peer_name(), error=str(e))
        except Exception as e:  # a transport that fails to send is a dead peer, not a router fault
            log.warn("cannot send {message} to {peer}: {error}", message=type(message).__name__,
                     peer=self._peer_name(), error=str(e))

    def kill(self, reason: Optional[str], message: Optional[str]) -> None:
        """Close the session from the router side (``wamp.session.kill``)."""
        if self.state != "joined":
            return
        self._leave_realm(CLOSE_KILLED)
        self.state = "leaving"
        self.send(Goodbye(reason or "wamp.close.killed", message))
        # a peer that never answers the GOODBYE must not keep its connection
        self._router.clock.callLater(GOODBYE_TIMEOUT, self._close_if_leaving)

    def _close_if_leaving(self) -> None:
        if self.state == "leaving":
            self._close()

    def _too_large(self, message: Message, error: PayloadExceededError) -> None:
        """``message`` exceeds the peer's size limit: send what fits instead (see the module doc)."""
        size, limit = getattr(error, "size", None), getattr(error, "limit", None)
        if isinstance(message, RouterWelcome):
            log.info("WELCOME for {peer} without feature announcements: the full one ({size} octets) "
                     "exceeds its limit of {limit} octets", peer=self._peer_name(), size=size, limit=limit)
            self.send(Welcome(message.session, BARE_ROLES, realm=message.realm, authid=message.authid,
                              authrole=message.authrole, authmethod=message.authmethod,
                              authprovider=message.authprovider, authextra=message.authextra))
        elif isinstance(message, Abort):
            if message.message is not None:
                self.send(Abort(message.reason))
        elif isinstance(message, Goodbye):
            if message.message is not None:
                self.send(Goodbye(message.reason if len(message.reason) <= 256 else "wamp.close.killed"))
            else:
                self._close()
        elif self.state == "joined" and self.realm is not None and not isinstance(message, Welcome):
            self.realm.undeliverable(self.session_id, message, size, limit)
        else:
            text = too_large_text(type(message).__name__.upper(), size, limit, "client")
            log.warn("Aborting {peer}: {text}", peer=self._peer_name(), text=text)
            self._abort(PAYLOAD_SIZE_EXCEEDED, text, CLOSE_ERROR)

    def _hello_timed_out(self) -> None:
        self._hello_timer = None
        if self.state not in ("hello", "auth"):
            return
        text = f"no WAMP session joined within {self._hello_timeout:g} s (hello_timeout)"
        log.warn("Closing {peer}: {text}", peer=self._peer_name(), text=text)
        self._listener.hello_timeouts += 1
        if self.state == "auth":
            self.send(Abort(HELLO_TIMEOUT, f"authentication did not complete within {self._hello_timeout:g} s"))
        self._close(CLOSE_POLICY_VIOLATION, text)

    def _stop_hello_timer(self) -> None:
        timer, self._hello_timer = self._hello_timer, None
        if timer is not None and timer.active():
            timer.cancel()

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
            if msg.request_type == Call.MESSAGE_TYPE and self.realm is not None:
                self.realm.counts.call_error(CALL_INVALID_URI)
            self.send(Error(msg.request_type, msg.request, "wamp.error.invalid_uri", args=[msg.message]))
        elif isinstance(msg, Goodbye):
            if msg.reason == LOGOUT and self._cookies is not None and self._cbtid:
                self._cookies.bind(self._cbtid, None)
            self._leave_realm(CLOSE_GOODBYE)
            self.send(Goodbye(GOODBYE_REPLY))
            self._close()
        elif isinstance(msg, Abort):
            self._leave_realm(CLOSE_ABORT)
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
        if self._trusted is not None:
            self._welcome(self._trusted)
            return
        peer_cert = self._transport_detail("peer_cert")
        cbtid = self._transport_detail("http_cbtid") if self._cookies is not None else None
        self._cbtid = cbtid if isinstance(cbtid, str) else None
        cookie_login = self._cookies.login(self._cbtid) if self._cbtid else None
        method = choose_method(self._auth, hello, isinstance(peer_cert, dict),
                               usable_login(cookie_login, hello.realm))
        if method is None:
            offered = ", ".join(m.method for m in self._auth)
            self._abort(NO_AUTH_METHOD, f"none of the authmethods {hello.authmethods or ['anonymous']} "
                                        f"is offered here (offered: {offered})")
            return
        self._method = method.method
        self._authenticator = make_authenticator(method)
        if self._authenticator is None:
            self._abort(NO_AUTH_METHOD, f"authmethod '{method.method}' is not implemented")
            return
        channel_id = self._transport_detail("channel_id") or {}
        ctx = HelloContext(
            realm=hello.realm, session_id=self.session_id, transport=self._transport_info(),
            channel_id=channel_id.get("tls-unique") if isinstance(channel_id, dict) else None,
            peer_cert=peer_cert if isinstance(peer_cert, dict) else None, call=self._router.call,
            cbtid=self._cbtid, cookie_login=cookie_login,
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
            return
        # a final answer: late if this address failed often, whether it is a success or not
        # (a client that had to wait for failures only could give up on a guess at once)
        self._authenticator = None
        address = peer_address(self._transport_detail("peer"))
        failures = self._router.auth_failures
        wait = failures.delay(address)
        if isinstance(result, Deny):
            self._failed(address, result.reason)
        if wait > 0:
            self._held = self._router.clock.callLater(wait, self._final_answer, result)
        else:
            self._final_answer(result)

    def _failed(self, address: str, reason: str) -> None:
        """Log a failed authentication and count it against the peer's address."""
        hello = self._hello
        failed = self._router.counts.auth_failed
        failed[self._method] = failed.get(self._method, 0) + 1
        self._router.auth_failures.failed(address)
        log_failure(address, self._method, hello.realm if hello else None, hello.authid if hello else None, reason)

    def _final_answer(self, result: Any) -> None:
        self._held = None
        if self.state != "auth":
            return  # the peer left (or broke the protocol) while the answer was held
        if isinstance(result, Accept):
            self._welcome(result)
        elif isinstance(result, Deny):
            self._abort(result.reason, result.message)
        else:
            self._abort("wamp.error.authentication_failed", "authentication gave no answer")

    def _welcome(self, accept: Accept) -> None:
        hello = self._hello
        if accept.realm and hello.realm and accept.realm != hello.realm:
            self._failed(peer_address(self._transport_detail("peer")), "wamp.error.not_authorized")
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
        self._stop_hello_timer()
        self.send(RouterWelcome(self.session_id, router_roles(realm.config.enable_meta_api), realm=realm.name,
                                authid=accept.authid, authrole=accept.authrole, authmethod=accept.authmethod,
                                authprovider=accept.authprovider, authextra=accept.authextra))
        if self.state != "joined":
            return  # not even a bare WELCOME fitted the client's limit: aborted
        remember_hello_roles(hello)  # only now: HELLOs that never join must not fill the cache
        welcomed = self._router.counts.auth_ok
        welcomed[accept.authmethod] = welcomed.get(accept.authmethod, 0) + 1
        realm.counts.joined(self._listener)
        realm.attach(self.peer, self)
        self._bind_cookie(accept, realm.name)

    def _bind_cookie(self, accept: Accept, realm: str) -> None:
        """Remember a login on the connection's cookie (see the module doc)."""
        if self._cookies is None or not self._cbtid or accept.authprovider == "cookie":
            return
        if accept.authmethod in ("anonymous", "cookie"):
            return
        self._cookies.bind(self._cbtid, CookieLogin(accept.authid, accept.authrole, accept.authmethod,
                                                    realm, accept.authextra))

    # --- endings --------------------------------------------------------------------

    def _violation(self, problem: str) -> None:
        log.warn("protocol violation by {peer}: {problem}", peer=self._peer_name(), problem=problem)
        self._listener.violations += 1
        self._abort(PROTOCOL_VIOLATION, problem, CLOSE_VIOLATION)

    def _abort(self, reason: str, message: str, why: str = CLOSE_ERROR) -> None:
        self._leave_realm(why)
        self.send(Abort(reason, message))
        self._close()

    def _close(self, code: Optional[int] = None, reason: str = "") -> None:
        """Close the connection; with ``code``, a transport that has close codes
        (``close_with``: WebSocket) sends that code and ``reason``."""
        self._leave_realm(CLOSE_ERROR)
        self._stop_hello_timer()
        self.state = "closed"
        transport = self._transport
        if transport is not None:
            try:
                close_with = getattr(transport, "close_with", None) if code is not None else None
                if close_with is not None:
                    close_with(code, reason)
                else:
                    transport.close()
            except Exception as e:
                log.warn("closing {peer} failed: {error}", peer=self._peer_name(), error=str(e))

    def _leave_realm(self, why: str) -> None:
        """Leave the realm (once); ``why`` is the close reason counted (node.router.counters)."""
        realm, self.realm = self.realm, None
        if realm is not None and self.session_id is not None:
            realm.counts.left(self._listener, why)
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
