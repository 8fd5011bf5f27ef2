"""Dealer features: pattern and shared registrations, progress, timeout, cancel."""
from __future__ import annotations

import pytest
from autobahn.wamp import message as m
from twisted.internet.task import Clock

from node.router import Router
from node.wire.messages import ProgressiveCall
from router_fakes import client_roles, joined, realm


def setup(n_callees=1, clock=None, **hello):
    r = Router((realm(),), clock=clock)
    callees = [joined(r, **hello) for _ in range(n_callees)]
    return r, callees, joined(r)


def test_pattern_registration_gets_procedure_detail():
    """A prefix or wildcard registration is invoked with the concrete procedure in the details."""
    r, (callee,), caller = setup()
    callee.register("com.api.", match="prefix")
    callee.register("com..get", match="wildcard")
    prefix_id, wildcard_id = [x.registration for x in callee.take()]
    caller.call("com.api.anything")
    inv = callee.last()
    assert inv.registration == prefix_id and inv.procedure == "com.api.anything"
    callee.send(m.Yield(inv.request))
    caller.take()
    caller.call("com.x.get")
    inv = callee.last()
    assert inv.registration == wildcard_id and inv.procedure == "com.x.get"


def test_exact_registration_beats_prefix():
    """With an exact and a prefix registration for a URI, the exact one is invoked."""
    r, (a, b), caller = setup(2)
    a.register("com.p", match="prefix")
    b.register("com.p.q")
    a.take(), b.take()
    caller.call("com.p.q")
    assert b.take() and not a.take()


@pytest.mark.parametrize("policy, expected", [
    ("first", [0, 0, 0, 0]),
    ("last", [2, 2, 2, 2]),
    ("roundrobin", [0, 1, 2, 0]),
])
def test_shared_registration_policies(policy, expected):
    """Shared registrations spread calls by their invoke policy."""
    r, callees, caller = setup(3)
    for c in callees:
        c.register("shared", invoke=policy)
        assert isinstance(c.last(), m.Registered)
    chosen = []
    for _ in range(4):
        caller.call("shared")
        for i, c in enumerate(callees):
            for inv in c.take():
                chosen.append(i)
                c.send(m.Yield(inv.request))
    assert chosen == expected


def test_random_policy_uses_every_callee_eventually():
    """The random policy invokes one callee per call, drawn among all of them."""
    r, callees, caller = setup(2)
    for c in callees:
        c.register("rnd", invoke="random")
        c.take()
    seen = set()
    for _ in range(60):
        caller.call("rnd")
        hits = [i for i, c in enumerate(callees) for inv in c.take() if c.send(m.Yield(inv.request)) is None]
        assert len(hits) == 1
        seen.update(hits)
    assert seen == {0, 1}


def test_mixing_invoke_policies_is_refused():
    """Registering a shared procedure with a different invoke policy is an error."""
    r, (a, b), _ = setup(2)
    a.register("p", invoke="roundrobin")
    a.take()
    b.register("p", invoke="random")
    assert b.last().error == "wamp.error.procedure_exists_with_different_invocation_policy"


def test_force_reregister_takes_over_and_revokes_old_callee():
    """force_reregister moves a single registration to the new callee; the old one gets UNREGISTERED."""
    r, (old, new), caller = setup(2)
    old.register("p")
    old.take()
    new.register("p", force_reregister=True)
    assert isinstance(new.last(), m.Registered)
    revoked = old.last()
    assert isinstance(revoked, m.Unregistered) and revoked.request == 0 and revoked.registration
    caller.call("p")
    assert isinstance(new.last(), m.Invocation) and old.take() == []


def test_progressive_results_reach_caller_that_asked():
    """Progressive YIELDs become progressive RESULTs for a caller that set receive_progress."""
    r, (callee,), caller = setup()
    callee.register("p")
    callee.take()
    req = caller.call("p", receive_progress=True)
    inv = callee.last()
    assert inv.receive_progress is True
    callee.send(m.Yield(inv.request, args=[1], progress=True))
    callee.send(m.Yield(inv.request, args=[2], progress=True))
    callee.send(m.Yield(inv.request, args=[3]))
    results = caller.take()
    assert [(x.request, x.args, x.progress) for x in results] == [(req, [1], True), (req, [2], True), (req, [3], None)]


