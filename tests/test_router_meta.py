"""The meta API: wamp.session.*, wamp.registration.*, wamp.subscription.*, testaments."""
from __future__ import annotations

from autobahn.wamp import message as m

from twisted.internet.task import Clock

from node.config.fragments import auth_method
from node.router import Router
from router_fakes import allow_all, joined, permission, realm, role


def call(client, procedure, *args, **kwargs):
    req = client.request()
    client.send(m.Call(req, procedure, args=list(args), kwargs=kwargs or None))
    reply = [x for x in client.take() if getattr(x, "request", None) == req][0]
    return reply


def test_session_count_list_get():
    """wamp.session.count/list/get describe the joined sessions of the realm."""
    r = Router((realm(), realm("other")), Clock())
    a, b = joined(r, authid="a"), joined(r, authid="b")
    joined(r, "other")
    assert call(a, "wamp.session.count").args == [2]
    assert sorted(call(a, "wamp.session.list").args[0]) == sorted([a.session_id, b.session_id])
    details = call(a, "wamp.session.get", b.session_id).args[0]
    assert details["authid"] == "b" and details["authrole"] == "anonymous" and details["session"] == b.session_id
    assert call(a, "wamp.session.get", 42).error == "wamp.error.no_such_session"
    assert call(a, "wamp.session.count", ["nobody"]).args == [0]


def test_session_kill_sends_goodbye_and_cleans_up():
    """wamp.session.kill sends the target GOODBYE, removes it, and its reply GOODBYE closes it."""
    r = Router((realm(),), clock=Clock())
    admin, victim = joined(r), joined(r)
    victim.register("p")
    victim.take()
    assert isinstance(call(admin, "wamp.session.kill", victim.session_id, reason="com.reason.bye"), m.Result)
    goodbye = victim.last()
    assert isinstance(goodbye, m.Goodbye) and goodbye.reason == "com.reason.bye"
    assert r.session_count() == 1
    victim.send(m.Goodbye("wamp.close.goodbye_and_out"))
    assert victim.transport.closed
    assert call(admin, "wamp.session.kill", admin.session_id).error == "wamp.error.invalid_argument"


def test_kill_by_authid_and_authrole():
    """kill_by_authid and kill_by_authrole kill the matching sessions (not the caller) and list them."""
    auth = lambda role: (auth_method("anonymous", "static", {"role": role}),)  # noqa: E731
    r = Router((realm(),), clock=Clock())
    admin = joined(r, auth=auth("admin"), authid="x")
    x2 = joined(r, auth=auth("user"), authid="x")
    y = joined(r, auth=auth("user"), authid="y")
    assert call(admin, "wamp.session.kill_by_authid", "x").args == [[x2.session_id]]
    assert call(admin, "wamp.session.kill_by_authrole", "user").args == [[y.session_id]]
    assert r.session_count() == 1


def test_registration_queries():
    """wamp.registration.list/lookup/match/get/list_callees/count_callees describe registrations."""
    r = Router((realm(),), Clock())
    a, b, q = joined(r), joined(r), joined(r)
    a.register("com.p", invoke="roundrobin")
    reg = a.last().registration
    b.register("com.p", invoke="roundrobin")
    b.take()
    a.register("com.", match="prefix")
    prefix = a.last().registration
    listing = call(q, "wamp.registration.list").args[0]
    assert listing["exact"] == [reg] and listing["prefix"] == [prefix] and listing["wildcard"] == []
    assert call(q, "wamp.registration.lookup", "com.p").args == [reg]
    assert call(q, "wamp.registration.lookup", "com.", {"match": "prefix"}).args == [prefix]
    assert call(q, "wamp.registration.lookup", "nope").args == [None]
    assert call(q, "wamp.registration.match", "com.zzz").args == [prefix]
    assert call(q, "wamp.registration.get", reg).args[0]["invoke"] == "roundrobin"
    assert sorted(call(q, "wamp.registration.list_callees", reg).args[0]) == sorted([a.session_id, b.session_id])
    assert call(q, "wamp.registration.count_callees", reg).args == [2]
    assert call(q, "wamp.registration.get", 1).error == "wamp.error.no_such_registration"


