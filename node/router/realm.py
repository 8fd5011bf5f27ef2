"""One realm: joined sessions, its broker and dealer, and delivery of their decisions.

The realm is where routing meets delivery. For each message of an established
session it checks the URI, authorizes the action (static rules, or a dynamic
authorizer whose answer arrives later), asks the broker or dealer for an
:class:`~node.router.outcome.Outcome`, and delivers that outcome: messages to
session objects (anything with ``send(msg)`` and ``kill(reason, message)``),
router events through the broker, call timers through the injected clock.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Dict, Hashable, List, Optional, Protocol

from autobahn.wamp.message import (
    Call, Cancel, Error, Event, Invocation, Message, Publish, Register, Result, Subscribe, Unregister, Unsubscribe,
    Yield,
)
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from node.config.model import Realm
from node.router.authorization import (
    DENY, NOT_AUTHORIZED, BoundedCache, Decision, RealmAuthorizer, decision_from_authorizer, not_authorized_text,
)
from node.router.broker import Broker
from node.router.dealer import Dealer
from node.router.internal import InternalCaller
from node.router.meta import MetaApi, MetaError
from node.router.outcome import Outcome, reply
from node.router.oversize import PAYLOAD_SIZE_EXCEEDED, WARN_INTERVAL, Undeliverable, too_large_text
from node.router.peer import Peer
from node.router.uris import is_valid_uri, uri_length_problem

log = Logger()

INVALID_URI = "wamp.error.invalid_uri"
INVALID_PAYLOAD = "wamp.error.invalid_payload"
CLOSE_KILLED = "wamp.close.killed"
# What the decisions a dynamic authorizer allowed to cache may hold per session:
# a session uses tens of URIs; these bounds keep one that walks through endless
# URIs (each answered with cache) from growing the node.
DECISION_CACHE_ENTRIES = 1000
DECISION_CACHE_CHARS = 64 * 1024


class SessionTarget(Protocol):
    """What the realm needs from a session to deliver to it."""

    def send(self, message: Message) -> None: ...

    def kill(self, reason: Optional[str], message: Optional[str]) -> None: ...


class RealmRouter:
    """Routing state of one realm and the delivery of its decisions.

    ``clock`` (Twisted's IReactorTime: the node's reactor, or a ``task.Clock`` in
    tests) runs the call timeouts.
    """

    def __init__(self, config: Realm, clock: IReactorTime) -> None:
        self.config = config
        self.name = config.name
        self.strict_uris = config.uri_check == "strict"
        self._peers: Dict[int, Peer] = {}
        self._sessions: Dict[int, SessionTarget] = {}
        self._internal: set = set()
        self.max_uri_length = config.limits.max_uri_length
        self.authorizer = RealmAuthorizer(config.roles)
        permits = None if self.authorizer.open else self.authorizer.permits  # an open realm checks nothing
        self.broker = Broker(self._peers, config.event_history, limits=config.limits, realm=config.name,
                             permits=permits)
        self.dealer = Dealer(self._peers, limits=config.limits, unlimited=self._internal, permits=permits)
        self.meta = MetaApi(self)
        self.clock = clock
        self._timers: Dict[Hashable, Any] = {}
        self._testaments: Dict[int, Dict[str, List[tuple]]] = {}
        self._testament_ids = itertools.count(1)
        self._auth_cache: Dict[int, BoundedCache[tuple, Decision]] = {}  # session -> (uri, action, match) -> decision
        self._caller: Optional[InternalCaller] = None  # made on first use
        self.backplane: Any = None  # node.cluster.link.RealmLink when the router spans processes
        self.too_large = Undeliverable(config.name)  # messages over their receiver's size limit, counted
        self._unencodable_warned: Dict[str, float] = {}  # message type -> time of the last warning

    # --- membership -------------------------------------------------------

    def attach(self, peer: Peer, session: SessionTarget, internal: bool = False) -> None:
        """A session has joined (WELCOME sent): route to it from now on."""
        self._peers[peer.session_id] = peer
        self._sessions[peer.session_id] = session
        if internal:
            self._internal.add(peer.session_id)
        else:
            self.deliver(Outcome().meta("wamp.session.on_join", peer.details()))

    def detach(self, session_id: int) -> None:
        """A session has gone: drop all its state, answer whoever waited on it,
        publish its testaments and ``wamp.session.on_leave``."""
        peer = self._peers.get(session_id)
        if peer is None:
            return
        testaments = self._testaments.pop(session_id, {})
        out = self.dealer.detach(session_id)
        out.extend(self.broker.detach(session_id))
        del self._peers[session_id]
        del self._sessions[session_id]
        self._auth_cache.pop(session_id, None)
        internal = session_id in self._internal
        self._internal.discard(session_id)
        for scope in ("detached", "destroyed"):
            for topic, args, kwargs, options in testaments.get(scope, []):
                out.extend(self._publish_everywhere(None, _router_publish(topic, args, kwargs, options), False))
        if not internal:
            out.meta("wamp.session.on_leave", session_id, peer.authid, peer.authrole)
        self.deliver(out)

    def joined_peers(self) -> List[Peer]:
        return [p for sid, p in self._peers.items() if sid not in self._internal]

    def peer(self, session_id: int) -> Optional[Peer]:
        return None if session_id in self._internal else self._peers.get(session_id)

    def session_count(self) -> int:
        return len(self._peers) - len(self._internal)

    def kill(self, session_id: int, reason: Optional[str], message: Optional[str]) -> None:
        session = self._sessions.get(session_id)
        if session is not None:
            session.kill(reason if isinstance(reason, str) else CLOSE_KILLED,
                         message if isinstance(message, str) else None)

    # --- testaments -------------------------------------------------------

    def add_testament(self, session_id: int, scope: str, topic: str, args: list, kwargs: dict,
                      options: dict) -> int:
        self._testaments.setdefault(session_id, {}).setdefault(scope, []).append((topic, args, kwargs, options))
        return next(self._testament_ids)

    def flush_testaments(self, session_id: int, scope: str) -> int:
        return len(self._testaments.get(session_id, {}).pop(scope, []))

    # --- message dispatch -------------------------------------------------

    def process(self, session_id: int, msg: Message) -> Optional[str]:
        """Route one message of an established session.

        Returns None, or a description of a protocol violation (the session then
        aborts); never raises for peer input.
        """
        peer = self._peers.get(session_id)
        if peer is None:
            return "session is not joined"
        if self.backplane is not None and self.backplane.intercept(session_id, msg):
            return None  # answers an INVOCATION relayed from another process
        if isinstance(msg, Publish):
            self._publish(peer, msg)
        elif isinstance(msg, Subscribe):
            self._guarded(peer, msg, msg.topic, msg.match or "exact", "subscribe",
                          lambda d: self.broker.subscribe(peer, msg))
        elif isinstance(msg, Unsubscribe):
            self.deliver(self.broker.unsubscribe(peer, msg))
        elif isinstance(msg, Call):
            self._call(peer, msg)
        elif isinstance(msg, Register):
            self._register(peer, msg)
        elif isinstance(msg, Unregister):
            self.deliver(self.dealer.unregister(peer, msg))
        elif isinstance(msg, Yield):
            self.deliver(self.dealer.yield_(peer, msg))
        elif isinstance(msg, Error):
            if msg.request_type != Invocation.MESSAGE_TYPE:
                return f"ERROR for message type {msg.request_type}: a client may only send ERROR for INVOCATION"
            self.deliver(self.dealer.error(peer, msg))
        elif isinstance(msg, Cancel):
            self.deliver(self.dealer.cancel(peer, msg))
        else:
            return f"unexpected {type(msg).__name__.upper()} message for a router in an established session"
        return None

    def _publish(self, peer: Peer, msg: Publish) -> None:
        if msg.topic.startswith("wamp."):
            if msg.acknowledge:
                self._send_error(peer, msg, INVALID_URI, f"topic '{msg.topic}' is reserved for the router")
            return
        self._guarded(peer, msg, msg.topic, "exact", "publish",
                      lambda d: self._publish_everywhere(peer, msg, d.disclose),
                      errors=bool(msg.acknowledge))

    def _publish_everywhere(self, peer: Optional[Peer], msg: Publish, disclose: bool) -> Outcome:
        """Route a publication here and, when the router spans processes, there too."""
        if self.backplane is not None:
            return self.backplane.publish(peer, msg, disclose)
        return self.broker.publish(peer, msg, disclose=disclose)

    def _call(self, peer: Peer, msg: Call) -> None:
        if self.dealer.ongoing(peer.session_id, msg.request):
            # a further chunk of a progressive call invocation: authorized at its start
            self.deliver(self.dealer.call(peer, msg))
            return
        if self.config.enable_meta_api and self.meta.handles(msg.procedure):
            self._guarded(peer, msg, msg.procedure, "exact", "call", lambda d: self._meta_call(peer, msg))
            return
        self._guarded(peer, msg, msg.procedure, "exact", "call",
                      lambda d: self.dealer.call(peer, msg, disclose=d.disclose))

    def _register(self, peer: Peer, msg: Register) -> None:
        if msg.procedure.startswith("wamp.") and peer.session_id not in self._internal:
            self._send_error(peer, msg, INVALID_URI, f"procedure '{msg.procedure}' is reserved for the router")
            return
        self._guarded(peer, msg, msg.procedure, msg.match or "exact", "register",
                      lambda d: self.dealer.register(peer, msg))

    def _meta_call(self, peer: Peer, msg: Call) -> Outcome:
        topic = msg.args[0] if msg.args else None
        if msg.procedure == "wamp.session.add_testament" and isinstance(topic, str) and not topic.startswith("wamp."):
            # the testament is a publication to come: authorized now as that PUBLISH,
            # with the same rules or dynamic authorizer, then added
            self._guarded(peer, msg, topic, "exact", "publish", lambda d: self._meta_answer(peer, msg))
            return Outcome()
        read = self.meta.subscription_read(msg.procedure, msg.args)
        if read is not None and self.authorizer.dynamic_authorizer(peer.authrole) \
                and peer.session_id not in self._internal:
            # a dynamic role reads the history of a subscription only if it may hold that
            # subscription (uri and match): the authorizer cannot be asked per stored event
            uri, match = read
            self._guarded(peer, msg, uri, match, "subscribe", lambda d: self._meta_answer(peer, msg))
            return Outcome()
        return self._meta_answer(peer, msg)

    def _meta_answer(self, peer: Peer, msg: Call) -> Outcome:
        try:
            args, kwargs = self.meta.call(peer, msg.procedure, msg.args, msg.kwargs)
        except MetaError as e:
            return Outcome().send(peer.session_id, Error(Call.MESSAGE_TYPE, msg.request, e.uri, args=[e.text]))
        return Outcome().send(peer.session_id, Result(msg.request, args=args, kwargs=kwargs))

    # --- URI checks and authorization ---------------------------------------

    def _guarded(self, peer: Peer, msg: Message, uri: str, match: str, action: str,
                 route: Callable[[Decision], Outcome], errors: bool = True) -> None:
        """Check ``uri``, authorize ``action``, then deliver ``route(decision)``."""
        if self.max_uri_length and len(uri) * 4 > self.max_uri_length:  # else short enough in any UTF-8
            problem = uri_length_problem(uri, self.max_uri_length)
            if problem is not None:
                if errors:
                    self._send_error(peer, msg, INVALID_URI, problem)
                return
        if not is_valid_uri(uri, strict=self.strict_uris, match=match):
            if errors:
                rules = "strict" if self.strict_uris else "loose"
                self._send_error(peer, msg, INVALID_URI, f"invalid URI '{uri}' ({rules} rules, match {match})")
            return
        decision = self.authorize(peer, uri, action, match)

        def decided(decision: Decision) -> None:
            if peer.session_id not in self._peers:
                return  # the session left while a dynamic authorizer was deciding
            if decision.allow:
                self.deliver(route(decision))
            elif errors:
                self._send_error(peer, msg, NOT_AUTHORIZED, not_authorized_text(
                    peer.session_id, peer.authid, peer.authrole, action, uri, self.name))

        if isinstance(decision, Decision):
            decided(decision)
        else:
            decision.addCallback(decided)
            decision.addErrback(lambda f: log.failure("delivering a dynamic authorization failed", f))

    def authorize(self, peer: Peer, uri: str, action: str, match: str = "exact") -> Any:
        """A :class:`Decision`, or a Deferred firing with one for dynamic roles.

        ``match`` is that of a SUBSCRIBE or REGISTER: a static role is asked about the
        pattern string (the broker and dealer check each event and invocation it routes
        later, :meth:`RealmAuthorizer.permits`); a dynamic authorizer is told the policy
        in ``options.match``, as Crossbar does, and must grant the pattern explicitly."""
        procedure = self.authorizer.dynamic_authorizer(peer.authrole)
        if procedure is None or peer.session_id in self._internal:
            if peer.session_id in self._internal:
                return Decision(True)
            return self.authorizer.authorize(peer.authrole, uri, action)
        key = (uri, action, match)
        cached = self._auth_cache.get(peer.session_id, {}).get(key)
        if cached is not None:
            return cached
        options = {} if match == "exact" else {"match": match}
        d = self.internal_caller().call(procedure, [peer.details(), uri, action, options])

        def answered(result: Any) -> Decision:
            decision = decision_from_authorizer(result.args[0] if result.args else None, match)
            if decision.cache and peer.session_id in self._peers:  # not for a session that left meanwhile
                cache = self._auth_cache.get(peer.session_id)
                if cache is None:
                    cache = self._auth_cache[peer.session_id] = BoundedCache(
                        DECISION_CACHE_ENTRIES, DECISION_CACHE_CHARS)
                cache.put(key, decision, len(uri))
            return decision

        def failed(failure: Any) -> Decision:
            log.warn("dynamic authorizer {procedure} failed for {action} {uri}: {error}",
                     procedure=procedure, action=action, uri=uri, error=failure.getErrorMessage())
            return DENY

        d.addCallbacks(answered, failed)
        return d

    def internal_caller(self) -> InternalCaller:
        """The router's own session on this realm, used to call dynamic authorizers
        and authenticators (created on first use)."""
        if self._caller is None:
            self._caller = InternalCaller(self)
        return self._caller

    def _send_error(self, peer: Peer, msg: Message, uri: str, text: str) -> None:
        self.deliver(Outcome().send(peer.session_id, Error(msg.MESSAGE_TYPE, msg.request, uri, args=[text])))

    # --- delivery -----------------------------------------------------------

    def deliver(self, outcome: Outcome) -> None:
        """Send the outcome's messages, publish its router events, set its timers."""
        for key in outcome.stop_timers:
            timer = self._timers.pop(key, None)
            if timer is not None and timer.active():
                timer.cancel()
        for delay, key in outcome.start_timers:
            previous = self._timers.pop(key, None)  # a client reusing a pending request id
            if previous is not None and previous.active():
                previous.cancel()
            self._timers[key] = self.clock.callLater(delay, self._expired, key)
        for session_id, message in outcome.sends:
            session = self._sessions.get(session_id)
            if session is not None:
                session.send(message)
        if self.config.enable_meta_api:
            for event in outcome.meta_events:
                if self.broker.wants(event.topic):  # most meta events have no subscriber at all
                    self.deliver(self.broker.publish(None, Publish(0, event.topic, args=event.args,
                                                                   kwargs=event.kwargs)))
        if self.backplane is not None and outcome.meta_events:
            self.backplane.delivered(outcome)  # session and registration changes for other processes

    def undeliverable(self, session_id: int, message: Message, size: Optional[int], limit: Optional[int]) -> None:
        """``message`` exceeds the size limit of session ``session_id``, which it was
        not sent to: what goes instead (:mod:`node.router.oversize`)."""
        what = type(message).__name__.upper()
        if isinstance(message, Event):
            self.too_large.count("EVENT", session_id, size, limit, "skipped for this subscriber")
        elif isinstance(message, Invocation):
            self.too_large.count("INVOCATION", session_id, size, limit, "the caller gets payload_size_exceeded")
            text = too_large_text("INVOCATION", size, limit, "callee")
            self.process(session_id, Error(Invocation.MESSAGE_TYPE, message.request, PAYLOAD_SIZE_EXCEEDED,
                                           args=[text]))  # as if the callee had answered so
        elif isinstance(message, Result):
            self.too_large.count("RESULT", session_id, size, limit, "the caller gets payload_size_exceeded")
            text = too_large_text("RESULT", size, limit, "caller")
            self.deliver(self.dealer.undeliverable_result(session_id, message.request, PAYLOAD_SIZE_EXCEEDED, text))
        elif isinstance(message, Error) and message.error != PAYLOAD_SIZE_EXCEEDED:
            self.too_large.count("ERROR", session_id, size, limit, "sent as payload_size_exceeded")
            text = too_large_text(f"ERROR {message.error[:200]}", size, limit, "client")
            self.deliver(reply(session_id, Error(message.request_type, message.request, PAYLOAD_SIZE_EXCEEDED,
                                                 args=[text])))
        else:
            self.too_large.count(what, session_id, size, limit, "not sent")

    def unencodable(self, session_id: int, message: Message, problem: str) -> None:
        """``message`` holds a value the serializer of session ``session_id`` cannot encode
        (a router component's messages arrive unencoded: a set, a datetime): as
        :meth:`undeliverable`, with ``wamp.error.invalid_payload``, the URI autobahn's
        callee answers with when it cannot encode its own YIELD. One warning per message
        type per ``WARN_INTERVAL`` at most."""
        what = next((k.__name__.upper() for k in (Invocation, Result, Error, Event) if isinstance(message, k)),
                    type(message).__name__.upper())  # ProgressiveInvocation is an INVOCATION
        now = self.clock.seconds()
        if now - self._unencodable_warned.get(what, float("-inf")) >= WARN_INTERVAL:
            self._unencodable_warned[what] = now
            log.warn("{what} for session {session} on realm {realm} cannot be encoded for it ({problem}); "
                     "not sent", what=what, session=session_id, realm=self.name, problem=problem)
        text = f"{what} cannot be encoded for its receiver: {problem}"
        if isinstance(message, Invocation):  # as if the callee had answered so
            self.process(session_id, Error(Invocation.MESSAGE_TYPE, message.request, INVALID_PAYLOAD, args=[text]))
        elif isinstance(message, Result):
            self.deliver(self.dealer.undeliverable_result(session_id, message.request, INVALID_PAYLOAD, text))
        elif isinstance(message, Error) and message.error != INVALID_PAYLOAD:
            self.deliver(reply(session_id, Error(message.request_type, message.request, INVALID_PAYLOAD,
                                                 args=[text])))

    def _expired(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        self.deliver(self.dealer.timeout(key))

    def close(self) -> None:
        """Stop all timers (the node is shutting down)."""
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()


def _router_publish(topic: str, args: list, kwargs: dict, options: dict) -> Publish:
    """A PUBLISH made by the router (testaments), with the listing options Crossbar allows."""
    listing = {k: options[k] for k in ("exclude", "exclude_authid", "exclude_authrole", "eligible",
                                       "eligible_authid", "eligible_authrole", "retain")
               if k in options and isinstance(options[k], (list, bool))}
    return Publish(0, topic, args=args or None, kwargs=kwargs or None, **listing)
