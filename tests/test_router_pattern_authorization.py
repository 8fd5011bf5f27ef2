"""Pattern subscriptions and registrations get only what the role grants (issue 19, findings 3 and 13).

A prefix or wildcard subscription is authorized against its pattern string, but it
must only ever receive events on topics the subscriber's role may subscribe to: live
events, retained events (``get_retained``) and event history alike. A pattern
registration must only be invoked for procedures its callee's role may register.
``wamp.subscription.get_events`` admits an event to a reader as live delivery would:
the publication's exclude/eligible lists, ``exclude_me``, and the reader's subscribe
permission on the event's topic. A dynamic role's pattern needs the authorizer's
explicit grant for that match policy.
"""
from __future__ import annotations

import json
import re

from autobahn.wamp import message as m
from twisted.internet.task import Clock

from node.config.build import build_realm
from node.config.fragments import auth_method
from node.config.model import EventHistory
from node.config.validation import with_defaults
from node.router import Router
from conftest import REPO
from router_fakes import Client, allow_all, joined, permission, realm, role
from test_cluster_routing import cluster

ALLOWED = "com.example.allowed"


def anonymous_as(role_name):
    return (auth_method("anonymous", "static", {"role": role_name}),)


def member(router, role_name, realm_name="realm1", **hello):
    """A joined client of ``role_name``; ``client.authid`` is the authid the router assigned."""
    client = Client(router, anonymous_as(role_name))
    welcome = client.hello(realm_name, **hello)
    assert isinstance(welcome, m.Welcome), welcome
    client.authid = welcome.authid
    return client


def events(client):
    return [x for x in client.take() if isinstance(x, m.Event)]


def topics(client):
    return sorted(e.topic or "<exact>" for e in events(client))


def subscribed(client, topic, **options):
    client.subscribe(topic, **options)
    reply = client.take()
    assert isinstance(reply[0], m.Subscribed), reply
    return reply[0].subscription, reply[1:]


def registered(client, procedure, **options):
    client.register(procedure, **options)
    reply = client.last()
    assert isinstance(reply, m.Registered), reply
    return reply.registration


def answer_invocations(callee, result):
    """Answer what ``callee`` was invoked with; return the procedures it saw."""
    seen = []
    for inv in callee.take():
        if isinstance(inv, m.Invocation):
            seen.append(inv.procedure)
            callee.send(m.Yield(inv.request, args=[result]))
    return seen


LIMITED = role("limited", permission(ALLOWED, subscribe=True, register=True, call=True))
SECRET = role("reader", permission("com.example.pub.", "prefix", subscribe=True),
              permission("com.example.pub.secret", subscribe=False))
ROLES = (role("backend", allow_all()), LIMITED, SECRET)


# --- live events ------------------------------------------------------------------


def test_prefix_subscription_on_an_exact_grant_gets_only_that_topic():
    """An exact permission on com.example.allowed lets a prefix subscription to it be made,
    but it receives only com.example.allowed, not .admin nor com.example.allowedX."""
    r = Router((realm(roles=ROLES),), Clock())
    backend, limited = member(r, "backend"), member(r, "limited")
    subscribed(limited, ALLOWED, match="prefix")
    for topic in (ALLOWED + ".admin", ALLOWED + "X", ALLOWED):
        backend.publish(topic, "x")
    assert topics(limited) == [ALLOWED]


def test_exact_deny_holds_against_prefix_and_wildcard_subscriptions():
    """An exact deny on com.example.pub.secret is not bypassed by a prefix subscription to
    com.example.pub. nor by the wildcard com.example.pub. (or com.example..secret)."""
    r = Router((realm(roles=ROLES),), Clock())
    backend, reader = member(r, "backend"), member(r, "reader")
    subscribed(reader, "com.example.pub.", match="prefix")
    subscribed(reader, "com.example.pub.", match="wildcard")
    backend.publish("com.example.pub.secret", "no")
    assert events(reader) == []
    backend.publish("com.example.pub.news", "yes")
    assert [e.args for e in events(reader)] == [["yes"], ["yes"]]


