"""Authentication methods: anonymous, ticket, wampcra, cryptosign, tls, dynamic authenticators."""
from __future__ import annotations

import binascii

import pytest
from autobahn.wamp import message as m
from autobahn.wamp.auth import compute_wcs, derive_key
from autobahn.wamp.types import TransportDetails
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from twisted.internet.task import Clock

from node.config.fragments import auth_method
from node.router import Router
from router_fakes import Client, allow_all, joined, realm, role

ROLES = (role("user", allow_all()), role("backend", allow_all()), role("anonymous", allow_all()))


def router():
    return Router((realm(roles=ROLES),), Clock())


def test_anonymous_with_configured_role():
    """anonymous auth joins with the role configured for it."""
    client = Client(router(), (auth_method("anonymous", "static", {"role": "user"}),))
    welcome = client.hello(authmethods=["anonymous"])
    assert welcome.authrole == "user" and welcome.authmethod == "anonymous" and welcome.authid


def test_no_common_auth_method_is_aborted():
    """A HELLO asking only for methods the transport does not offer gets ABORT no_auth_method."""
    client = Client(router(), (auth_method("ticket", "static", {"principals": {}}),))
    abort = client.hello(authmethods=["anonymous"])
    assert isinstance(abort, m.Abort) and abort.reason == "wamp.error.no_auth_method"
    assert "ticket" in abort.message


TICKET = (auth_method("ticket", "static", {"principals": {"joe": {"ticket": "s3cret", "role": "user"}}}),)


def test_ticket_success_and_failure():
    """A right ticket joins with the principal's role; a wrong ticket gets ABORT not_authorized
    (Crossbar.io's answer, and the one an unknown principal gets too) without the secret."""
    good = Client(router(), TICKET)
    challenge = good.hello(authmethods=["ticket"], authid="joe")
    assert isinstance(challenge, m.Challenge) and challenge.method == "ticket"
    good.send(m.Authenticate("s3cret"))
    welcome = good.last()
    assert isinstance(welcome, m.Welcome) and welcome.authid == "joe" and welcome.authrole == "user"
    bad = Client(router(), TICKET)
    bad.hello(authmethods=["ticket"], authid="joe")
    bad.send(m.Authenticate("guess"))
    abort = bad.last()
    assert isinstance(abort, m.Abort) and abort.reason == "wamp.error.not_authorized"
    assert "s3cret" not in abort.message and bad.transport.closed


def test_ticket_unknown_principal_is_answered_like_a_wrong_ticket():
    """A ticket HELLO for an unknown authid gets a CHALLENGE and then the ABORT a wrong ticket gets
    (it was aborted at HELLO with no_such_principal: the answers told which principals exist)."""
    answers = {}
    for authid in ("eve", "joe"):
        c = Client(router(), TICKET)
        challenge = c.hello(authmethods=["ticket"], authid=authid)
        assert isinstance(challenge, m.Challenge) and challenge.method == "ticket" and challenge.extra == {}
        c.send(m.Authenticate("guess"))
        abort = c.last()
        answers[authid] = (abort.reason, abort.message.replace(authid, "<authid>"))
    assert answers["eve"] == answers["joe"] == ("wamp.error.not_authorized",
                                                "ticket: authentication failed for '<authid>'")


def test_ticket_secret_from_environment(monkeypatch):
    """A ticket written as ${NAME} is read from the environment."""
    monkeypatch.setenv("TICKET_SECRET", "from-env")
    auth = (auth_method("ticket", "static", {"principals": {"joe": {"ticket": "${TICKET_SECRET}", "role": "user"}}}),)
    c = Client(router(), auth)
    c.hello(authmethods=["ticket"], authid="joe")
    c.send(m.Authenticate("from-env"))
    assert isinstance(c.last(), m.Welcome)


def test_authenticate_before_challenge_is_violation():
    """AUTHENTICATE before HELLO is a protocol violation."""
    c = Client(router(), TICKET)
    c.send(m.Authenticate("x"))
    assert c.last().reason == "wamp.error.protocol_violation"


