"""Role permissions: most specific rule wins, denials are not_authorized, disclosure."""
from __future__ import annotations

import random
import time

import pytest
from autobahn.wamp import message as m
from twisted.internet.task import Clock

from node.config.fragments import auth_method
from node.router import Router
from node.router.authorization import RealmAuthorizer, RolePermissions
from router_fakes import allow_all, joined, permission, realm, role


def anonymous_as(role_name):
    return (auth_method("anonymous", "static", {"role": role_name}),)


PRECEDENCE = role(
    "r",
    permission("com.", "prefix", call=True),
    permission("com.example.", "prefix", call=False),
    permission("com.example.open", "exact", call=True),
    permission("com..x", "wildcard", publish=True),
    permission("com.a.", "wildcard", publish=False),
    permission("..x", "wildcard", subscribe=True),
)


@pytest.mark.parametrize("uri, action, allowed", [
    ("com.other", "call", True),                 # shorter prefix
    ("com.example.secret", "call", False),       # longer prefix wins over shorter
    ("com.example.open", "call", True),          # exact wins over prefix
    ("com.example.open", "publish", False),      # exact rule decides every action
    ("org.thing", "call", False),                # no rule: deny
    ("com.a.x", "call", True),                   # prefix beats wildcard
    ("net.a.x", "subscribe", True),              # only a wildcard matches
    ("net.a.y", "subscribe", False),
])
def test_most_specific_rule_decides(uri, action, allowed):
    """Exact beats the longest prefix, which beats wildcards; unmatched URIs are denied."""
    assert RolePermissions(PRECEDENCE).decide(uri, action).allow is allowed


def test_wildcard_with_more_nonempty_components_wins():
    """Of two matching wildcards the one with more non-empty components decides."""
    perms = RolePermissions(role("r", permission("a..", "wildcard", call=True),
                                 permission("a.b.", "wildcard", call=False)))
    assert perms.decide("a.b.c", "call").allow is False
    assert perms.decide("a.x.c", "call").allow is True


def test_unknown_role_is_denied_and_open_realm_allows():
    """A realm with roles denies roles it lacks; a realm without roles allows everything."""
    assert RealmAuthorizer((role("a", allow_all()),)).authorize("b", "x", "call").allow is False
    assert RealmAuthorizer(()).authorize("b", "x", "call").allow is True


def test_denied_actions_get_not_authorized_naming_the_request():
    """Denied subscribe/register/call get ERROR not_authorized naming session, role, action, URI and realm."""
    r = Router((realm(roles=(role("frontend", permission("com.pub.", "prefix", subscribe=True, call=True)),)),), Clock())
    c = joined(r, auth=anonymous_as("frontend"))
    for send, kind in ((lambda: c.register("com.pub.p"), m.Register), (lambda: c.subscribe("com.priv.t"), m.Subscribe),
                       (lambda: c.call("com.priv.p"), m.Call)):
        req = send()
        error = c.last()
        assert isinstance(error, m.Error) and error.error == "wamp.error.not_authorized"
        assert error.request == req and error.request_type == kind.MESSAGE_TYPE
        assert "frontend" in error.args[0] and "realm1" in error.args[0] and str(c.session_id) in error.args[0]
    c.subscribe("com.pub.t")
    assert isinstance(c.last(), m.Subscribed)


def test_denied_publish_errors_only_when_acknowledged():
    """A denied PUBLISH is dropped silently, or answered with not_authorized if acknowledge is set."""
    r = Router((realm(roles=(role("ro", permission("", "prefix", subscribe=True)),)),), Clock())
    reader, writer = joined(r, auth=anonymous_as("ro")), joined(r, auth=anonymous_as("ro"))
    reader.subscribe("t")
    reader.take()
    writer.publish("t", 1)
    assert writer.take() == [] and reader.take() == []
    writer.publish("t", 1, acknowledge=True)
    assert writer.last().error == "wamp.error.not_authorized"


def test_unknown_role_from_authentication_is_aborted():
    """A session authenticated into a role the realm does not define is aborted with no_such_role."""
    r = Router((realm(roles=(role("a", allow_all()),)),), Clock())
    from router_fakes import Client

    c = Client(r, anonymous_as("b"))
    abort = c.hello()
    assert isinstance(abort, m.Abort) and abort.reason == "wamp.error.no_such_role"


def test_caller_disclosed_only_when_role_says_so():
    """INVOCATION carries caller, caller_authid and caller_authrole only under disclose.caller."""
    roles = (role("callee", allow_all()),
             role("open", permission("", "prefix", call=True, disclose_caller=True)),
             role("hidden", permission("", "prefix", call=True)))
    r = Router((realm(roles=roles),), Clock())
    callee = joined(r, auth=anonymous_as("callee"))
    callee.register("p")
    callee.take()
    for name, disclosed in (("open", True), ("hidden", False)):
        caller = joined(r, auth=anonymous_as(name))
        caller.call("p")
        inv = callee.last()
        if disclosed:
            assert inv.caller == caller.session_id and inv.caller_authrole == "open" and inv.caller_authid
        else:
            assert inv.caller is None and inv.caller_authid is None and inv.caller_authrole is None
        callee.send(m.Yield(inv.request))