def test_same_event_reaches_only_the_roles_that_may_have_it():
    """One prefix subscription held by a session that may receive the topic and one that
    may not: the event goes to the first only (the check is per subscriber, not per subscription)."""
    r = Router((realm(roles=ROLES),), Clock())
    backend, reader, other = member(r, "backend"), member(r, "reader"), member(r, "backend")
    sub_id, _ = subscribed(reader, "com.example.pub.", match="prefix")
    assert subscribed(other, "com.example.pub.", match="prefix")[0] == sub_id
    backend.publish("com.example.pub.secret", 1)
    assert events(reader) == [] and [e.topic for e in events(other)] == ["com.example.pub.secret"]


def test_readme_frontend_role_gets_no_event_of_its_denied_topic():
    """The README's `frontend` role (prefix com.example., exact deny com.example.admin) with a
    prefix subscription to com.example. receives com.example.news but not com.example.admin."""
    section = (REPO / "README.md").read_text(encoding="utf-8")
    start = section.index("### Permissions")
    raw = json.loads(re.search(r"```json\n(.*?)```", section[start:], re.S).group(1))
    validated = with_defaults({"version": 2, "workers": [{"type": "router", "realms": [raw], "transports": []}]})
    config = build_realm(validated["workers"][0]["realms"][0])
    r = Router((config,), Clock())
    backend, frontend = member(r, "backend"), member(r, "frontend")
    subscribed(frontend, "com.example.", match="prefix")
    backend.publish("com.example.admin", "secret")
    backend.publish("com.example.news", "public")
    assert [e.args for e in events(frontend)] == [["public"]]


# --- retained events and history -----------------------------------------------------------


def test_get_retained_gives_pattern_subscriptions_only_permitted_topics():
    """get_retained on a prefix or wildcard subscription sends the retained events of topics the
    role may subscribe to, never that of the denied com.example.pub.secret or com.example.allowed.admin."""
    r = Router((realm(roles=ROLES),), Clock())
    backend = member(r, "backend")
    for topic in ("com.example.pub.secret", "com.example.pub.news", ALLOWED, ALLOWED + ".admin"):
        backend.publish(topic, topic, retain=True)
    reader, limited = member(r, "reader"), member(r, "limited")
    _, retained = subscribed(reader, "com.example.pub.", match="prefix", get_retained=True)
    assert [e.args for e in retained] == [["com.example.pub.news"]]
    _, retained = subscribed(reader, "com.example.pub.", match="wildcard", get_retained=True)
    assert [e.args for e in retained] == [["com.example.pub.news"]]
    _, retained = subscribed(limited, ALLOWED, match="prefix", get_retained=True)
    assert [e.args for e in retained] == [[ALLOWED]]


def history_router(*history, roles=ROLES):
    return Router((realm(roles=roles, history=history),), Clock())


def get_events(client, subscription, *args):
    request = client.call("wamp.subscription.get_events", subscription, *args)
    (reply,) = [x for x in client.take() if getattr(x, "request", None) == request]
    assert isinstance(reply, m.Result), reply
    return [event["args"][0] for event in reply.args[0]]


def test_history_respects_the_readers_subscribe_permission():
    """get_events on a prefix history hides the events of topics the reader may not subscribe
    to; the limit counts the events the reader may see."""
    r = history_router(EventHistory(uri="com.example.pub.", match="prefix", limit=10),
                       roles=(role("backend", allow_all()),
                              role("reader", *SECRET.permissions,
                                   permission("wamp.subscription.get_events", call=True))))
    backend, reader = member(r, "backend"), member(r, "reader")
    sub_id, _ = subscribed(reader, "com.example.pub.", match="prefix")
    events(reader)
    for topic in ("com.example.pub.a", "com.example.pub.secret", "com.example.pub.b", "com.example.pub.secret"):
        backend.publish(topic, topic)
    reader.take()
    assert get_events(reader, sub_id) == ["com.example.pub.a", "com.example.pub.b"]
    assert get_events(reader, sub_id, 1) == ["com.example.pub.b"]
    admin = member(r, "backend")
    assert get_events(admin, sub_id) == ["com.example.pub.a", "com.example.pub.secret",
                                         "com.example.pub.b", "com.example.pub.secret"]


