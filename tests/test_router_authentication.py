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
    """A right ticket joins with the principal's role; a wrong ticket gets ABORT without the secret."""
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
    assert isinstance(abort, m.Abort) and abort.reason == "wamp.error.authentication_failed"
    assert "s3cret" not in abort.message and bad.transport.closed


def test_ticket_unknown_principal_is_aborted_at_hello():
    """A ticket HELLO for an unknown authid is aborted before any challenge."""
    c = Client(router(), TICKET)
    assert c.hello(authmethods=["ticket"], authid="eve").reason == "wamp.error.no_such_principal"


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
    assert wrong.last().reason == "wamp.error.authentication_failed"


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
    """An unauthorized public key is refused at HELLO; a signature by another key at AUTHENTICATE."""
    private, pubkey = keypair()
    other, other_pub = keypair()
    c = Client(router(), cryptosign_auth(pubkey))
    assert c.hello(authmethods=["cryptosign"], authextra={"pubkey": other_pub}).reason == "wamp.error.no_such_principal"
    c = Client(router(), cryptosign_auth(pubkey))
    challenge = c.hello(authmethods=["cryptosign"], authextra={"pubkey": pubkey})
    c.send(m.Authenticate(other.sign(binascii.a2b_hex(challenge.extra["challenge"])).hex()))
    assert c.last().reason == "wamp.error.authentication_failed"


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