def test_progressive_yield_dropped_for_caller_that_did_not_ask():
    """Progressive YIELDs are not forwarded to a caller that did not ask for progress."""
    r, (callee,), caller = setup()
    callee.register("p")
    callee.take()
    caller.call("p")
    inv = callee.last()
    callee.send(m.Yield(inv.request, args=[1], progress=True))
    assert caller.take() == []
    callee.send(m.Yield(inv.request, args=[2]))
    assert caller.last().args == [2]


def test_progressive_call_invocations_go_to_the_same_callee():
    """CALL chunks with progress=true continue one INVOCATION at the same callee until the final chunk."""
    r, callees, caller = setup(2)
    for c in callees:
        c.register("upload", invoke="roundrobin")
        c.take()
    req = caller.request()
    for i, progress in enumerate([True, True, None]):
        caller.send(ProgressiveCall(req, "upload", args=[i], progress=progress))
    got = callees[0].take()
    assert callees[1].take() == []
    assert [(x.args, x.progress) for x in got] == [([0], True), ([1], True), ([2], None)]
    assert len({x.request for x in got}) == 1
    callees[0].send(m.Yield(got[0].request, args=["done"]))
    assert caller.last().args == ["done"]


def test_call_timeout_cancels_invocation_and_answers_caller():
    """A call with timeout that the callee does not answer in time gets ERROR canceled; the callee an INTERRUPT."""
    clock = Clock()
    r, (callee,), caller = setup(clock=clock)
    callee.register("slow")
    callee.take()
    req = caller.call("slow", timeout=1500)
    inv = callee.last()
    clock.advance(1.4)
    assert caller.take() == []
    clock.advance(0.2)
    error = caller.last()
    assert error.request == req and error.error == "wamp.error.canceled"
    interrupt = callee.last()
    assert isinstance(interrupt, m.Interrupt) and interrupt.request == inv.request
    callee.send(m.Yield(inv.request, args=["late"]))
    assert caller.take() == []


def test_answered_call_stops_its_timer():
    """A call answered before its timeout leaves no timer running."""
    clock = Clock()
    r, (callee,), caller = setup(clock=clock)
    callee.register("p")
    callee.take()
    caller.call("p", timeout=1000)
    callee.send(m.Yield(callee.last().request))
    caller.take()
    assert clock.getDelayedCalls() == []


@pytest.mark.parametrize("mode", ["skip", "kill", "killnowait"])
def test_cancel_modes(mode):
    """skip answers at once without INTERRUPT; killnowait answers at once and interrupts;
    kill interrupts and answers with the callee's reply."""
    r, (callee,), caller = setup()
    callee.register("p")
    callee.take()
    req = caller.call("p")
    inv = callee.last()
    caller.send(m.Cancel(req, mode=mode))
    to_callee = callee.take()
    to_caller = caller.take()
    assert [type(x) for x in to_callee] == ([] if mode == "skip" else [m.Interrupt])
    if mode == "kill":
        assert to_caller == []
        callee.send(m.Error(m.Invocation.MESSAGE_TYPE, inv.request, "wamp.error.canceled"))
        to_caller = caller.take()
    else:
        callee.send(m.Yield(inv.request, args=["late"]))
        assert caller.take() == []
    (error,) = to_caller
    assert error.request == req and error.error == "wamp.error.canceled"


def test_cancel_to_callee_without_canceling_feature_is_skip():
    """A callee that did not announce call_canceling never gets INTERRUPT; the caller is answered at once."""
    r = Router((realm(),), Clock())
    callee = joined(r, roles=client_roles(canceling=False))
    caller = joined(r)
    callee.register("p")
    callee.take()
    req = caller.call("p")
    callee.take()
    caller.send(m.Cancel(req, mode="kill"))
    assert callee.take() == []
    assert caller.last().error == "wamp.error.canceled"


def test_caller_leaving_interrupts_callee():
    """When the caller disconnects, its callee gets an INTERRUPT and the late YIELD goes nowhere."""
    r, (callee,), caller = setup()
    callee.register("p")
    callee.take()
    caller.call("p")
    inv = callee.last()
    caller.session.onClose(False)
    interrupt = callee.last()
    assert isinstance(interrupt, m.Interrupt) and interrupt.request == inv.request
    callee.send(m.Yield(inv.request))
    assert callee.take() == []


