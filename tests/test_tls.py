"""node.tls.context: settings errors, warnings, and real handshakes through memory BIOs.

The handshakes here are complete TLS handshakes between a pyOpenSSL client and
the server connection :class:`ServerTls` creates, with bytes moved in memory
(no sockets); ``tests/test_tls_openssl.py`` runs ``openssl s_client`` against a
node process.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import pytest
from OpenSSL import SSL
from OpenSSL._util import lib as openssl_lib
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from zope.interface.verify import verifyObject

from node.config.model import SniEntry
from node.errors import TlsError
from node.tls.context import (
    ECDHE_AEAD_CIPHERS,
    build_context,
    check_tls,
    default_ciphers,
    server_tls,
)
from node.tls.openssl import can_set_group_lists, clear_openssl_errors, set_groups
from node.tls.sni import sni_lookup
from membio import pump
from pki import (
    dhparam,
    issue,
    make_pki,
    mismatched_key,
    tls_options,
)
from stack import needs_ciphersuites, needs_group_lists, needs_group_name

W = "workers[0].transports[0].endpoint.tls"


@pytest.fixture(scope="module")
def ec_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("ec"))


@pytest.fixture(scope="module")
def rsa_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("rsa"), key_type="rsa")


def options(pki, **overrides):
    return tls_options(pki.leaf_key, pki.chain_crt, **overrides)


def first_error(opts) -> str:
    with pytest.raises(TlsError) as caught:
        build_context(opts)
    return caught.value.line()


# --- a client and an in-memory handshake -----------------------------------------


def client_context(
    pki=None,
    *,
    max_version: Optional[int] = None,
    min_version: Optional[int] = None,
    ciphers: Optional[str] = None,
    groups: Optional[str] = None,
    cert: Optional[Tuple[Path, Path]] = None,
) -> SSL.Context:
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    if pki is not None:
        ctx.load_verify_locations(str(pki.root_crt))
        ctx.set_verify(SSL.VERIFY_PEER)
    if min_version is not None:
        ctx.set_min_proto_version(min_version)
    if max_version is not None:
        ctx.set_max_proto_version(max_version)
    if ciphers is not None:
        ctx.set_cipher_list(ciphers.encode())
    if groups is not None:
        assert set_groups(ctx, groups)
    if cert is not None:
        ctx.use_privatekey_file(str(cert[0]))
        ctx.use_certificate_file(str(cert[1]))
    return ctx


def handshake(tls, client_ctx: SSL.Context, server_name: Optional[bytes] = None,
              alpn: Tuple[bytes, ...] = ()):
    """Complete a handshake; returns (client, server) connections or raises SSL.Error."""
    server = tls.serverConnectionForTLS(None)
    server.set_accept_state()
    client = SSL.Connection(client_ctx, None)
    client.set_connect_state()
    if server_name:
        client.set_tlsext_host_name(server_name)
    if alpn:
        client.set_alpn_protos(list(alpn))
    done = {client: False, server: False}
    for _ in range(20):
        for conn in (client, server):
            if not done[conn]:
                try:
                    conn.do_handshake()
                    done[conn] = True
                except SSL.WantReadError:
                    pass
        moved = pump(client, server) | pump(server, client)
        if all(done.values()) and not moved:
            return client, server
    raise AssertionError("handshake did not finish")


def exchange(client: SSL.Connection, server: SSL.Connection) -> bytes:
    """Send bytes client -> server over an established pair; return what arrived."""
    client.send(b"ping")
    pump(client, server)
    return server.recv(100)


# --- defaults -------------------------------------------------------------------


def test_provides_connection_creator(ec_pki):
    """ServerTls provides Twisted's IOpenSSLServerConnectionCreator."""
    assert verifyObject(IOpenSSLServerConnectionCreator, server_tls(options(ec_pki)))


