"""Protocol violations and session lifecycle: each bad session is aborted alone."""
from __future__ import annotations

from autobahn.wamp import message as m
from twisted.internet.task import Clock

from node.router import Router
from node.router.session import router_roles
from router_fakes import Client, client_roles, joined, realm


def router():
    return Router((realm(),), Clock())


def assert_violation(client, text):
    abort = client.last()
    assert isinstance(abort, m.Abort), abort
    assert abort.reason == "wamp.error.protocol_violation"
    assert text in abort.message
    assert client.transport.closed


def test_message_before_hello_is_protocol_violation():
    """A SUBSCRIBE before HELLO is answered with ABORT protocol_violation naming the message."""
    c = Client(router())
    c.send(m.Subscribe(1, "t"))
    assert_violation(c, "SUBSCRIBE received before HELLO")


def test_second_hello_is_protocol_violation():
    """A second HELLO in an established session aborts it and removes it from the realm."""
    r = router()
    c = joined(r)
    c.send(m.Hello("realm1", roles=client_roles()))
    assert_violation(c, "second HELLO")
    assert r.session_count() == 0


def test_router_only_message_from_client_is_protocol_violation():
    """A message only a router may send (e.g. EVENT) from a client aborts the session."""
    c = joined(router())
    c.send(m.Event(1, 2, args=[1]))
    assert_violation(c, "EVENT")


def test_welcome_from_client_before_hello_is_violation():
    """WELCOME sent by a client is a protocol violation."""
    c = Client(router())
    c.send(m.Welcome(5, router_roles(True)))
    assert_violation(c, "WELCOME")


def test_error_for_non_invocation_is_violation():
    """A client ERROR that does not answer an INVOCATION aborts the session."""
    c = joined(router())
    c.send(m.Error(m.Call.MESSAGE_TYPE, 1, "com.error"))
    assert_violation(c, "ERROR for message type 48")


def test_violation_leaves_other_sessions_untouched():
    """One session's violation does not affect another session's subscriptions."""
    r = router()
    good, bad, pub = joined(r), joined(r), joined(r)
    good.subscribe("t")
    good.take()
    bad.subscribe("t")
    bad.take()
    bad.send(m.Hello("realm1", roles=client_roles()))
    assert bad.transport.closed
    assert isinstance(bad.last(), m.Abort)
    pub.publish("t", 1)
    assert isinstance(good.last(), m.Event)
    assert bad.take() == []


def test_internal_error_aborts_only_that_session(monkeypatch):
    """An unexpected exception while handling a message aborts that session, never raises."""
    r = router()
    c = joined(r)
    realm_router = r.realm("realm1")

    def boom(*a, **k):
        raise RuntimeError("bug")

    monkeypatch.setattr(realm_router.broker, "subscribe", boom)
    c.subscribe("t")
    abort = c.last()
    assert isinstance(abort, m.Abort) and "internal error" in abort.message
    other = joined(r)
    assert r.session_count() == 1 and other.session_id


def test_abort_from_client_closes_and_cleans_up():
    """A client ABORT closes the session and removes its state."""
    r = router()
    c = joined(r)
    c.register("p")
    c.take()
    c.send(m.Abort("wamp.close.system_shutdown"))
    assert c.transport.closed and c.take() == []
    assert r.session_count() == 0 and len(r.realm("realm1").dealer.registrations) == 0


def test_strict_realm_rejects_loose_uri():
    """A realm with uri_check strict answers a non-strict URI with ERROR invalid_uri."""
    r = Router((realm(uri_check="strict"),), Clock())
    c = joined(r)
    req = c.subscribe("com.Example.Topic")
    error = c.last()
    assert isinstance(error, m.Error) and error.error == "wamp.error.invalid_uri" and error.request == req
    c.subscribe("com.example.topic")
    assert isinstance(c.last(), m.Subscribed)


def test_uri_longer_than_max_uri_length_is_refused_in_octets():
    """Every request naming a URI longer than max_uri_length UTF-8 octets gets ERROR
    invalid_uri naming the option (not quoting the URI); a publish without acknowledge is
    dropped; multi-octet characters count as octets; the meta API refuses such URIs too."""
    r = Router((realm(max_uri_length=2048),), Clock())
    c, callee = joined(r), joined(r)
    callee.register("com.", match="prefix")
    callee.take()
    long_uri = "com." + "x" * 3000
    for send in (lambda: c.subscribe(long_uri), lambda: c.register(long_uri), lambda: c.call(long_uri),
                 lambda: c.publish(long_uri, acknowledge=True), lambda: c.subscribe(long_uri, match="prefix")):
        req = send()
        error = c.last()
        assert (error.request, error.error) == (req, "wamp.error.invalid_uri")
        assert "max_uri_length" in error.args[0] and "2048" in error.args[0] and "xxx" not in error.args[0]
    c.publish(long_uri)
    assert not c.take() and not callee.take()
    c.subscribe("com." + "\u00e9" * 1100)  # 1,104 characters, 2,204 octets
    assert "2204 octets" in c.last().args[0]
    c.subscribe("com." + "\u00e9" * 1000)  # 2,004 octets
    assert isinstance(c.last(), m.Subscribed)
    c.call("wamp.subscription.match", long_uri)
    assert c.last().error == "wamp.error.invalid_uri"
    c.call("wamp.session.add_testament", long_uri, [], {})
    assert c.last().error == "wamp.error.invalid_uri"


def test_registering_wamp_uri_is_refused():
    """Procedures under wamp. are reserved for the router: REGISTER gets invalid_uri."""
    c = joined(router())
    c.register("wamp.session.count")
    assert c.last().error == "wamp.error.invalid_uri"


def test_non_sequential_request_ids_are_accepted():
    """Random (non-sequential) request IDs, as PyPI wampy sends, work."""
    r = router()
    a, b = joined(r), joined(r)
    a.send(m.Register(987654321, "p"))
    assert a.last().request == 987654321
    b.send(m.Call(5555, "p"))
    inv = a.last()
    a.send(m.Yield(inv.request, args=[1]))
    assert b.last().request == 5555


def test_late_messages_after_close_are_ignored():
    """Messages arriving after the session closed are dropped silently."""
    r = router()
    c = joined(r)
    c.session.onClose(True)
    c.session.onMessage(m.Publish(1, "t"))
    assert r.session_count() == 0