def test_subscription_queries():
    """wamp.subscription.list/lookup/match/get/list_subscribers/count_subscribers describe subscriptions."""
    r = Router((realm(),), Clock())
    a, q = joined(r), joined(r)
    a.subscribe("com.t")
    sub = a.last().subscription
    a.subscribe("com..", match="wildcard")
    wild = a.last().subscription
    assert call(q, "wamp.subscription.list").args[0]["wildcard"] == [wild]
    assert call(q, "wamp.subscription.lookup", "com.t").args == [sub]
    assert sorted(call(q, "wamp.subscription.match", "com.t.x").args[0]) == [wild]
    assert call(q, "wamp.subscription.match", "org").args == [None]
    assert call(q, "wamp.subscription.get", sub).args[0]["uri"] == "com.t"
    assert call(q, "wamp.subscription.list_subscribers", sub).args == [[a.session_id]]
    assert call(q, "wamp.subscription.count_subscribers", sub).args == [1]
    assert call(q, "wamp.subscription.count_subscribers", "x").error == "wamp.error.invalid_argument"


def test_meta_access_is_governed_by_roles():
    """A role without permission on wamp.session.count is refused with not_authorized."""
    roles = (role("user", allow_all("com.", "prefix")), role("admin", allow_all()))
    r = Router((realm(roles=roles),), Clock())
    user = joined(r, auth=(auth_method("anonymous", "static", {"role": "user"}),))
    assert call(user, "wamp.session.count").error == "wamp.error.not_authorized"


def test_testament_published_when_session_goes_away():
    """A testament added by a session is published when its connection closes, and not after a flush."""
    r = Router((realm(),), Clock())
    watcher, dying = joined(r), joined(r)
    watcher.subscribe("com.gone")
    watcher.take()
    assert isinstance(call(dying, "wamp.session.add_testament", "com.gone", ["bye"], {"who": "d"}), m.Result)
    dying.session.onClose(False)
    event = watcher.last()
    assert event.args == ["bye"] and event.kwargs == {"who": "d"}
    flusher = joined(r)
    call(flusher, "wamp.session.add_testament", "com.gone", ["x"], {})
    assert call(flusher, "wamp.session.flush_testaments").args == [1]
    flusher.session.onClose(False)
    assert watcher.take() == []


def test_testament_with_malformed_options_is_refused_and_leaving_still_cleans_up():
    """add_testament and flush_testaments refuse bad publish_options or scope; the session's leave still answers its callers."""
    r = Router((realm(),), Clock())
    caller, dying = joined(r), joined(r)
    for options in ({"retain": ["x"]}, {"exclude": ["x"]}, {"exclude": False}, {"eligible_authid": [1]}):
        reply = call(dying, "wamp.session.add_testament", "com.gone", [], {}, publish_options=options)
        assert reply.error == "wamp.error.invalid_argument", options
    assert call(dying, "wamp.session.flush_testaments", scope=["x"]).error == "wamp.error.invalid_argument"
    assert isinstance(call(dying, "wamp.session.add_testament", "com.gone", [], {},
                           publish_options={"exclude": [1], "retain": True}), m.Result)
    dying.register("com.p")
    dying.take()
    caller.call("com.p")
    dying.session.onClose(False)
    assert [x.error for x in caller.take()] == ["wamp.error.canceled"]
    assert r.session_count() == 1


def test_testament_requires_publish_permission():
    """add_testament for a topic the role may not publish to is refused."""
    roles = (role("user", permission("wamp.session.add_testament", call=True)),)
    r = Router((realm(roles=roles),), Clock())
    user = joined(r, auth=(auth_method("anonymous", "static", {"role": "user"}),))
    assert call(user, "wamp.session.add_testament", "com.t", [], {}).error == "wamp.error.not_authorized"


def test_killed_session_that_never_answers_is_closed():
    """A killed session that does not answer GOODBYE is closed after the goodbye timeout."""
    clock = Clock()
    r = Router((realm(),), clock=clock)
    admin, victim = joined(r), joined(r)
    call(admin, "wamp.session.kill", victim.session_id)
    assert not victim.transport.closed
    clock.advance(5.1)
    assert victim.transport.closed


def test_id_arguments_may_be_integral_floats():
    """An ID argument sent back as an integral float (cbor-x, wampy.js's CBOR, does that above 2^32)
    is that ID, as in WAMP messages; a fraction is still an invalid argument."""
    r = Router((realm(),), Clock())
    a, b = joined(r, authid="a"), joined(r, authid="b")
    reply = call(a, "wamp.session.get", float(b.session_id))
    assert isinstance(reply, m.Result) and reply.args[0]["authid"] == "b", reply
    b.subscribe("com.t")
    subscription = b.last().subscription
    assert call(a, "wamp.subscription.count_subscribers", float(subscription)).args == [1]
    assert call(a, "wamp.session.get", 1.5).error == "wamp.error.invalid_argument"