@pytest.mark.parametrize("salted", [False, True])
def test_wampcra(salted):
    """WAMP-CRA accepts the HMAC of the challenge keyed with the (PBKDF2-derived, if salted) secret."""
    user = {"secret": "pw", "role": "backend"}
    if salted:
        user.update(salt="salt123", iterations=100, keylen=32)
    auth = (auth_method("wampcra", "static", {"users": {"bob": user}}),)
    c = Client(router(), auth)
    challenge = c.hello(authmethods=["wampcra"], authid="bob")
    assert challenge.method == "wampcra"
    extra = challenge.extra
    key = derive_key("pw", extra["salt"], extra["iterations"], extra["keylen"]) if salted else b"pw"
    assert ("salt" in extra) is salted
    c.send(m.Authenticate(compute_wcs(key, extra["challenge"].encode()).decode()))
    welcome = c.last()
    assert isinstance(welcome, m.Welcome) and welcome.authrole == "backend" and welcome.authmethod == "wampcra"
    wrong = Client(router(), auth)
    extra = wrong.hello(authmethods=["wampcra"], authid="bob").extra
    wrong.send(m.Authenticate(compute_wcs(b"nope", extra["challenge"].encode()).decode()))
    assert wrong.last().reason == "wamp.error.not_authorized"


def keypair():
    private = Ed25519PrivateKey.generate()
    return private, private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def cryptosign_auth(pubkey, realm_name="realm1"):
    return (auth_method("cryptosign", "static", {"principals": {
        "alice": {"realm": realm_name, "role": "user", "authorized_keys": [pubkey]}}}),)


@pytest.mark.parametrize("with_message", [False, True])
def test_cryptosign(with_message):
    """cryptosign accepts an Ed25519 signature of the challenge by an authorized key (with or without
    the signed message appended, as autobahn sends it)."""
    private, pubkey = keypair()
    c = Client(router(), cryptosign_auth(pubkey))
    challenge = c.hello(authmethods=["cryptosign"], authextra={"pubkey": pubkey})
    data = binascii.a2b_hex(challenge.extra["challenge"])
    signature = private.sign(data) + (data if with_message else b"")
    c.send(m.Authenticate(signature.hex()))
    welcome = c.last()
    assert isinstance(welcome, m.Welcome) and welcome.authid == "alice" and welcome.authrole == "user"


def test_cryptosign_rejects_unknown_key_and_bad_signature():
    """An unauthorized public key (even rightly signed) and a signature by another key get the same
    CHALLENGE-then-ABORT not_authorized (the unknown key was refused at HELLO with no_such_principal:
    the answers told which keys are authorized)."""
    private, pubkey = keypair()
    other, other_pub = keypair()
    answers = []
    for hello_key, signer in ((other_pub, other), (pubkey, other)):
        c = Client(router(), cryptosign_auth(pubkey))
        challenge = c.hello(authmethods=["cryptosign"], authextra={"pubkey": hello_key})
        assert isinstance(challenge, m.Challenge) and set(challenge.extra) == {"challenge"}
        c.send(m.Authenticate(signer.sign(binascii.a2b_hex(challenge.extra["challenge"])).hex()))
        abort = c.last()
        answers.append((abort.reason, abort.message))
    assert answers[0] == answers[1] == ("wamp.error.not_authorized", "cryptosign: authentication failed")


def test_cryptosign_tls_unique_channel_binding():
    """With channel_binding tls-unique the client must sign challenge XOR channel id."""
    private, pubkey = keypair()
    channel = bytes(range(32))
    details = TransportDetails(peer="tcp4:127.0.0.1:1", is_secure=True, channel_id={"tls-unique": channel})
    c = Client(router(), cryptosign_auth(pubkey), details)
    challenge = c.hello(authmethods=["cryptosign"], authextra={"pubkey": pubkey, "channel_binding": "tls-unique"})
    assert challenge.extra["channel_binding"] == "tls-unique"
    raw = binascii.a2b_hex(challenge.extra["challenge"])
    c.send(m.Authenticate(private.sign(bytes(a ^ b for a, b in zip(raw, channel))).hex()))
    assert isinstance(c.last(), m.Welcome)
    plain = Client(router(), cryptosign_auth(pubkey))
    abort = plain.hello(authmethods=["cryptosign"], authextra={"pubkey": pubkey, "channel_binding": "tls-unique"})
    assert isinstance(abort, m.Abort)