def test_history_of_a_topic_the_reader_may_not_subscribe_is_empty():
    """A session that may call get_events but not subscribe to the history's topic reads nothing."""
    r = history_router(EventHistory(uri="com.hist", match="exact", limit=10),
                       roles=(role("backend", allow_all()),
                              role("meta", permission("wamp.", "prefix", call=True))))
    backend, snoop = member(r, "backend"), member(r, "meta")
    sub_id, _ = subscribed(backend, "com.hist")
    backend.publish("com.hist", "private", exclude_me=False)
    backend.take()
    assert get_events(backend, sub_id) == ["private"]
    assert get_events(snoop, sub_id) == []


def test_history_applies_exclude_and_eligible_as_live_delivery_does():
    """Each stored event remembers its publication's exclude/eligible lists (by session, authid,
    authrole) and exclude_me: get_events gives a reader exactly the events live delivery gave it."""
    roles = (role("backend", allow_all()), role("blue", allow_all()))
    r = history_router(EventHistory(uri="t", match="exact", limit=100), roles=roles)
    pub = member(r, "backend")
    a, b, c = member(r, "backend"), member(r, "blue"), member(r, "blue")
    readers = {"a": a, "b": b, "c": c, "pub": pub}
    sub_id = None
    for client in readers.values():
        sub_id, _ = subscribed(client, "t")
    listings = [
        {},
        {"exclude": [a.session_id]},
        {"eligible": [a.session_id, b.session_id]},
        {"exclude_authid": [b.authid]},
        {"eligible_authid": [c.authid]},
        {"exclude_authrole": ["blue"]},
        {"eligible_authrole": ["blue"], "exclude": [c.session_id]},
        {"exclude_me": False},
    ]
    live = {name: [] for name in readers}
    for index, options in enumerate(listings):
        pub.publish("t", index, **options)
        for name, client in readers.items():
            live[name].extend(e.args[0] for e in events(client))
    assert live["a"] == [0, 2, 3, 5, 7] and live["b"] == [0, 1, 2, 6, 7] and live["pub"] == [7]  # listings select
    for name, client in readers.items():
        assert get_events(client, sub_id) == live[name], name


def test_history_across_processes_hides_only_what_live_delivery_hid():
    """With two processes, the publisher reads its own process's history without the events
    exclude_me kept from it, and a reader on the other process reads them all."""
    bus, clock, (r1, r2) = cluster(history=(EventHistory(uri="t", match="exact", limit=10),))
    pub, reader = joined(r1), joined(r2)
    bus.pump()
    pub.subscribe("t")
    sub_id = pub.last().subscription
    pub.publish("t", "mine")
    bus.pump()
    assert get_events(pub, sub_id) == []
    pub.publish("t", "shared", exclude_me=False)
    bus.pump()
    assert [e.args for e in events(pub)] == [["shared"]]
    reader.subscribe("t")
    assert get_events(reader, reader.last().subscription) == ["mine", "shared"]


# --- registrations ------------------------------------------------------------------


def test_prefix_registration_on_an_exact_grant_does_not_capture_other_procedures():
    """A prefix registration to com.example.allowed made on an exact register permission is
    invoked for com.example.allowed only: a call to .admin or com.example.allowedX finds no callee."""
    r = Router((realm(roles=ROLES),), Clock())
    limited, caller = member(r, "limited"), member(r, "backend")
    registered(limited, ALLOWED, match="prefix")
    for procedure in (ALLOWED + ".admin", ALLOWED + "X"):
        caller.call(procedure)
        assert caller.last().error == "wamp.error.no_such_procedure"
        assert limited.take() == []
    caller.call(ALLOWED)
    assert answer_invocations(limited, "mine") == [ALLOWED]
    assert caller.last().args == ["mine"]


