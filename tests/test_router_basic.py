"""Basic Profile routing, driven through sessions with an in-memory transport."""
from __future__ import annotations

from autobahn.wamp import message as m
from twisted.internet.task import Clock

from node.router import Router
from router_fakes import Client, joined, realm


def make_router(**kwargs):
    return Router((realm(**kwargs),), Clock())


def test_hello_gets_welcome_with_anonymous_identity():
    """An anonymous HELLO on an open transport is welcomed with authrole anonymous and router roles."""
    router = make_router()
    client = Client(router)
    welcome = client.hello("realm1")
    assert isinstance(welcome, m.Welcome)
    assert 1 <= welcome.session <= 2**53
    assert welcome.authrole == "anonymous" and welcome.authmethod == "anonymous"
    assert welcome.realm == "realm1"
    assert set(welcome.roles) == {"broker", "dealer"}
    assert router.session_count() == 1


def test_unknown_realm_is_aborted():
    """A HELLO naming a realm the node does not have gets ABORT no_such_realm and a close."""
    client = Client(make_router())
    abort = client.hello("nope")
    assert isinstance(abort, m.Abort) and abort.reason == "wamp.error.no_such_realm"
    assert "nope" in abort.message
    assert client.transport.closed


def test_publish_reaches_subscriber_but_not_publisher():
    """An event is delivered to other subscribers and, by default (exclude_me), not to the publisher."""
    router = make_router()
    a, b = joined(router), joined(router)
    a.subscribe("com.topic")
    sub_a = a.last()
    b.subscribe("com.topic")
    sub_b = b.last()
    assert isinstance(sub_a, m.Subscribed) and sub_a.subscription == sub_b.subscription
    b.publish("com.topic", 1, "two")
    event = a.last()
    assert isinstance(event, m.Event) and event.args == [1, "two"]
    assert event.subscription == sub_a.subscription
    assert b.take() == []


def test_publish_acknowledge_and_exclude_me_false():
    """With acknowledge the publisher gets PUBLISHED; with exclude_me false it gets its own event."""
    router = make_router()
    a = joined(router)
    a.subscribe("com.topic")
    a.take()
    req = a.publish("com.topic", "x", acknowledge=True, exclude_me=False)
    received = a.take()
    kinds = sorted(type(x).__name__ for x in received)
    assert kinds == ["Event", "Published"]
    published = [x for x in received if isinstance(x, m.Published)][0]
    event = [x for x in received if isinstance(x, m.Event)][0]
    assert published.request == req and published.publication == event.publication


def test_unsubscribe_stops_events():
    """After UNSUBSCRIBED a session receives no more events for that topic."""
    router = make_router()
    a, b = joined(router), joined(router)
    a.subscribe("t")
    sub = a.last().subscription
    r = a.request()
    a.send(m.Unsubscribe(r, sub))
    assert isinstance(a.last(), m.Unsubscribed)
    b.publish("t", 1)
    assert a.take() == []


def test_unsubscribe_unknown_subscription_is_error():
    """UNSUBSCRIBE of a subscription the session does not hold gets ERROR no_such_subscription."""
    a = joined(make_router())
    a.send(m.Unsubscribe(7, 12345))
    error = a.last()
    assert isinstance(error, m.Error) and error.error == "wamp.error.no_such_subscription"
    assert error.request_type == m.Unsubscribe.MESSAGE_TYPE and error.request == 7


def test_call_is_invoked_and_result_returned():
    """CALL becomes INVOCATION at the callee, and its YIELD becomes the caller's RESULT."""
    router = make_router()
    callee, caller = joined(router), joined(router)
    callee.register("com.add")
    registered = callee.last()
    assert isinstance(registered, m.Registered)
    req = caller.call("com.add", 2, 3)
    invocation = callee.last()
    assert isinstance(invocation, m.Invocation)
    assert invocation.registration == registered.registration and invocation.args == [2, 3]
    callee.send(m.Yield(invocation.request, args=[5]))
    result = caller.last()
    assert isinstance(result, m.Result) and result.request == req and result.args == [5]