def test_default_ciphers_are_ecdhe_aead():
    """Without dhparam the default list is ECDHE with AES-GCM or ChaCha20 only."""
    assert default_ciphers(False) == ECDHE_AEAD_CIPHERS
    names = default_ciphers(False).split(":")
    assert all(n.startswith("ECDHE-") for n in names)
    assert all(("GCM" in n or "CHACHA20" in n) for n in names)
    assert default_ciphers(True).split(":")[6:] == [
        "DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    ]


@needs_group_name
def test_default_handshake_is_tls13_p256(ec_pki):
    """A default client (X25519 key share first) gets TLS 1.3 with P-256."""
    client, server = handshake(server_tls(options(ec_pki)), client_context(ec_pki))
    assert client.get_protocol_version_name() == "TLSv1.3"
    assert server.get_group_name() == "secp256r1"
    assert exchange(client, server) == b"ping"


@needs_group_name
def test_default_tls12_is_ecdhe_gcm_p256(ec_pki):
    """A TLS 1.2 client gets an ECDHE AES-GCM suite over P-256."""
    client, server = handshake(
        server_tls(options(ec_pki)), client_context(ec_pki, max_version=SSL.TLS1_2_VERSION)
    )
    assert client.get_protocol_version_name() == "TLSv1.2"
    assert client.get_cipher_name() == "ECDHE-ECDSA-AES128-GCM-SHA256"
    assert server.get_group_name() == "secp256r1"


def test_served_chain_has_intermediate(ec_pki):
    """The chain file's intermediate is served and verifies against the root."""
    client, _ = handshake(server_tls(options(ec_pki)), client_context(ec_pki))
    chain = client.get_peer_cert_chain(as_cryptography=True)
    assert [c.subject.rfc4514_string() for c in chain] == [
        "CN=localhost,O=wampnode tests", "CN=wampnode test intermediate CA,O=wampnode tests",
    ]


def test_chain_certificates_appended(ec_pki):
    """chain_certificates are served after a certificate file holding the leaf only."""
    opts = tls_options(ec_pki.leaf_key, ec_pki.leaf_crt,
                       chain_certificates=[ec_pki.intermediate_crt])
    client, _ = handshake(server_tls(opts), client_context(ec_pki))
    assert len(client.get_peer_cert_chain()) == 2


@needs_group_lists
@pytest.mark.parametrize("groups", ["X448", "P-521", "X448:P-521"])
def test_groups_outside_the_profile_are_not_offered(ec_pki, groups):
    """A client offering only X448 or P-521 fails: the default group list is P-256."""
    with pytest.raises(SSL.Error):
        handshake(server_tls(options(ec_pki)), client_context(ec_pki, groups=groups))


@needs_group_lists
def test_group_list_tls13_client_share_wins(ec_pki):
    """With curve P-256:X25519, TLS 1.3 picks X25519 (the client's key share)."""
    tls = server_tls(options(ec_pki, curve="prime256v1:X25519"))
    _, server = handshake(tls, client_context(ec_pki))
    assert server.get_group_name() == "x25519"


@needs_group_lists
def test_group_list_tls12_server_order_wins(ec_pki):
    """With curve P-256:X25519, TLS 1.2 picks P-256 (the server's first)."""
    tls = server_tls(options(ec_pki, curve="prime256v1:X25519"))
    _, server = handshake(tls, client_context(ec_pki, max_version=SSL.TLS1_2_VERSION))
    assert server.get_group_name() == "secp256r1"


@needs_group_name
def test_curve_secp384r1(ec_pki):
    """curve secp384r1 negotiates P-384."""
    _, server = handshake(server_tls(options(ec_pki, curve="secp384r1")),
                          client_context(ec_pki))
    assert server.get_group_name() == "secp384r1"


# --- versions, ciphers, suites ------------------------------------------------------


def test_min_tls13_refuses_tls12(ec_pki):
    """min_version TLSv1.3 refuses a TLS 1.2 client."""
    with pytest.raises(SSL.Error):
        handshake(server_tls(options(ec_pki, min_version="TLSv1.3")),
                  client_context(ec_pki, max_version=SSL.TLS1_2_VERSION))


def test_max_tls12(ec_pki):
    """max_version TLSv1.2 gives TLS 1.2 to a TLS 1.3 client."""
    client, _ = handshake(server_tls(options(ec_pki, max_version="TLSv1.2")),
                          client_context(ec_pki))
    assert client.get_protocol_version_name() == "TLSv1.2"


def test_tls11_refused(ec_pki):
    """A client limited to TLS 1.1 (at security level 0) is refused."""
    ctx = client_context(ec_pki, max_version=SSL.TLS1_1_VERSION, ciphers="DEFAULT:@SECLEVEL=0")
    with pytest.raises(SSL.Error):
        handshake(server_tls(options(ec_pki)), ctx)


@needs_ciphersuites
def test_ciphersuites_honoured(ec_pki):
    """ciphersuites restricts TLS 1.3 to the named suite."""
    tls = server_tls(options(ec_pki, ciphersuites="TLS_CHACHA20_POLY1305_SHA256"))
    client, _ = handshake(tls, client_context(ec_pki))
    assert client.get_cipher_name() == "TLS_CHACHA20_POLY1305_SHA256"


def test_user_ciphers_honoured(ec_pki):
    """A user's cipher string is used as given for TLS 1.2."""
    tls = server_tls(options(ec_pki, ciphers="ECDHE-ECDSA-AES256-GCM-SHA384"))
    client, _ = handshake(tls, client_context(ec_pki, max_version=SSL.TLS1_2_VERSION))
    assert client.get_cipher_name() == "ECDHE-ECDSA-AES256-GCM-SHA384"


def test_server_cipher_preference(ec_pki):
    """The server's order wins over the client's (CHACHA20 listed first by the client)."""
    ctx = client_context(
        ec_pki, max_version=SSL.TLS1_2_VERSION,
        ciphers="ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256",
    )
    client, _ = handshake(server_tls(options(ec_pki)), ctx)
    assert client.get_cipher_name() == "ECDHE-ECDSA-AES128-GCM-SHA256"


def test_no_dhe_without_dhparam(rsa_pki):
    """Without dhparam a DHE-only client is refused."""
    ctx = client_context(rsa_pki, max_version=SSL.TLS1_2_VERSION,
                         ciphers="DHE-RSA-AES128-GCM-SHA256")
    with pytest.raises(SSL.Error):
        handshake(server_tls(options(rsa_pki)), ctx)


@needs_group_lists
def test_dhe_with_dhparam(rsa_pki, tmp_path):
    """With dhparam the default list adds DHE-RSA with AES-GCM, using that group."""
    ctx = client_context(rsa_pki, max_version=SSL.TLS1_2_VERSION,
                         ciphers="DHE-RSA-AES128-GCM-SHA256")
    client, _ = handshake(server_tls(options(rsa_pki, dhparam=dhparam(tmp_path))), ctx)
    assert client.get_cipher_name() == "DHE-RSA-AES128-GCM-SHA256"


def test_small_dhparam_turns_dhe_off(rsa_pki, tmp_path):
    """A DH group OpenSSL refuses as too small (1536 bits, security level 2) is a warning, not
    an error: no DHE suite is offered (none in the default list), ECDHE and TLS 1.3 still work."""
    small = dhparam(tmp_path, small=True)
    tls = server_tls(options(rsa_pki, dhparam=small))
    assert [w.line() for w in tls.warnings] == [
        f"{W}.dhparam: {small} holds 1536-bit DH parameters, which OpenSSL refuses as too small for its "
        "security level (2048 bits at the default level 2), so no DHE cipher suite is offered (ECDHE and "
        "TLS 1.3 are unaffected). Fix: make a 2048-bit group with `openssl dhparam -out dhparam.pem 2048`, "
        "use RFC 7919 ffdhe2048, or remove dhparam"]
    assert check_tls(options(rsa_pki, dhparam=small)) == []
    assert not [n for n in tls.serverConnectionForTLS(None).get_cipher_list() if n.startswith("DHE-")]
    with pytest.raises(SSL.Error):
        handshake(tls, client_context(rsa_pki, max_version=SSL.TLS1_2_VERSION,
                                      ciphers="DHE-RSA-AES128-GCM-SHA256"))
    client, _ = handshake(tls, client_context(rsa_pki, max_version=SSL.TLS1_2_VERSION))
    assert client.get_cipher_name() == "ECDHE-RSA-AES128-GCM-SHA256"
    client, _ = handshake(tls, client_context(rsa_pki))
    assert client.get_protocol_version_name() == "TLSv1.3"


def test_small_dhparam_served_at_a_lower_security_level(rsa_pki, tmp_path):
    """``@SECLEVEL=1`` in ``ciphers`` lets OpenSSL take a 1536-bit group: it is served, no warning
    (to a client listing no FFDHE group: the group is not RFC 7919's)."""
    suites = "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=1"
    tls = server_tls(options(rsa_pki, dhparam=dhparam(tmp_path, small=True), ciphers=suites))
    assert tls.warnings == []
    client, _ = handshake(tls, client_context(rsa_pki, max_version=SSL.TLS1_2_VERSION, ciphers=suites,
                                              groups="prime256v1"))
    assert client.get_cipher_name() == "DHE-RSA-AES128-GCM-SHA256"


def test_dhparam_that_is_not_dh_parameters_stays_an_error(rsa_pki, tmp_path):
    """A dhparam file that is missing or holds no DH parameters is still an error."""
    missing = tmp_path / "missing.pem"
    assert first_error(options(rsa_pki, dhparam=missing)).startswith(
        f"{W}.dhparam: file {missing} does not exist.")
    assert first_error(options(rsa_pki, dhparam=rsa_pki.chain_crt)).startswith(
        f"{W}.dhparam: {rsa_pki.chain_crt} holds ")
    assert "not PEM DH parameters" in first_error(options(rsa_pki, dhparam=rsa_pki.chain_crt))


@needs_group_lists
def test_dhe_for_client_listing_ffdhe_groups(rsa_pki, tmp_path):
    """A client listing FFDHE groups (RFC 7919) gets DHE from an ffdhe2048 dhparam."""
    ctx = client_context(rsa_pki, max_version=SSL.TLS1_2_VERSION,
                         ciphers="DHE-RSA-AES128-GCM-SHA256",
                         groups="P-256:ffdhe2048:ffdhe3072")
    client, server = handshake(
        server_tls(options(rsa_pki, dhparam=dhparam(tmp_path))), ctx)
    assert client.get_cipher_name() == "DHE-RSA-AES128-GCM-SHA256"
    assert server.get_group_name() == "ffdhe2048"


@pytest.mark.skipif(can_set_group_lists(), reason="only bindings without group lists refuse this")
def test_dhparam_group_refused_without_group_lists(rsa_pki, tmp_path):
    """Bindings that cannot list an ffdhe2048 dhparam beside the curve refuse dhparam in one line."""
    assert first_error(options(rsa_pki, dhparam=dhparam(tmp_path))) == (
        f"{W}.dhparam: this cryptography cannot offer the dhparam's group (ffdhe2048) beside the curve, "
        "which RFC 7919 clients need to get DHE. "
        "Remove dhparam, or install cryptography 44 and pyOpenSSL 25.2 or later"
    )


def test_ffdhe_group_added_last(rsa_pki, tmp_path):
    """With an ffdhe2048 dhparam the group list is curve then ffdhe2048 (ECDHE first)."""
    from node.tls.context import group_list

    assert group_list(options(rsa_pki, dhparam=dhparam(tmp_path))) == "prime256v1:ffdhe2048"
    assert group_list(options(rsa_pki, dhparam=dhparam(tmp_path, small=True))) == "prime256v1"
    assert group_list(options(rsa_pki)) == "prime256v1"


def test_alpn(ec_pki):
    """alpn selects our first protocol the client offers."""
    tls = server_tls(options(ec_pki, alpn=["h2", "http/1.1"]))
    client, _ = handshake(tls, client_context(ec_pki), alpn=(b"http/1.1", b"h2"))
    assert client.get_alpn_proto_negotiated() == b"h2"


# --- settings errors -----------------------------------------------------------------


def test_bad_cipher_string(ec_pki):
    """A cipher string that selects nothing is one line naming it."""
    assert first_error(options(ec_pki, ciphers="NOPE-CIPHER")) == (
        f'{W}.ciphers: "NOPE-CIPHER" selects no cipher this OpenSSL supports. '
        "Check the names with: openssl ciphers -v 'STRING'"
    )


@needs_ciphersuites
def test_bad_ciphersuites(ec_pki):
    """Unknown TLS 1.3 suites are one line naming them."""
    assert first_error(options(ec_pki, ciphersuites="TLS_NOPE")) == (
        f'{W}.ciphersuites: "TLS_NOPE" selects no TLS 1.3 cipher suite. '
        "Use names such as TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256"
    )


@needs_group_lists
def test_bad_curve_names_the_bad_one(ec_pki):
    """In a group list only the unknown names are reported."""
    assert first_error(options(ec_pki, curve="prime256v1:nocurve:X25519")) == (
        f'{W}.curve: unknown or unsupported group "nocurve". '
        "Use names from: openssl list -groups (e.g. prime256v1, secp384r1, X25519)"
    )


@pytest.mark.parametrize("curve", ["", "prime256v1::X25519", "P-256:", "prime256v1\u00e9"])
def test_malformed_curve_list(ec_pki, curve):
    """An empty or malformed group list is refused."""
    assert first_error(options(ec_pki, curve=curve)).startswith(
        f"{W}.curve: unknown or unsupported group"
    )


def test_version_below_12(ec_pki):
    """A minimum below TLS 1.2 is refused with the RFC that deprecates it."""
    assert first_error(options(ec_pki, min_version="TLSv1.1")) == (
        f'{W}.min_version: "TLSv1.1" is not offered: TLS below 1.2 is deprecated '
        "(RFC 8996). Use TLSv1.2 or TLSv1.3"
    )


def test_max_below_min(ec_pki):
    """max_version below min_version is refused."""
    assert first_error(options(ec_pki, min_version="TLSv1.3", max_version="TLSv1.2")) == (
        f"{W}.max_version: TLSv1.2 is below min_version TLSv1.3. "
        "Raise max_version or remove it"
    )


def test_verify_client_needs_ca(ec_pki):
    """verify_client without ca_certificates is refused."""
    assert first_error(options(ec_pki, verify_client="required")) == (
        f'{W}.verify_client: "required" needs the CAs that issue client certificates. '
        "List their PEM files in ca_certificates"
    )


def test_key_mismatch(ec_pki):
    """A key that is not the certificate's is one line naming both files."""
    other = mismatched_key(ec_pki)
    assert first_error(tls_options(other, ec_pki.chain_crt)) == (
        f"{W}.key: key {other} does not match certificate {ec_pki.chain_crt}. "
        "Use the key the certificate was issued for"
    )


def test_chain_out_of_order(ec_pki):
    """A chain file with the intermediate first is named as out of order."""
    path = ec_pki.directory / "reversed.crt"
    path.write_bytes(ec_pki.intermediate_crt.read_bytes() + ec_pki.leaf_crt.read_bytes())
    assert first_error(tls_options(ec_pki.leaf_key, path)) == (
        f"{W}.key: key {ec_pki.leaf_key} belongs to a later certificate in {path}, "
        "not the first. Order the file leaf (server) certificate first, then intermediates"
    )


def test_missing_chain_file_names_index(ec_pki, tmp_path):
    """A missing chain file names its index in chain_certificates."""
    missing = tmp_path / "nope.crt"
    opts = options(ec_pki, chain_certificates=[ec_pki.intermediate_crt, missing])
    assert first_error(opts).startswith(
        f"{W}.chain_certificates[1]: file {missing} does not exist."
    )


def test_sni_entry_error_names_host(ec_pki, tmp_path):
    """A bad SNI entry names the host in the path."""
    missing = str(tmp_path / "nope.key")
    sni = {"api.example.com": SniEntry(missing, str(ec_pki.leaf_crt))}
    assert first_error(options(ec_pki, sni=sni)).startswith(
        f'{W}.sni["api.example.com"].key: file {missing} does not exist.'
    )


def test_check_tls_reports_everything(ec_pki, tmp_path):
    """check_tls lists every fault at once: missing key, bad cipher and bad curve."""
    opts = tls_options(tmp_path / "nope.key", ec_pki.chain_crt, ciphers="NOPE", curve="nocurve")
    wheres = [e.where for e in check_tls(opts)]
    assert wheres == [f"{W}.key", f"{W}.ciphers", f"{W}.curve"]


@needs_group_lists
def test_check_tls_clean(ec_pki, tmp_path):
    """check_tls of a good block is empty."""
    assert check_tls(options(ec_pki, dhparam=dhparam(tmp_path), curve="X25519:P-256")) == []


# --- the private-binding wrappers -------------------------------------------------


@needs_group_lists
def test_set_groups_wrapper():
    """set_groups accepts known names, rejects unknown ones, and leaves no error queued."""
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    assert set_groups(ctx, "prime256v1:X25519:secp384r1")
    assert not set_groups(ctx, "prime256v1:nocurve")
    assert openssl_lib.ERR_peek_error() == 0


def test_clear_openssl_errors():
    """clear_openssl_errors empties a queue that a failed OpenSSL call filled."""
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    assert openssl_lib.SSL_CTX_set_cipher_list(ctx._context, b"NOPE") == 0
    assert openssl_lib.ERR_peek_error() != 0
    clear_openssl_errors()
    assert openssl_lib.ERR_peek_error() == 0


# --- SNI --------------------------------------------------------------------------


def test_sni_lookup_rules():
    """Exact names win, a wildcard covers one label, and case is ignored."""
    names = {"a.example.com": 1, "*.example.com": 2}
    assert sni_lookup(names, "A.Example.com") == 1
    assert sni_lookup(names, "b.example.com") == 2
    assert sni_lookup(names, "x.b.example.com") is None
    assert sni_lookup(names, "example.com") is None
    assert sni_lookup(names, None) is None


def _subject_cn(client: SSL.Connection) -> str:
    return client.get_peer_certificate(as_cryptography=True).subject.rfc4514_string()


def test_sni_selects_certificate(ec_pki):
    """Two SNI names and the default each get their own certificate and chain."""
    a_key, a_crt = issue(ec_pki, "a.example.com", hosts=["a.example.com"])
    w_key, w_crt = issue(ec_pki, "wild.example.org", hosts=["*.example.org"])
    sni = {
        "a.example.com": SniEntry(str(a_key), str(a_crt), (str(ec_pki.intermediate_crt),)),
        "*.example.org": SniEntry(str(w_key), str(w_crt), (str(ec_pki.intermediate_crt),)),
    }
    tls = server_tls(options(ec_pki, sni=sni))
    client, server = handshake(tls, client_context(ec_pki), b"a.example.com")
    assert _subject_cn(client) == "CN=a.example.com,O=wampnode tests"
    assert len(client.get_peer_cert_chain()) == 2
    assert exchange(client, server) == b"ping"
    client, _ = handshake(tls, client_context(ec_pki), b"x.example.org")
    assert _subject_cn(client) == "CN=wild.example.org,O=wampnode tests"
    client, _ = handshake(tls, client_context(ec_pki), b"other.test")
    assert _subject_cn(client) == "CN=localhost,O=wampnode tests"
    client, _ = handshake(tls, client_context(ec_pki))
    assert _subject_cn(client) == "CN=localhost,O=wampnode tests"


# --- mutual TLS ---------------------------------------------------------------------


def test_client_certificate_required(ec_pki):
    """verify_client required: no certificate fails, one from the CA connects."""
    opts = options(ec_pki, verify_client="required", ca_certificates=[ec_pki.root_crt])
    tls = server_tls(opts)
    with pytest.raises(SSL.Error):
        handshake(tls, client_context(ec_pki))
    key, crt = issue(ec_pki, "client-alice", hosts=[], client=True)
    chain = ec_pki.directory / "client-alice-chain.crt"
    chain.write_bytes(crt.read_bytes() + ec_pki.intermediate_crt.read_bytes())
    ctx = client_context(ec_pki)
    ctx.use_privatekey_file(str(key))
    ctx.use_certificate_chain_file(str(chain))
    client, server = handshake(tls, ctx)
    peer = server.get_peer_certificate(as_cryptography=True)
    assert peer.subject.rfc4514_string() == "CN=client-alice,O=wampnode tests"
    assert exchange(client, server) == b"ping"


def test_client_certificate_from_other_ca_refused(ec_pki, tmp_path):
    """A client certificate from another CA is refused."""
    other = make_pki(tmp_path / "other")
    key, crt = issue(other, "mallory", hosts=[], client=True)
    tls = server_tls(options(ec_pki, verify_client="required",
                             ca_certificates=[ec_pki.root_crt]))
    with pytest.raises(SSL.Error):
        handshake(tls, client_context(ec_pki, cert=(key, crt)))


def test_client_certificate_optional(ec_pki):
    """verify_client optional lets a client without a certificate in."""
    tls = server_tls(options(ec_pki, verify_client="optional",
                             ca_certificates=[ec_pki.root_crt]))
    _, server = handshake(tls, client_context(ec_pki))
    assert server.get_peer_certificate() is None


# --- reload --------------------------------------------------------------------------


def test_reload_serves_new_certificate_and_keeps_connections(ec_pki, tmp_path):
    """After reload new handshakes see the new certificate; open connections go on."""
    key, crt = tmp_path / "server.key", tmp_path / "server.crt"
    key.write_bytes(ec_pki.leaf_key.read_bytes())
    crt.write_bytes(ec_pki.chain_crt.read_bytes())
    tls = server_tls(tls_options(key, crt))
    old_client, old_server = handshake(tls, client_context(ec_pki))
    new_key, new_crt = issue(ec_pki, "renewed")
    key.write_bytes(new_key.read_bytes())
    crt.write_bytes(new_crt.read_bytes())
    tls.reload()
    client, _ = handshake(tls, client_context())
    assert _subject_cn(client) == "CN=renewed,O=wampnode tests"
    assert exchange(old_client, old_server) == b"ping"


def test_failed_reload_keeps_old_context(ec_pki, tmp_path):
    """A broken new key is refused, the old certificate stays, no OpenSSL error is left."""
    key, crt = tmp_path / "server.key", tmp_path / "server.crt"
    key.write_bytes(ec_pki.leaf_key.read_bytes())
    crt.write_bytes(ec_pki.chain_crt.read_bytes())
    tls = server_tls(tls_options(key, crt))
    old_client, old_server = handshake(tls, client_context(ec_pki))
    key.write_bytes(mismatched_key(ec_pki, "reload-other.key").read_bytes())
    with pytest.raises(TlsError) as caught:
        tls.reload()
    assert caught.value.line().startswith(f"{W}.key: key {key} does not match")
    assert openssl_lib.ERR_peek_error() == 0
    client, _ = handshake(tls, client_context(ec_pki))
    assert _subject_cn(client) == "CN=localhost,O=wampnode tests"
    assert exchange(old_client, old_server) == b"ping"


def test_reload_with_new_options(ec_pki):
    """reload(options) also applies new settings, e.g. a TLS 1.3 minimum."""
    tls = server_tls(options(ec_pki))
    tls.reload(options(ec_pki, min_version="TLSv1.3"))
    with pytest.raises(SSL.Error):
        handshake(tls, client_context(ec_pki, max_version=SSL.TLS1_2_VERSION))