def test_registration_meta_events():
    """Registering and unregistering publish on_create, on_register, on_unregister and on_delete."""
    r, (callee,), watcher = setup()
    for t in ("on_create", "on_register", "on_unregister", "on_delete"):
        watcher.subscribe("wamp.registration." + t)
    watcher.take()
    callee.register("com.p")
    reg = callee.last().registration
    callee.send(m.Unregister(callee.request(), reg))
    got = [e.args for e in watcher.take()]
    assert got[0][1]["uri"] == "com.p" and got[0][1]["invoke"] == "single"
    assert got[1:] == [[callee.session_id, reg]] * 3


def test_force_reregister_revokes_silently_without_revocation_feature():
    """A displaced callee that did not announce registration_revocation gets no UNREGISTERED."""
    r = Router((realm(),), Clock())
    roles = client_roles()
    roles["callee"].registration_revocation = None
    old = joined(r, roles=roles)
    new = joined(r)
    old.register("p")
    old.take()
    new.register("p", force_reregister=True)
    assert isinstance(new.last(), m.Registered) and old.take() == []


def test_reused_request_id_does_not_inherit_the_old_timer():
    """A client that reuses a pending call's request id gets the new call's timeout, not the old one's."""
    clock = Clock()
    r, (callee,), caller = setup(clock=clock)
    callee.register("p")
    callee.take()
    caller.send(m.Call(77, "p", timeout=1000))
    caller.send(m.Call(77, "p", timeout=5000))
    clock.advance(1.5)
    assert [x for x in caller.take() if isinstance(x, m.Error)] == []
    assert len(clock.getDelayedCalls()) == 1


# --- per-session limits (issue 19, finding 20) -----------------------------------------


def limited(**limits):
    r = Router((realm(**limits),), Clock())
    return r, joined(r), joined(r)


def test_registration_limit_per_session():
    """A session holding max_registrations_per_session registrations gets ERROR
    wamp.error.limit_exceeded naming the option; after an unregister it may register again."""
    r, callee, other = limited(max_registrations_per_session=2)
    callee.register("p1")
    callee.register("p.", match="prefix")
    held = [x.registration for x in callee.take()]
    callee.register("p3")
    error = callee.last()
    assert isinstance(error, m.Error) and error.error == "wamp.error.limit_exceeded"
    assert "max_registrations_per_session" in error.args[0]
    other.register("p3")
    assert isinstance(other.last(), m.Registered)  # the limit is per session
    callee.send(m.Unregister(callee.request(), held[0]))
    callee.take()
    callee.register("p4")
    assert isinstance(callee.last(), m.Registered)


def test_pending_call_limit_per_session():
    """A caller with max_pending_calls_per_session calls waiting gets ERROR
    wamp.error.limit_exceeded for one more; an answered call frees its place, a call
    canceled with skip holds it until the callee answers, a gone callee frees them all."""
    r, callee, caller = limited(max_pending_calls_per_session=2)
    callee.register("slow")
    callee.take()
    first, second = caller.call("slow"), caller.call("slow")
    third = caller.call("slow")
    error = caller.last()
    assert error.request == third and error.error == "wamp.error.limit_exceeded"
    assert "max_pending_calls_per_session" in error.args[0]
    other = joined(r)
    other.call("slow")
    invocations = callee.take()
    assert len(invocations) == 3  # two of the caller's, one of the other session's: per session
    callee.send(m.Yield(invocations[0].request))  # answers the caller's first call
    result = caller.last()
    assert isinstance(result, m.Result) and result.request == first
    caller.call("slow")
    assert not caller.take()  # accepted: invoked, waiting
    caller.send(m.Cancel(second, mode="skip"))
    assert caller.last().error == "wamp.error.canceled"
    caller.call("slow")
    assert caller.last().error == "wamp.error.limit_exceeded"  # the skipped call still holds its place
    callee.send(m.Goodbye())
    callee.take(), caller.take()
    replacement = joined(r)
    replacement.register("slow")
    replacement.take()
    caller.call("slow")
    assert not caller.take() and len(replacement.take()) == 1


def test_router_own_calls_are_not_limited():
    """The router's own session (dynamic authorizers) is not held to the pending call limit."""
    r, callee, _ = limited(max_pending_calls_per_session=1)
    callee.register("com.authorize")
    callee.take()
    internal = r.realm("realm1").internal_caller()
    answers = [internal.call("com.authorize", [i]) for i in range(5)]
    assert len(callee.take()) == 5 and all(not d.called for d in answers)