def test_prefix_registration_cannot_capture_a_legitimate_callees_calls():
    """The backend serves com.example. (prefix); a limited session's longer prefix
    com.example.allowed would win the match, but may not serve .admin: the backend gets the call."""
    r = Router((realm(roles=ROLES),), Clock())
    backend, limited, caller = member(r, "backend"), member(r, "limited"), member(r, "backend")
    registered(backend, "com.example.", match="prefix")
    registered(limited, ALLOWED, match="prefix")
    caller.call(ALLOWED + ".admin")
    assert limited.take() == []
    assert answer_invocations(backend, "genuine") == [ALLOWED + ".admin"]
    assert caller.last().args == ["genuine"]


def test_wildcard_registration_cannot_capture_a_denied_procedure():
    """A wildcard registration com.example.pub. by a role with an exact register deny on
    com.example.pub.secret is not invoked for it; the exact-URI calls it may serve still reach it."""
    roles = (role("backend", allow_all()),
             role("svc", permission("com.example.pub.", "prefix", register=True),
                  permission("com.example.pub.secret", register=False)))
    r = Router((realm(roles=roles),), Clock())
    svc, caller = member(r, "svc"), member(r, "backend")
    registered(svc, "com.example.pub.", match="wildcard")
    caller.call("com.example.pub.secret")
    assert caller.last().error == "wamp.error.no_such_procedure" and svc.take() == []
    caller.call("com.example.pub.open")
    assert answer_invocations(svc, 1) == ["com.example.pub.open"]


def test_shared_pattern_registration_invokes_only_permitted_callees():
    """A roundrobin prefix registration shared by a backend and a limited session: calls to a
    procedure only the backend may register all go to the backend."""
    r = Router((realm(roles=ROLES),), Clock())
    backend, limited, caller = member(r, "backend"), member(r, "limited"), member(r, "backend")
    registered(backend, ALLOWED, match="prefix", invoke="roundrobin")
    registered(limited, ALLOWED, match="prefix", invoke="roundrobin")
    seen = {"backend": 0, "limited": 0}
    for _ in range(4):
        caller.call(ALLOWED + ".admin")
        seen["backend"] += len(answer_invocations(backend, 1))
        seen["limited"] += len(answer_invocations(limited, 1))
    assert seen == {"backend": 4, "limited": 0}
    for _ in range(2):  # the procedure both may serve still alternates
        caller.call(ALLOWED)
        seen["backend"] += len(answer_invocations(backend, 1))
        seen["limited"] += len(answer_invocations(limited, 1))
    assert seen == {"backend": 5, "limited": 1}


# --- across processes -----------------------------------------------------------------


def test_remote_pattern_subscriber_is_checked_where_it_lives():
    """A limited subscriber on process 2 with a prefix subscription does not receive an event
    on com.example.allowed.admin published on process 1."""
    bus, clock, (r1, r2) = cluster(roles=ROLES)
    backend, limited = member(r1, "backend"), member(r2, "limited")
    subscribed(limited, ALLOWED, match="prefix")
    bus.pump()
    backend.publish(ALLOWED + ".admin", 1)
    backend.publish(ALLOWED, 2)
    bus.pump()
    assert [e.args for e in events(limited)] == [[2]]


def test_remote_pattern_callee_is_not_invoked_for_a_procedure_it_may_not_register():
    """A limited callee on process 2 with a prefix registration is not invoked by a caller on
    process 1 for com.example.allowed.admin; the backend callee on process 1 serves it."""
    bus, clock, (r1, r2) = cluster(roles=ROLES)
    backend, caller, limited = member(r1, "backend"), member(r1, "backend"), member(r2, "limited")
    registered(backend, "com.example.", match="prefix")
    registered(limited, ALLOWED, match="prefix")
    bus.pump()
    caller.call(ALLOWED + ".admin")
    bus.pump()
    assert limited.take() == []
    assert answer_invocations(backend, "genuine") == [ALLOWED + ".admin"]
    assert caller.last().args == ["genuine"]


# --- dynamic roles -----------------------------------------------------------------


