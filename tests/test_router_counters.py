"""The router's plain counts (node.router.counters): what each message, session end and call error adds.

Real Router and RouterSession objects over the in-memory transport of router_fakes; the
metrics path reads exactly these numbers (tests/test_metrics.py checks them through Prometheus).
"""
from __future__ import annotations

from autobahn.wamp import message as m
from twisted.internet.task import Clock

from node.router import Router
from router_fakes import Client, realm


def joined(router: Router) -> Client:
    client = Client(router)
    assert isinstance(client.hello(), m.Welcome)
    return client


def test_messages_sessions_and_close_reasons():
    router = Router((realm(),), Clock())
    counts = router.counts
    a, b, c, d, e = (joined(router) for _ in range(5))
    realm1 = router.realm("realm1")
    assert realm1.counts.opened == 5 and realm1.counts.session_count() == 5
    assert counts.received[m.Hello.MESSAGE_TYPE] == 5  # sent ones are counted by the transports
    assert counts.auth_ok == {"anonymous": 5}
    a.send(m.Goodbye())
    b.send(m.Abort("wamp.close.normal"))
    c.hello()  # a second HELLO: a protocol violation
    realm1.kill(d.session_id, None, None)
    e.session.onClose(False)  # the connection went without a goodbye
    closed = realm1.counts.closed
    assert (closed["goodbye"], closed["abort"], closed["violation"], closed["killed"], closed["lost"]) == (1, 1, 1, 1, 1)
    assert realm1.counts.session_count() == 0
    assert sum(listener.violations for listener in router.listeners) == 1


def test_publications_events_and_call_errors():
    clock = Clock()
    router = Router((realm(),), clock)
    publisher, subscriber, callee, caller = (joined(router) for _ in range(4))
    subscriber.subscribe("com.topic")
    callee.register("com.proc")
    for _ in (subscriber, callee):
        _.take()
    for i in range(3):
        publisher.publish("com.topic", i)
    counts = router.realm("realm1").counts
    assert counts.publications == 3 and counts.events == 3
    caller.call("com.proc", 1)
    invocation = callee.last()
    callee.send(m.Yield(invocation.request, args=[2]))
    caller.call("com.proc", 2)
    callee.send(m.Error(m.Invocation.MESSAGE_TYPE, callee.last().request, "com.error.bad"))
    caller.call("com.missing")
    caller.call("com.proc", timeout=1000)
    clock.advance(2)
    request = caller.call("com.proc")
    caller.send(m.Cancel(request, mode="skip"))
    assert counts.calls == 5
    errors = counts.call_errors
    assert (errors["callee"], errors["no_such_procedure"], errors["timeout"], errors["canceled"]) == (1, 1, 1, 1)
    assert counts.call_timeouts == 1 and counts.call_cancels == 1
    assert router.counts.received[m.Call.MESSAGE_TYPE] == 5
    reg = router.realm("realm1").dealer.registrations.get("com.proc")
    assert reg.hits == 4  # the dashboard's busiest procedures