def cert_details(cn, fingerprint="AB:CD:EF"):
    return TransportDetails(peer="tcp4:127.0.0.1:1", is_secure=True, peer_cert={
        "sha256": fingerprint, "subject": {"cn": cn},
        "extensions": [{"name": "subjectAltName", "value": "DNS:svc.example.com"}]})


def test_tls_client_certificate_by_cn_and_fingerprint():
    """tls auth takes the authid from the certificate CN, or a principal matched by SHA-256 fingerprint."""
    by_cn = (auth_method("tls", "static", {"role": "backend"}),)
    c = Client(router(), by_cn, cert_details("device-7"))
    welcome = c.hello(authmethods=["tls"])
    assert welcome.authid == "device-7" and welcome.authrole == "backend" and welcome.authmethod == "tls"
    by_fp = (auth_method("tls", "static", {"principals": {"dev": {"certificate-sha256": "abcdef", "role": "user"}}}),)
    c = Client(router(), by_fp, cert_details("whatever"))
    assert c.hello(authmethods=["tls"]).authid == "dev"
    c = Client(router(), by_fp, cert_details("whatever", "00:11"))
    assert c.hello(authmethods=["tls"]).reason == "wamp.error.no_such_principal"


def test_tls_without_certificate_falls_back_or_aborts():
    """Without a client certificate tls is skipped: another offered method is used, or ABORT."""
    auth = (auth_method("tls", "static", {}), auth_method("anonymous", "static", {"role": "user"}))
    c = Client(router(), auth)
    assert c.hello(authmethods=["tls", "anonymous"]).authmethod == "anonymous"
    c = Client(router(), auth[:1])
    assert c.hello(authmethods=["tls"]).reason == "wamp.error.no_auth_method"


def serve(client, answer):
    """Answer every INVOCATION the client received with ``answer(args)``; return the args seen."""
    seen = []
    for inv in client.take():
        if isinstance(inv, m.Invocation):
            seen.append(inv.args)
            client.send(m.Yield(inv.request, args=[answer(inv.args)]))
    return seen


def test_dynamic_ticket_authenticator():
    """A dynamic ticket authenticator is called with (realm, authid, details) and its role is used."""
    r = Router((realm(roles=ROLES), realm("auth")), Clock())
    authenticator = joined(r, "auth")
    authenticator.register("com.auth.ticket")
    authenticator.take()
    auth = (auth_method("ticket", "dynamic", {"authenticator": "com.auth.ticket", "authenticator-realm": "auth"}),)
    c = Client(r, auth)
    assert isinstance(c.hello(authmethods=["ticket"], authid="joe"), m.Challenge)
    c.send(m.Authenticate("tok"))
    seen = serve(authenticator, lambda args: {"role": "user", "extra": {"x": 1}}
                 if args[2]["ticket"] == "tok" else None)
    assert seen[0][0] == "realm1" and seen[0][1] == "joe"
    welcome = c.last()
    assert isinstance(welcome, m.Welcome) and welcome.authrole == "user" and welcome.authprovider == "dynamic"
    assert welcome.authextra == {"x": 1}


def test_dynamic_authenticator_error_aborts():
    """An authenticator that raises an error aborts the session with that error URI."""
    r = Router((realm(roles=ROLES), realm("auth")), Clock())
    authenticator = joined(r, "auth")
    authenticator.register("com.auth")
    authenticator.take()
    auth = (auth_method("anonymous", "dynamic", {"authenticator": "com.auth", "authenticator-realm": "auth"}),)
    c = Client(r, auth)
    c.send(m.Hello("realm1", roles=__import__("router_fakes").client_roles()))
    (inv,) = authenticator.take()
    authenticator.send(m.Error(m.Invocation.MESSAGE_TYPE, inv.request, "wamp.error.not_authorized", args=["no"]))
    abort = c.last()
    assert isinstance(abort, m.Abort) and abort.reason == "wamp.error.not_authorized"


def test_dynamic_wampcra_authenticator_supplies_secret():
    """A dynamic wampcra authenticator returns the secret and role used for the challenge."""
    r = Router((realm(roles=ROLES),), Clock())
    authenticator = joined(r)
    authenticator.register("com.auth.cra")
    authenticator.take()
    c = Client(r, (auth_method("wampcra", "dynamic", {"authenticator": "com.auth.cra"}),))
    c.send(m.Hello("realm1", roles=__import__("router_fakes").client_roles(), authmethods=["wampcra"], authid="u"))
    serve(authenticator, lambda args: {"secret": "pw2", "role": "backend"})
    challenge = c.last()
    c.send(m.Authenticate(compute_wcs(b"pw2", challenge.extra["challenge"].encode()).decode()))
    assert c.last().authrole == "backend"