def dynamic_router(history=()):
    roles = (role("backend", allow_all()), role("dyn", authorizer="com.authorize"))
    r = Router((realm(roles=roles, history=history),), Clock())
    authorizer = member(r, "backend")
    registered(authorizer, "com.authorize")
    return r, authorizer


def serve(authorizer, answer):
    """Answer every authorizer INVOCATION with ``answer(uri, action, options)``; return the questions."""
    asked = []
    for inv in authorizer.take():
        if isinstance(inv, m.Invocation):
            details, uri, action, options = inv.args
            asked.append((uri, action, options))
            authorizer.send(m.Yield(inv.request, args=[answer(uri, action, options)]))
    return asked


def test_dynamic_pattern_needs_the_authorizers_explicit_grant_for_its_match():
    """A dynamic role's prefix/wildcard subscribe or register is asked with options.match, and a
    bare `true` (or an allow without `match`) does not grant a pattern; {"allow": true, "match": m} does.
    Exact requests keep options {} and a bare true."""
    r, authorizer = dynamic_router()
    dyn = member(r, "dyn")
    for action, request, granted_type in (("subscribe", dyn.subscribe, m.Subscribed),
                                          ("register", dyn.register, m.Registered)):
        for match in ("prefix", "wildcard"):
            request(ALLOWED, match=match)
            assert serve(authorizer, lambda *a: True) == [(ALLOWED, action, {"match": match})]
            assert dyn.last().error == "wamp.error.not_authorized"
            request(ALLOWED, match=match)
            serve(authorizer, lambda *a: {"allow": True, "cache": True})
            assert dyn.last().error == "wamp.error.not_authorized"
            request(ALLOWED, match=match)
            serve(authorizer, lambda uri, action, options: {"allow": True, "match": options.get("match")})
            assert isinstance(dyn.last(), granted_type)
        request(ALLOWED + ".exact")
        assert serve(authorizer, lambda *a: True) == [(ALLOWED + ".exact", action, {})]
        assert isinstance(dyn.last(), granted_type)


def test_dynamic_decision_cache_tells_exact_from_pattern():
    """An exact subscribe answered with cache: true does not answer a prefix subscribe to the same URI."""
    r, authorizer = dynamic_router()
    dyn = member(r, "dyn")
    dyn.subscribe(ALLOWED)
    serve(authorizer, lambda *a: {"allow": True, "cache": True})
    assert isinstance(dyn.last(), m.Subscribed)
    dyn.subscribe(ALLOWED, match="prefix")
    assert serve(authorizer, lambda *a: {"allow": True, "cache": True}) == [(ALLOWED, "subscribe", {"match": "prefix"})]
    assert dyn.last().error == "wamp.error.not_authorized"


def test_dynamic_history_reader_is_asked_about_the_subscription():
    """get_events by a dynamic role asks the authorizer whether the reader may subscribe to the
    subscription's (uri, match); denied: not_authorized, granted: the events admitted to it."""
    r, authorizer = dynamic_router(history=(EventHistory(uri="com.hist.", match="prefix", limit=10),))
    backend, dyn = member(r, "backend"), member(r, "dyn")
    sub_id, _ = subscribed(backend, "com.hist.", match="prefix")
    backend.publish("com.hist.a", "a", exclude_me=False)
    backend.publish("com.hist.b", "b", exclude=[dyn.session_id])
    backend.take()
    dyn.call("wamp.subscription.get_events", sub_id)
    assert serve(authorizer, lambda *a: True) == [("wamp.subscription.get_events", "call", {})]
    assert serve(authorizer, lambda *a: True) == [("com.hist.", "subscribe", {"match": "prefix"})]
    assert dyn.last().error == "wamp.error.not_authorized"
    dyn.call("wamp.subscription.get_events", sub_id)
    serve(authorizer, lambda *a: True)
    serve(authorizer, lambda uri, action, options: {"allow": True, "match": options.get("match")})
    reply = dyn.last()
    assert isinstance(reply, m.Result) and [e["args"] for e in reply.args[0]] == [["a"]]