def test_publisher_disclosed_only_when_role_says_so():
    """EVENT carries publisher identity only under disclose.publisher."""
    roles = (role("sub", allow_all()),
             role("open", permission("", "prefix", publish=True, disclose_publisher=True)),
             role("hidden", permission("", "prefix", publish=True)))
    r = Router((realm(roles=roles),), Clock())
    sub = joined(r, auth=anonymous_as("sub"))
    sub.subscribe("t")
    sub.take()
    for name, disclosed in (("open", True), ("hidden", False)):
        pub = joined(r, auth=anonymous_as(name))
        pub.publish("t")
        event = sub.last()
        assert (event.publisher == pub.session_id and event.publisher_authrole == "open") if disclosed \
            else (event.publisher is None and event.publisher_authid is None)


# --- lookups and their cache under hostile URIs (issue 19, findings 1 and 4) ----------


def reference_rule(rules, uri):
    """The most specific rule by scanning every rule: exact, longest prefix, then the
    wildcard with the best rank (of equal wildcards, the first configured)."""
    components = uri.split(".")
    exact = [r for r in rules if r.match == "exact" and r.uri == uri]
    if exact:
        return exact[-1]
    prefixes = [r for r in rules if r.match == "prefix" and uri.startswith(r.uri)]
    if prefixes:
        longest = max(len(r.uri) for r in prefixes)
        return [r for r in prefixes if len(r.uri) == longest][-1]
    best, best_rank = None, None
    for r in rules:
        want = r.uri.split(".")
        if r.match == "wildcard" and len(want) == len(components) and \
                all(not w or w == h for w, h in zip(want, components)):
            rank = (sum(1 for w in want if w), tuple(bool(w) for w in want))
            if best_rank is None or rank > best_rank:
                best, best_rank = r, rank
    return best


def test_rule_lookup_equals_a_scan_of_every_rule_randomized():
    """For random roles (exact, any string prefix, wildcard rules; repeated URIs too) the rule
    found for a URI is the one a scan of every rule finds."""
    def uri(rng, empty=0.0):
        parts = ("a", "b", "ab", "c")
        return ".".join("" if rng.random() < empty else rng.choice(parts) for _ in range(rng.randint(1, 4)))

    for seed in range(30):
        rng = random.Random(seed)
        rules = []
        for index in range(rng.randint(1, 25)):
            match = rng.choice(["exact", "prefix", "wildcard"])
            text = uri(rng, 0.4 if match == "wildcard" else 0.0)
            if match == "prefix":
                text = text[:rng.randint(0, len(text))]
            rules.append(permission(text, match, call=bool(index % 2), publish=index))
        perms = RolePermissions(role("r", *rules))
        for _ in range(100):
            probe = uri(rng, 0.05)
            assert perms.rule_for(probe) is reference_rule(rules, probe), (seed, probe)
            assert perms.rule_for(probe) is reference_rule(rules, probe)  # from the cache now


def test_role_lookup_of_long_uris_is_linear():
    """With the `init` role's empty prefix, and with a prefix rule that then denies, a 300 kB
    and a 1 MiB URI are decided in milliseconds (slicing at every length took seconds)."""
    init = RolePermissions(role("init", allow_all()))
    denying = RolePermissions(role("r", permission("com.", "prefix", call=False),
                                   permission("com.ok", "exact", call=True)))
    start = time.perf_counter()
    for size in (300 * 1000, 1 << 20):
        uri = "com." + "x" * size
        assert init.decide(uri, "call").allow is True
        assert denying.decide(uri, "call").allow is False
    assert time.perf_counter() - start < 0.5


def test_rule_cache_is_bound_in_bytes():
    """1,000 distinct 200 kB URIs (all denied) leave at most 1 MiB of URI text in the role's
    cache (it used to keep every one: 200 MB), and decisions stay right."""
    perms = RolePermissions(role("r", permission("com.ok", "exact", call=True),
                                 permission("com..x", "wildcard", call=True)))
    for i in range(1000):
        assert perms.decide(f"com.{i}." + "y" * 200000, "call").allow is False
    held = sum(len(uri) for uri in perms._cache)
    assert held <= 1024 * 1024, f"{held // 1024} KiB of URIs held"
    assert perms.decide("com.ok", "call").allow and perms.decide("com.y.x", "call").allow


def test_dynamic_decision_cache_is_bound_per_session():
    """A dynamic authorizer answering cache: true for 2,500 distinct URIs leaves at most
    1,000 cached decisions for the session (it used to keep every one until it left),
    and cached decisions are still used."""
    r = Router((realm(roles=(role("backend", allow_all()), role("dyn", authorizer="com.authorize"))),), Clock())
    authorizer = joined(r, auth=anonymous_as("backend"))
    authorizer.register("com.authorize")
    authorizer.take()
    client = joined(r, auth=anonymous_as("dyn"))

    def answer_all():
        asked = 0
        for inv in authorizer.take():
            if isinstance(inv, m.Invocation):
                asked += 1
                authorizer.send(m.Yield(inv.request, args=[{"allow": True, "cache": True}]))
        return asked

    for i in range(2500):
        client.subscribe(f"com.topic.{i}")
        assert answer_all() == 1
    cache = r.realm("realm1")._auth_cache[client.session_id]
    assert 0 < len(cache) <= 1000
    cached_uri = next(iter(cache))[0]
    client.subscribe(cached_uri)
    assert answer_all() == 0 and isinstance(client.take()[-1], m.Subscribed)