def test_dynamic_authorizer_decides_and_caches():
    """A role with an authorizer asks it per (uri, action); cached answers are not asked again."""
    roles = ROLES + (role("dyn", authorizer="com.authorize"),)
    r = Router((realm(roles=roles),), Clock())
    authorizer = joined(r, auth=(auth_method("anonymous", "static", {"role": "backend"}),))
    authorizer.register("com.authorize")
    authorizer.take()
    c = joined(r, auth=(auth_method("anonymous", "static", {"role": "dyn"}),))
    c.subscribe("com.ok")
    seen = serve(authorizer, lambda args: {"allow": args[1] == "com.ok", "cache": True})
    assert seen[0][1:3] == ["com.ok", "subscribe"] and seen[0][0]["session"] == c.session_id
    assert isinstance(c.last(), m.Subscribed)
    c.subscribe("com.ok")
    assert authorizer.take() == [] and isinstance(c.last(), m.Subscribed)
    c.subscribe("com.no")
    serve(authorizer, lambda args: False)
    assert c.last().error == "wamp.error.not_authorized"


def test_principal_realm_pins_the_session():
    """A static principal with a realm joins that realm when HELLO names none, and is refused elsewhere."""
    r = Router((realm(roles=ROLES), realm("home", roles=ROLES)), Clock())
    auth = (auth_method("ticket", "static", {"principals": {"joe": {"ticket": "t", "role": "user", "realm": "home"}}}),)
    c = Client(r, auth)
    c.send(m.Hello(None, roles=__import__("router_fakes").client_roles(), authmethods=["ticket"], authid="joe"))
    c.take()
    c.send(m.Authenticate("t"))
    assert c.last().realm == "home"
    c = Client(r, auth)
    c.hello("realm1", authmethods=["ticket"], authid="joe")
    c.send(m.Authenticate("t"))
    assert c.last().reason == "wamp.error.not_authorized"


def test_dynamic_authorizer_cache_is_per_session_and_dropped_on_leave():
    """Cached decisions belong to one session: another session is asked again, and a session's
    cache goes with it (also a decision that arrives after it left is not kept)."""
    roles = ROLES + (role("dyn", authorizer="com.authorize"),)
    r = Router((realm(roles=roles),), Clock())
    authorizer = joined(r, auth=(auth_method("anonymous", "static", {"role": "backend"}),))
    authorizer.register("com.authorize")
    authorizer.take()
    dyn = (auth_method("anonymous", "static", {"role": "dyn"}),)
    first, second = joined(r, auth=dyn), joined(r, auth=dyn)
    first.subscribe("com.ok")
    assert len(serve(authorizer, lambda args: {"allow": True, "cache": True})) == 1
    second.subscribe("com.ok")
    assert len(serve(authorizer, lambda args: {"allow": True, "cache": True})) == 1  # not first's answer
    realm_router = r.realm("realm1")
    assert set(realm_router._auth_cache) == {first.session_id, second.session_id}
    first.send(m.Goodbye())
    assert set(realm_router._auth_cache) == {second.session_id}
    second.subscribe("com.late")
    second.send(m.Goodbye())
    serve(authorizer, lambda args: {"allow": True, "cache": True})  # answered after second left
    assert realm_router._auth_cache == {}


# --- issue 19: anonymous authids, enumeration, failed logins ---------------------------

SERIAL = r"[345679ACEFGHJKLMNPQRSTUVWXY]{4}(-[345679ACEFGHJKLMNPQRSTUVWXY]{4}){5}"