def test_callee_error_is_forwarded_to_caller():
    """An ERROR for an INVOCATION reaches the caller as an ERROR for its CALL, with args."""
    router = make_router()
    callee, caller = joined(router), joined(router)
    callee.register("com.fail")
    callee.take()
    req = caller.call("com.fail")
    invocation = callee.last()
    callee.send(m.Error(m.Invocation.MESSAGE_TYPE, invocation.request, "com.error.bad", args=["why"]))
    error = caller.last()
    assert isinstance(error, m.Error) and error.request == req
    assert error.request_type == m.Call.MESSAGE_TYPE and error.error == "com.error.bad" and error.args == ["why"]


def test_call_without_callee_is_no_such_procedure():
    """A CALL to a procedure nobody registered gets ERROR no_such_procedure."""
    caller = joined(make_router())
    caller.call("com.none")
    error = caller.last()
    assert isinstance(error, m.Error) and error.error == "wamp.error.no_such_procedure"


def test_second_register_is_procedure_already_exists():
    """A second REGISTER of the same procedure (single policy) gets procedure_already_exists."""
    router = make_router()
    a, b = joined(router), joined(router)
    a.register("p")
    a.take()
    b.register("p")
    error = b.last()
    assert isinstance(error, m.Error) and error.error == "wamp.error.procedure_already_exists"


def test_unregister_removes_procedure():
    """After UNREGISTERED the procedure is gone and calls get no_such_procedure."""
    router = make_router()
    callee, caller = joined(router), joined(router)
    callee.register("p")
    reg = callee.last().registration
    callee.send(m.Unregister(9, reg))
    assert isinstance(callee.last(), m.Unregistered)
    caller.call("p")
    assert caller.last().error == "wamp.error.no_such_procedure"


def test_goodbye_gets_goodbye_normal_and_close():
    """A client GOODBYE with any reason is answered by GOODBYE wamp.close.normal (as Crossbar.io), then close."""
    router = make_router()
    a = joined(router)
    a.send(m.Goodbye("com.whatever.reason"))
    reply = a.last()
    assert isinstance(reply, m.Goodbye) and reply.reason == "wamp.close.normal"
    assert a.transport.closed
    assert router.session_count() == 0


def test_close_cleans_up_subscriptions_and_registrations():
    """When a connection closes its subscriptions and registrations disappear."""
    router = make_router()
    a, b = joined(router), joined(router)
    a.subscribe("t")
    a.register("p")
    a.take()
    a.session.onClose(False)
    assert router.session_count() == 1
    b.call("p")
    assert b.last().error == "wamp.error.no_such_procedure"
    r = router.realm("realm1")
    assert len(r.broker.subscriptions) == 0 and len(r.dealer.registrations) == 0


def test_callee_leaving_answers_pending_caller():
    """A caller whose callee disconnects mid-call gets ERROR canceled at once, never a hang."""
    router = make_router()
    callee, caller = joined(router), joined(router)
    callee.register("slow")
    callee.take()
    req = caller.call("slow")
    assert isinstance(callee.last(), m.Invocation)
    callee.session.onClose(False)
    error = caller.last()
    assert isinstance(error, m.Error) and error.request == req and error.error == "wamp.error.canceled"


def test_routing_core_imports_no_reactor():
    """Routing a full pub/sub and RPC exchange never imports the Twisted reactor."""
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys; sys.path.insert(0, 'tests'); from router_fakes import joined, realm; "
        "from node.router import Router; from twisted.internet.task import Clock; "
        "r = Router((realm(),), Clock()); a, b = joined(r), joined(r); "
        "a.subscribe('t'); b.publish('t', 1); a.register('p'); b.call('p', timeout=0); "
        "print('twisted.internet.reactor' in sys.modules)"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
