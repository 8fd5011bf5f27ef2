"""The dealer: registrations and calls of one realm, as plain decisions.

Like the broker, every method takes a parsed autobahn message plus the sender's
:class:`~node.router.peer.Peer` and returns an :class:`~node.router.outcome.Outcome`.
Call timeouts are requested as timers in the outcome (the realm owns the clock)
and come back through :meth:`Dealer.timeout`.

Cancel modes follow the WAMP spec: ``skip`` answers the caller at once and drops
the callee's late answer; ``kill`` interrupts the callee and forwards its answer;
``killnowait`` does both at once. Callees that did not announce ``call_canceling``
are never sent INTERRUPT (``kill`` and ``killnowait`` then behave like ``skip``).

A prefix or wildcard registration was authorized against its pattern string, so a
call it matches is routed only to those of its callees whose role may register the
concrete procedure (the realm's role ``permits``). When none may, the next best match is
tried (a shorter prefix, a wildcard), as if that registration did not match: a
session cannot capture, by a longer pattern, calls it could not register for.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import AbstractSet, Callable, Dict, Hashable, List, Mapping, Optional, Tuple

from autobahn.wamp.message import (
    Call, Cancel, Error, Interrupt, Register, Registered, Result, Unregister, Unregistered, Yield,
)

from node.config.model import RealmLimits
from node.router.counters import (
    CALL_CALLEE, CALL_CALLEE_GONE, CALL_CANCELED, CALL_LIMIT, CALL_NO_SUCH_PROCEDURE, CALL_TIMEOUT, CALL_TOO_LARGE,
    RealmCounts,
)
from node.router.holdings import Holdings
from node.router.ids import SessionScopeIds, iso_utc, random_id
from node.router.matching import Observation, ObservationMap
from node.router.outcome import LIMIT_EXCEEDED, Outcome, reply
from node.router.peer import Peer
from node.wire.messages import ProgressiveInvocation as Invocation
from node.wire.lazy import carry_arguments, unread_arguments

# (authrole, concrete URI, action) -> may a session of that role be routed it through a pattern
Permits = Callable[[str, str, str], bool]

NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure"
NO_SUCH_REGISTRATION = "wamp.error.no_such_registration"
PROCEDURE_ALREADY_EXISTS = "wamp.error.procedure_already_exists"
DIFFERENT_POLICY = "wamp.error.procedure_exists_with_different_invocation_policy"
CANCELED = "wamp.error.canceled"
UNREGISTERED = "wamp.close.unregistered"  # revocation reason (force_reregister)

INVOKE_POLICIES = ("single", "first", "last", "roundrobin", "random")


@dataclass
class SharedPolicy:
    """How calls are spread over the callees of one registration."""

    invoke: str
    next_index: int = 0


@dataclass
class PendingCall:
    """A call between CALL and its final RESULT/ERROR (or its cancellation)."""

    caller: int
    request: int
    callee: int
    invocation: int
    registration: int
    procedure: str
    receive_progress: bool
    canceled: Optional[str] = None  # cancel mode once the caller canceled
    in_progress: bool = False  # a progressive CALL whose final chunk is still to come

    @property
    def timer(self) -> Hashable:
        return ("call", self.caller, self.request)


class Dealer:
    """Registrations, pending calls and invocation routing of one realm.

    ``limits`` bounds the registrations and the pending calls per session, except
    for the sessions in ``unlimited`` (the realm's live set of the router's own
    sessions, whose calls to dynamic authorizers may pile up in a burst).
    ``permits(authrole, procedure, "register")`` decides whether a call may be routed
    to a callee of that role through a prefix or wildcard registration (None: always).
    """

    def __init__(
        self,
        peers: Mapping[int, Peer],
        now: Callable[[], float] = time.time,
        new_id: Callable[[], int] = random_id,
        choose: Callable[[List[int]], int] = random.choice,
        limits: RealmLimits = RealmLimits(),
        unlimited: AbstractSet[int] = frozenset(),
        permits: Optional[Permits] = None,
        counts: Optional[RealmCounts] = None,
    ) -> None:
        self._peers = peers
        self.counts = counts if counts is not None else RealmCounts()
        self._permits = permits
        self._unlimited = unlimited
        self._choose = choose
        self._max_registrations = limits.max_registrations_per_session
        self._max_pending = limits.max_pending_calls_per_session
        self.registrations = ObservationMap(new_id, now)
        self._held = Holdings(self.registrations, "registration")
        self._invocation_ids: Dict[int, SessionScopeIds] = {}
        self._by_invocation: Dict[Tuple[int, int], PendingCall] = {}
        self._by_call: Dict[Tuple[int, int], PendingCall] = {}
        self._pending_by_caller: Dict[int, int] = {}  # kept only with a max_pending limit

    # --- register / unregister --------------------------------------------

    def register(self, peer: Peer, msg: Register) -> Outcome:
        match = msg.match or "exact"
        invoke = msg.invoke or "single"
        existing = self.registrations.get(msg.procedure, match)
        out = Outcome()
        if self._max_registrations and self._held.count(peer.session_id) >= self._max_registrations:
            return self._register_error(
                peer, msg, LIMIT_EXCEEDED,
                f"session {peer.session_id} already holds {self._max_registrations} registrations, the most "
                f"a session may hold on this realm (realm option max_registrations_per_session)")
        if existing is not None and existing.observers:
            if peer.session_id in existing.observers:
                return self._register_error(peer, msg, PROCEDURE_ALREADY_EXISTS,
                                            f"session {peer.session_id} already registered {msg.procedure}")
            if existing.extra.invoke != invoke:
                return self._register_error(
                    peer, msg, DIFFERENT_POLICY,
                    f"{msg.procedure} is registered with invoke '{existing.extra.invoke}', not '{invoke}'")
            if invoke == "single":
                if not msg.force_reregister:
                    return self._register_error(peer, msg, PROCEDURE_ALREADY_EXISTS,
                                                f"{msg.procedure} is already registered")
                for other in list(existing.observers):
                    if _can(self._peers.get(other), "registration_revocation"):
                        out.send(other, Unregistered(0, registration=existing.id, reason=UNREGISTERED))
                    out.extend(self._held.drop(other, existing))
        reg, added = self._held.add(peer.session_id, msg.procedure, match, self.describe, extra=SharedPolicy(invoke))
        out.send(peer.session_id, Registered(msg.request, reg.id))
        return out.extend(added)

    def _register_error(self, peer: Peer, msg: Register, uri: str, text: str) -> Outcome:
        return reply(peer.session_id, Error(Register.MESSAGE_TYPE, msg.request, uri, args=[text]))

    def unregister(self, peer: Peer, msg: Unregister) -> Outcome:
        reg = self.registrations.by_id(msg.registration)
        if reg is None or peer.session_id not in reg.observers:
            return reply(peer.session_id, Error(
                Unregister.MESSAGE_TYPE, msg.request, NO_SUCH_REGISTRATION,
                args=[f"no registration {msg.registration} for session {peer.session_id}"]))
        return reply(peer.session_id, Unregistered(msg.request)).extend(self._held.drop(peer.session_id, reg))

    # --- call ---------------------------------------------------------------

    def call(self, peer: Peer, msg: Call, disclose: bool = False) -> Outcome:
        """Route a CALL to one callee, or answer the caller with an ERROR."""
        progress = bool(getattr(msg, "progress", None))
        ongoing = self._by_call.get((peer.session_id, msg.request))
        if ongoing is not None and ongoing.in_progress:
            return self._continue_progressive(ongoing, msg, progress)
        reg = self.registrations.best_match(msg.procedure)
        callees: Optional[List[int]] = None  # None: all of reg's callees may serve the call
        if reg is not None and reg.match != "exact" and self._permits is not None:
            reg, callees = self._permitted(msg.procedure)
        if reg is None or not reg.observers:
            self.counts.call_error(CALL_NO_SUCH_PROCEDURE)
            return reply(peer.session_id, Error(Call.MESSAGE_TYPE, msg.request, NO_SUCH_PROCEDURE,
                                                args=[f"no callee registered for procedure <{msg.procedure}>"]))
        if self._max_pending:
            held = self._pending_by_caller.get(peer.session_id, 0)
            if held >= self._max_pending and peer.session_id not in self._unlimited:
                self.counts.call_error(CALL_LIMIT)
                return reply(peer.session_id, Error(
                    Call.MESSAGE_TYPE, msg.request, LIMIT_EXCEEDED,
                    args=[f"session {peer.session_id} already has {held} calls pending, the most a session "
                          f"may have on this realm (realm option max_pending_calls_per_session)"]))
            self._pending_by_caller[peer.session_id] = held + 1
        callee_id = self._pick_callee(reg, callees)
        reg.hits += 1  # the busiest procedures of the dashboard: a count on the object at hand
        callee = self._peers.get(callee_id)
        ids = self._invocation_ids.get(callee_id)
        if ids is None:
            ids = self._invocation_ids[callee_id] = SessionScopeIds()
        pending = PendingCall(
            caller=peer.session_id,
            request=msg.request,
            callee=callee_id,
            invocation=ids.next(),
            registration=reg.id,
            procedure=msg.procedure,
            receive_progress=bool(msg.receive_progress),
            in_progress=progress,
        )
        self._by_invocation[(callee_id, pending.invocation)] = pending
        self._by_call[(peer.session_id, msg.request)] = pending
        args, kwargs = unread_arguments(msg)  # a large message's: decoded only if read (node.wire.lazy)
        invocation = Invocation(
            pending.invocation,
            reg.id,
            args=args,
            kwargs=kwargs,
            payload=msg.payload,
            enc_algo=msg.enc_algo,
            enc_key=msg.enc_key,
            enc_serializer=msg.enc_serializer,
            receive_progress=True if msg.receive_progress and _can(callee, "progressive_call_results") else None,
            caller=peer.session_id if disclose else None,
            caller_authid=peer.authid if disclose else None,
            caller_authrole=peer.authrole if disclose else None,
            procedure=msg.procedure if reg.match != "exact" else None,
            progress=True if progress else None,
        )
        carry_arguments(invocation, msg)
        out = Outcome().send(callee_id, invocation)
        if msg.timeout:
            out.start_timers.append((msg.timeout / 1000.0, pending.timer))
        return out

    def _continue_progressive(self, pending: PendingCall, msg: Call, progress: bool) -> Outcome:
        """Forward one more chunk of a progressive call invocation to the same callee."""
        if pending.canceled:
            return Outcome()
        pending.in_progress = progress
        args, kwargs = unread_arguments(msg)
        invocation = Invocation(pending.invocation, pending.registration, args=args, kwargs=kwargs,
                                payload=msg.payload, enc_algo=msg.enc_algo, enc_key=msg.enc_key,
                                enc_serializer=msg.enc_serializer, progress=True if progress else None)
        carry_arguments(invocation, msg)
        return Outcome().send(pending.callee, invocation)

    def _permitted(self, procedure: str) -> Tuple[Optional[Observation], Optional[List[int]]]:
        """The best registration matching ``procedure`` that has callees allowed to serve
        it, with those callees (exact registrations, authorized for this very URI, need no check)."""
        permits = self._permits
        for reg in self.registrations.matching(procedure):  # best first, as best_match ranks them
            if reg.match == "exact":
                return reg, None
            callees = [session_id for session_id in reg.observers
                       if self._may_serve(session_id, procedure, permits)]  # type: ignore[arg-type]
            if callees:
                return reg, callees
        return None, None

    def _may_serve(self, session_id: int, procedure: str, permits: Permits) -> bool:
        peer = self._peers.get(session_id)
        return peer is not None and permits(peer.authrole, procedure, "register")

    def _pick_callee(self, reg: Observation, callees: Optional[List[int]] = None) -> int:
        if callees is None:
            callees = list(reg.observers)
        policy: SharedPolicy = reg.extra
        if policy.invoke == "last":
            return callees[-1]
        if policy.invoke == "roundrobin":
            callee = callees[policy.next_index % len(callees)]
            policy.next_index = (policy.next_index + 1) % len(callees)
            return callee
        if policy.invoke == "random":
            return self._choose(callees)
        return callees[0]  # single, first

    # --- answers from the callee --------------------------------------------

    def yield_(self, peer: Peer, msg: Yield) -> Outcome:
        """A YIELD becomes a RESULT for the caller; unknown or canceled ones are dropped."""
        pending = self._by_invocation.get((peer.session_id, msg.request))
        if pending is None:
            return Outcome()
        if msg.progress and not pending.receive_progress:
            return Outcome()  # the caller did not ask for progressive results
        if not msg.progress:
            out = self._finish(pending)
        else:
            out = Outcome()
        if pending.canceled in ("skip", "killnowait"):
            return out
        if pending.canceled == "kill" and not msg.progress:
            return out.send(pending.caller, self._canceled(pending, "the call was canceled", CALL_CANCELED))
        args, kwargs = unread_arguments(msg)
        result = Result(pending.request, args=args, kwargs=kwargs, payload=msg.payload,
                        progress=True if msg.progress else None, enc_algo=msg.enc_algo,
                        enc_key=msg.enc_key, enc_serializer=msg.enc_serializer)
        carry_arguments(result, msg)
        return out.send(pending.caller, result)

    def error(self, peer: Peer, msg: Error) -> Outcome:
        """An ERROR for an INVOCATION becomes an ERROR for the CALL."""
        pending = self._by_invocation.get((peer.session_id, msg.request))
        if pending is None:
            return Outcome()
        out = self._finish(pending)
        if pending.canceled in ("skip", "killnowait"):
            return out
        self.counts.call_error(CALL_CALLEE if pending.canceled is None else CALL_CANCELED)
        args, kwargs = unread_arguments(msg)
        error = Error(Call.MESSAGE_TYPE, pending.request, msg.error, args=args, kwargs=kwargs,
                      payload=msg.payload, enc_algo=msg.enc_algo, enc_key=msg.enc_key,
                      enc_serializer=msg.enc_serializer)
        carry_arguments(error, msg)
        return out.send(pending.caller, error)

    def undeliverable_result(self, caller: int, request: int, error: str, text: str) -> Outcome:
        """A RESULT too large for its caller was not sent: the caller gets ERROR ``error``
        instead. A call still sending progressive results ends here, its callee
        interrupted (``killnowait``) if it can be (see :mod:`node.router.oversize`)."""
        self.counts.call_error(CALL_TOO_LARGE)
        out = reply(caller, Error(Call.MESSAGE_TYPE, request, error, args=[text]))
        pending = self._by_call.get((caller, request))
        if pending is not None:
            out.extend(self._finish(pending))
            if pending.canceled is None and _can(self._peers.get(pending.callee), "call_canceling"):
                out.send(pending.callee, Interrupt(pending.invocation, "killnowait", reason=error))
        return out

    def _forget(self, pending: PendingCall) -> None:
        """Drop a call's callee side: from here on no answer of the callee is expected."""
        if self._by_invocation.pop((pending.callee, pending.invocation), None) is not None and self._max_pending:
            held = self._pending_by_caller.get(pending.caller, 0) - 1
            if held > 0:
                self._pending_by_caller[pending.caller] = held
            else:
                self._pending_by_caller.pop(pending.caller, None)

    def _finish(self, pending: PendingCall) -> Outcome:
        self._forget(pending)
        if self._by_call.get((pending.caller, pending.request)) is pending:
            del self._by_call[(pending.caller, pending.request)]
        out = Outcome()
        out.stop_timers.append(pending.timer)
        return out

    # --- cancel, timeout, departures -----------------------------------------

    def cancel(self, peer: Peer, msg: Cancel) -> Outcome:
        pending = self._by_call.get((peer.session_id, msg.request))
        if pending is None or pending.canceled:
            return Outcome()  # already answered: the spec says to ignore the CANCEL
        self.counts.call_cancels += 1
        return self._cancel(pending, msg.mode or "kill", None, "the call was canceled by the caller")

    def timeout(self, timer: Hashable) -> Outcome:
        """The call timer ``timer`` expired: interrupt the callee, tell the caller."""
        if not (isinstance(timer, tuple) and len(timer) == 3):
            return Outcome()
        pending = self._by_call.get((timer[1], timer[2]))
        if pending is None or pending.canceled:
            return Outcome()
        self.counts.call_timeouts += 1
        return self._cancel(pending, "killnowait", "wamp.error.timeout", "the call timed out")

    def _cancel(self, pending: PendingCall, mode: str, reason: Optional[str], text: str) -> Outcome:
        callee = self._peers.get(pending.callee)
        if mode != "skip" and not _can(callee, "call_canceling"):
            mode = "skip"
        pending.canceled = mode
        out = Outcome()
        if mode != "kill":
            out.send(pending.caller, self._canceled(pending, text, CALL_TIMEOUT if reason else CALL_CANCELED))
            # the caller is answered; the callee's late answer is matched and dropped
            if self._by_call.get((pending.caller, pending.request)) is pending:
                del self._by_call[(pending.caller, pending.request)]
            out.stop_timers.append(pending.timer)
        if mode != "skip":
            out.send(pending.callee, Interrupt(pending.invocation, mode, reason=reason))
        if mode == "killnowait":
            self._forget(pending)
        return out

    def _canceled(self, pending: PendingCall, text: str, why: str) -> Error:
        """The caller's ERROR ``wamp.error.canceled``, counted as a call error for ``why``."""
        self.counts.call_error(why)
        return Error(Call.MESSAGE_TYPE, pending.request, CANCELED, args=[text])

    def detach(self, session_id: int) -> Outcome:
        """Forget a session that has gone: callers waiting on it get ERROR at once,
        callees working for it are interrupted, its registrations are removed."""
        out = Outcome()
        for key, pending in list(self._by_invocation.items()):
            if pending.callee == session_id:
                out.extend(self._finish(pending))
                if pending.canceled not in ("skip", "killnowait"):
                    out.send(pending.caller, self._canceled(pending, "the callee went away", CALL_CALLEE_GONE))
            elif pending.caller == session_id:
                out.extend(self._finish(pending))
                callee = self._peers.get(pending.callee)
                if pending.canceled is None and _can(callee, "call_canceling"):
                    out.send(pending.callee, Interrupt(pending.invocation, "killnowait",
                                                       reason="wamp.error.canceled"))
        for key in [k for k in self._by_call if k[0] == session_id]:
            del self._by_call[key]
        self._invocation_ids.pop(session_id, None)
        self._pending_by_caller.pop(session_id, None)
        out.extend(self._held.detach(session_id))
        # never deliver to the session that is gone
        out.sends = [(sid, m) for sid, m in out.sends if sid != session_id]
        return out

    # --- queries for the meta API -------------------------------------------

    def describe(self, reg: Observation) -> dict:
        return {"id": reg.id, "created": iso_utc(reg.created), "uri": reg.uri, "match": reg.match,
                "invoke": reg.extra.invoke}

    def new_invocation_id(self, callee_id: int) -> int:
        """The next INVOCATION request ID towards ``callee_id``; also used for
        invocations relayed from another process, so that both share one sequence."""
        return self._invocation_ids.setdefault(callee_id, SessionScopeIds()).next()

    def ongoing(self, caller: int, request: int) -> bool:
        """True while a progressive call invocation awaits further CALL chunks."""
        pending = self._by_call.get((caller, request))
        return pending is not None and pending.in_progress

    def pending_count(self) -> int:
        return len(self._by_invocation)


def _can(peer: Optional[Peer], feature: str) -> bool:
    return peer is not None and peer.supports("callee", feature)