def test_anonymous_never_takes_the_hello_authid():
    """An anonymous HELLO naming an authid joins with a random one in Crossbar.io's format, or with
    the method's configured ``authid``; also beside tls on a connection with a client certificate."""
    import re

    welcome = Client(router(), (auth_method("anonymous", "static", {"role": "user"}),)).hello(
        authmethods=["anonymous"], authid="joe")
    assert welcome.authid != "joe" and re.fullmatch(SERIAL, welcome.authid), welcome.authid
    assert Client(router()).hello(authid="joe").authid != "joe"  # a transport without auth
    fixed = (auth_method("anonymous", "static", {"role": "user", "authid": "guest"}),)
    assert Client(router(), fixed).hello(authmethods=["anonymous"], authid="joe").authid == "guest"
    with_tls = (auth_method("tls", "static", {"role": "backend"}), auth_method("anonymous", "static", {"role": "user"}))
    welcome = Client(router(), with_tls, cert_details("device-7")).hello(authmethods=["anonymous"], authid="device-7")
    assert welcome.authmethod == "anonymous" and welcome.authid != "device-7"


def test_dynamic_anonymous_authenticator_is_asked_with_the_routers_authid():
    """A dynamic anonymous authenticator gets the router's authid, not the HELLO's; its answer may name one."""
    r = Router((realm(roles=ROLES), realm("auth")), Clock())
    authenticator = joined(r, "auth")
    authenticator.register("com.auth")
    authenticator.take()
    auth = (auth_method("anonymous", "dynamic", {"authenticator": "com.auth", "authenticator-realm": "auth"}),)
    c = Client(r, auth)
    c.send(m.Hello("realm1", roles=__import__("router_fakes").client_roles(), authid="joe"))
    (asked,) = serve(authenticator, lambda args: "user")
    assert asked[1] != "joe" and c.last().authid == asked[1]


CRA_USERS = {"carl": {"secret": "pw", "role": "backend", "salt": "s4lt", "iterations": 100, "keylen": 32},
             "cora": {"secret": "pw2", "role": "backend", "salt": "pepper", "iterations": 100, "keylen": 32}}


def cra_challenge(r, auth, authid):
    c = Client(r, auth)
    return c, c.hello(authmethods=["wampcra"], authid=authid)


def test_wampcra_unknown_user_gets_a_decoy_challenge():
    """An unknown wampcra authid gets a CHALLENGE shaped like a configured user's (same keys, a salt
    of a configured length from the configured salts' symbols, the same PBKDF2 parameters), the same
    salt every time and another one for another authid; then the ABORT a wrong secret gets."""
    import json

    auth = (auth_method("wampcra", "static", {"users": CRA_USERS}),)
    r = router()
    _, known = cra_challenge(r, auth, "carl")
    answers = {}
    salts = {}
    for authid in ("mallory", "mallory", "trent"):
        c, decoy = cra_challenge(r, auth, authid)
        assert isinstance(decoy, m.Challenge) and decoy.method == "wampcra"
        assert set(decoy.extra) == set(known.extra) == {"challenge", "salt", "iterations", "keylen"}
        assert (decoy.extra["iterations"], decoy.extra["keylen"]) == (100, 32)
        assert len(decoy.extra["salt"]) in (4, 6) and set(decoy.extra["salt"]) <= set("s4ltpeper")
        assert decoy.extra["salt"] not in ("s4lt", "pepper")
        fields = json.loads(decoy.extra["challenge"])
        assert set(fields) == set(json.loads(known.extra["challenge"]))
        assert fields["authid"] == authid and fields["authrole"] == "backend"
        salts.setdefault(authid, set()).add(decoy.extra["salt"])
        key = derive_key("pw", decoy.extra["salt"], 100, 32)
        c.send(m.Authenticate(compute_wcs(key, decoy.extra["challenge"].encode()).decode()))
        abort = c.last()
        answers[authid] = (abort.reason, abort.message.replace(authid, "<authid>"))
    assert len(salts["mallory"]) == 1 and salts["mallory"] != salts["trent"]
    c, _ = cra_challenge(r, auth, "carl")
    c.send(m.Authenticate("d3JvbmcK"))
    abort = c.last()
    assert answers["mallory"] == answers["trent"] == (abort.reason, abort.message.replace("carl", "<authid>")) \
        == ("wamp.error.not_authorized", "wampcra: authentication failed for '<authid>'")


def test_wampcra_decoy_follows_unsalted_users():
    """Where the users have no salt, an unknown authid's challenge has none either."""
    auth = (auth_method("wampcra", "static", {"users": {"cora": {"secret": "pw", "role": "user"}}}),)
    _, decoy = cra_challenge(router(), auth, "mallory")
    assert set(decoy.extra) == {"challenge"}


def failure_router(**options):
    from node.config.fragments import auth_failure_options

    clock = Clock()
    return Router((realm(roles=ROLES),), clock, auth_failure_options(options)), clock


def wrong_ticket(r, authid="joe", details=None):
    c = Client(r, TICKET, details)
    c.hello(authmethods=["ticket"], authid=authid)
    c.send(m.Authenticate("guess"))
    return c


def test_failed_logins_are_logged_in_one_fixed_shape():
    """Each failure is one warn line: peer address, method, realm, authid, reason; a client's
    authid cannot break the line or pass for another field."""
    from twisted.logger import formatEvent, globalLogPublisher

    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        wrong_ticket(router(), authid="x\nauthentication failed: peer=10.9.9.9")
        details = TransportDetails(peer="tcp6:::1:4711", is_secure=False)
        c = Client(router(), (auth_method("wampcra", "static", {"users": CRA_USERS}),), details)
        c.hello(authmethods=["wampcra"], authid="mallory")
        c.send(m.Authenticate("d3JvbmcK"))
    finally:
        globalLogPublisher.removeObserver(events.append)
    lines = [formatEvent(e) for e in events if "authentication failed" in formatEvent(e)]
    assert lines == [
        "authentication failed: peer=127.0.0.1 method=ticket realm='realm1' "
        "authid='x\\nauthentication failed: peer=10.9.9.9' reason=wamp.error.not_authorized",
        "authentication failed: peer=::1 method=wampcra realm='realm1' authid='mallory' "
        "reason=wamp.error.not_authorized"]


def test_answers_to_an_address_that_failed_often_are_late():
    """Past ``free`` failures every final answer to that address waits ``delay`` doubling up to
    ``max_delay`` on the router's clock (a right ticket too); other addresses are not slowed; a
    count is forgotten ``window`` seconds after the last failure."""
    r, clock = failure_router(free=2, delay=1, max_delay=3, window=100)
    for _ in range(2):
        assert isinstance(wrong_ticket(r).last(), m.Abort)
    expected_waits = [1, 2, 3, 3]
    for wait in expected_waits:
        c = wrong_ticket(r)
        assert c.take() == [] and not c.transport.closed
        clock.advance(wait - 0.01)
        assert c.take() == []
        clock.advance(0.01)
        assert c.last().reason == "wamp.error.not_authorized" and c.transport.closed
    other = TransportDetails(peer="tcp4:192.0.2.1:1", is_secure=False)
    assert isinstance(wrong_ticket(r, details=other).last(), m.Abort)  # another address: at once
    good = Client(r, TICKET)
    good.hello(authmethods=["ticket"], authid="joe")
    good.send(m.Authenticate("s3cret"))
    assert good.take() == []
    clock.advance(3)
    assert isinstance(good.last(), m.Welcome)
    anonymous = Client(r, (auth_method("anonymous", "static", {"role": "user"}),))
    anonymous.send(m.Hello("realm1", roles=__import__("router_fakes").client_roles()))
    assert anonymous.take() == []
    clock.advance(3)
    assert isinstance(anonymous.last(), m.Welcome)
    clock.advance(100)
    assert isinstance(wrong_ticket(r).last(), m.Abort)  # forgotten: answered at once again


def test_a_held_answer_is_dropped_with_its_connection():
    """A peer that leaves while its answer is held leaves no timer behind."""
    r, clock = failure_router(free=1, delay=5)
    assert isinstance(wrong_ticket(r).last(), m.Abort)
    c = wrong_ticket(r)
    assert clock.getDelayedCalls() != []
    c.session.onClose(False)
    assert clock.getDelayedCalls() == [] and c.take() == []


def test_failure_table_is_bounded():
    """At most ``max_addresses`` addresses are tracked; the least recently failing goes first."""
    r, clock = failure_router(free=1, delay=5, max_addresses=3)
    for i in range(10):
        wrong_ticket(r, details=TransportDetails(peer=f"tcp4:192.0.2.{i}:1", is_secure=False))
        clock.advance(10)
    assert len(r.auth_failures) == 3
    assert r.auth_failures.delay("192.0.2.9") == 5 and r.auth_failures.delay("192.0.2.0") == 0
