"""node.tls.hygiene: warnings about certificates, keys and DH groups that still load."""
from __future__ import annotations

import datetime
import os

import pytest

from node.tls.hygiene import tls_warnings
from pki import (
    ca_as_leaf,
    days_ahead,
    dhparam,
    expired_leaf,
    future_leaf,
    issue,
    make_pki,
    tls_options,
)

W = "workers[0].transports[0].endpoint.tls"


@pytest.fixture(scope="module")
def ec_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("ec"))


def options(pki, **overrides):
    return tls_options(pki.leaf_key, pki.chain_crt, **overrides)


def _warnings_for(pki, key, crt, **kw):
    return tls_warnings(tls_options(key, crt), **kw)


def test_no_warnings_for_a_good_leaf(ec_pki):
    """A fresh leaf with a 0600 key has no warnings."""
    assert tls_warnings(options(ec_pki)) == []


def test_expired_warning(ec_pki):
    """An expired leaf is a warning with its end date."""
    key, crt = expired_leaf(ec_pki)
    (line,) = _warnings_for(ec_pki, key, crt)
    assert line.startswith(f"{W}.certificate: certificate {crt} (CN=expired,O=wampnode tests) expired on ")
    assert line.endswith(" UTC. Renew it; clients refuse expired certificates")


def test_expiring_soon_warning(ec_pki):
    """A leaf that ends within 30 days is a warning."""
    key, crt = issue(ec_pki, "soon", not_after=days_ahead(5))
    (line,) = _warnings_for(ec_pki, key, crt)
    assert " expires on " in line and line.endswith("Renew it soon, then reload")


def test_not_yet_valid_warning(ec_pki):
    """A leaf valid only from a future date is a warning naming the clock."""
    key, crt = future_leaf(ec_pki)
    (line,) = _warnings_for(ec_pki, key, crt)
    assert " is not valid before " in line and line.endswith("Check this machine's clock, or wait")


def test_ca_as_leaf_warning(ec_pki):
    """A CA certificate used as the server certificate is a warning."""
    key, crt = ca_as_leaf(ec_pki)
    assert _warnings_for(ec_pki, key, crt) == [
        f"{W}.certificate: the first certificate in {crt} (CN=ca-leaf,O=wampnode tests) "
        "is a CA certificate, not a server certificate. "
        "Put the server (leaf) certificate first, or issue one from this CA"
    ]


def test_key_mode_warning(ec_pki, tmp_path):
    """A key file readable by others is a warning with the chmod that fixes it."""
    key = tmp_path / "open.key"
    key.write_bytes(ec_pki.leaf_key.read_bytes())
    os.chmod(key, 0o644)
    assert _warnings_for(ec_pki, key, ec_pki.chain_crt) == [
        f"{W}.key: private key {key} is readable by group or others (mode 0644). chmod 600 {key}"
    ]


def test_small_dh_warning(ec_pki, tmp_path):
    """A DH group under 2048 bits that OpenSSL serves (security level 1), and one that is not
    from RFC 7919, are warnings."""
    small = dhparam(tmp_path, small=True)
    level_1 = "ECDHE-ECDSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=1"
    assert tls_warnings(options(ec_pki, dhparam=small, ciphers=level_1)) == [
        f"{W}.dhparam: DH parameters in {small} have 1536 bits, under 2048 (Logjam). "
        "Use RFC 7919 ffdhe2048 or: openssl dhparam -out dhparam.pem 2048",
        f"{W}.dhparam: DH parameters in {small} are not an RFC 7919 group, so clients "
        "that list FFDHE groups (OpenSSL 4.0 does) get no DHE suite. "
        "Use ffdhe2048: https://ssl-config.mozilla.org/ffdhe2048.txt",
    ]


def test_dh_refused_as_too_small_no_hygiene_warning(ec_pki, tmp_path):
    """A DH group OpenSSL refuses as too small is not served (DHE off): its one warning is the
    build's (ServerTls.warnings), not a hygiene one."""
    assert tls_warnings(options(ec_pki, dhparam=dhparam(tmp_path, small=True))) == []


def test_ffdhe2048_no_warning(ec_pki, tmp_path):
    """The RFC 7919 ffdhe2048 group gives no warning."""
    assert tls_warnings(options(ec_pki, dhparam=dhparam(tmp_path))) == []


def test_warnings_at_a_given_time(ec_pki):
    """tls_warnings takes the time to judge by: a good leaf is expired next year+."""
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=400)
    (line,) = tls_warnings(options(ec_pki), now=later)
    assert " expired on " in line


# --- issue 6 hygiene rules: each with a certificate that trips it ----------------


def _sign_custom(pki, name, key=None, extensions=(), hosts=("localhost",), days=90):
    """A leaf from the test intermediate with extra extensions; returns (key, crt) paths."""
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes, serialization
    from pki import _name, days_ago, new_key, write_certs, write_key

    key = key or new_key(pki.key_type)
    issuer_key = serialization.load_pem_private_key(pki.intermediate_key.read_bytes(), None)
    issuer = cx509.load_pem_x509_certificate(pki.intermediate_crt.read_bytes())
    builder = (
        cx509.CertificateBuilder().subject_name(_name(name)).issuer_name(issuer.subject)
        .public_key(key.public_key()).serial_number(cx509.random_serial_number())
        .not_valid_before(days_ago(1)).not_valid_after(days_ahead(days))
        .add_extension(cx509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(cx509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()),
                       critical=False)
        .add_extension(cx509.SubjectAlternativeName([cx509.DNSName(h) for h in hosts]),
                       critical=False)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    return (write_key(pki.directory / f"{name}.key", key),
            write_certs(pki.directory / f"{name}.crt", [cert]))


def _only(lines, text):
    """The one warning line containing ``text``."""
    found = [line for line in lines if text in line]
    assert len(found) == 1, lines
    return found[0]


def test_long_validity_warning(ec_pki):
    """A leaf valid for more than 398 days is a warning naming its length."""
    key, crt = issue(ec_pki, "long", not_after=days_ahead(500))
    assert _warnings_for(ec_pki, key, crt) == [
        f"{W}.certificate: certificate {crt} (CN=long,O=wampnode tests) is valid for 501 days, "
        "over 398: browsers reject such leaves (CA/B Forum, 2020). "
        "Issue leaves for at most 397 days, e.g. wampnode cert issue --days 90"
    ]


def test_missing_san_warning(ec_pki):
    """A leaf with a CN but no subjectAltName is a warning."""
    key, crt = issue(ec_pki, "cn-only", hosts=[])
    (line,) = _warnings_for(ec_pki, key, crt)
    assert line == (
        f"{W}.certificate: certificate {crt} (CN=cn-only,O=wampnode tests) has no "
        "subjectAltName (CN only); clients ignore the CN (RFC 6125, Chrome 58). "
        "Reissue it with the host names as SAN: wampnode cert issue --host NAME"
    )


def test_sni_name_not_covered_warning(ec_pki):
    """An sni key that the entry's certificate does not name is a warning; a matching one is not."""
    from node.config.model import SniEntry

    a_key, a_crt = issue(ec_pki, "a.example.test", hosts=["a.example.test"])
    w_key, w_crt = issue(ec_pki, "w.example.org", hosts=["*.example.org"])
    sni = {"b.example.test": SniEntry(str(a_key), str(a_crt), (str(ec_pki.intermediate_crt),)),
           "*.example.org": SniEntry(str(w_key), str(w_crt), (str(ec_pki.intermediate_crt),))}
    assert tls_warnings(options(ec_pki, sni=sni)) == [
        f'{W}.sni["b.example.test"].certificate: host name "b.example.test" is not covered by '
        f"certificate {a_crt} (SAN: a.example.test). "
        "Issue a certificate that names it, or fix the host name"
    ]


def test_host_not_covered_warning(ec_pki):
    """A --host name the served certificate does not name is a warning; covered names pass."""
    lines = tls_warnings(options(ec_pki), hosts=["localhost", "127.0.0.1", "node.example.test"])
    assert lines == [
        f'{W}.certificate: host name "node.example.test" is not covered by certificate '
        f"{ec_pki.chain_crt} (SAN: localhost, 127.0.0.1, ::1). "
        "Issue a certificate that names it, or fix the host name"
    ]


def test_small_rsa_key_warning_and_error(ec_pki):
    """A 1024-bit RSA leaf is a warning, and an error OpenSSL's refusal explains."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from node.tls.context import check_tls

    key, crt = _sign_custom(ec_pki, "rsa1024", key=rsa.generate_private_key(65537, 1024))
    opts = tls_options(key, crt, chain_certificates=[ec_pki.intermediate_crt])
    assert _only(tls_warnings(opts), "RSA key") == (
        f"{W}.certificate: certificate {crt} (CN=rsa1024,O=wampnode tests) has an RSA key of "
        "1024 bits, under 2048. Use a new key of 2048+ bits or ECDSA P-256: "
        "wampnode cert csr --host NAME"
    )
    assert [e.line() for e in check_tls(opts)] == [
        f"{W}.certificate: certificate {crt} has an RSA key of 1024 bits, under 2048, which "
        "OpenSSL (security level 2) refuses to serve. "
        "Use a new key of 2048+ bits or ECDSA P-256: wampnode cert csr --host NAME"
    ]


def test_sha1_signature_warning(ec_pki, tmp_path):
    """A leaf signed with SHA-1 (made by the openssl command) is a warning."""
    import subprocess

    key = tmp_path / "sha1.key"
    key.write_bytes(ec_pki.leaf_key.read_bytes())
    os.chmod(key, 0o600)
    crt, csr = tmp_path / "sha1.crt", tmp_path / "sha1.csr"
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n")
    for command in (["req", "-new", "-key", str(key), "-subj", "/CN=sha1", "-out", str(csr)],
                    ["x509", "-req", "-in", str(csr), "-CA", str(ec_pki.intermediate_crt),
                     "-CAkey", str(ec_pki.intermediate_key), "-sha1", "-days", "60",
                     "-extfile", str(ext), "-out", str(crt)]):
        done = subprocess.run(["openssl", *command], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
    lines = tls_warnings(tls_options(key, crt, chain_certificates=[ec_pki.intermediate_crt]))
    assert lines == [
        f"{W}.certificate: certificate {crt} (CN=sha1) is signed with SHA1, which clients "
        "reject (SHA-1 collisions: SHAttered, 2017). Have it reissued with SHA-256"
    ]


def test_chain_out_of_order_warning(ec_pki, tmp_path):
    """A chain file listing the root before the intermediate is a warning per broken link."""
    disordered = tmp_path / "disordered.crt"
    disordered.write_bytes(ec_pki.leaf_crt.read_bytes() + ec_pki.root_crt.read_bytes()
                           + ec_pki.intermediate_crt.read_bytes())
    assert tls_warnings(tls_options(ec_pki.leaf_key, disordered)) == [
        f"{W}.certificate: served chain out of order: certificate 1 (CN=localhost,O=wampnode "
        "tests) is not issued by certificate 2 (CN=wampnode test root CA,O=wampnode tests). "
        "List the leaf first, then each issuer in turn (root optional)",
        f"{W}.certificate: served chain out of order: certificate 2 (CN=wampnode test root CA,"
        "O=wampnode tests) is not issued by certificate 3 (CN=wampnode test intermediate CA,"
        "O=wampnode tests). List the leaf first, then each issuer in turn (root optional)",
    ]


def test_missing_intermediate_from_aia(ec_pki):
    """A leaf naming its issuer's URL (as public CAs do), served alone, lacks an intermediate."""
    from cryptography import x509 as cx509
    from cryptography.x509.oid import AuthorityInformationAccessOID

    aia = cx509.AuthorityInformationAccess([cx509.AccessDescription(
        AuthorityInformationAccessOID.CA_ISSUERS,
        cx509.UniformResourceIdentifier("http://ca.example.test/intermediate.crt"))])
    key, crt = _sign_custom(ec_pki, "public-leaf", extensions=[aia])
    assert _warnings_for(ec_pki, key, crt) == [
        f"{W}.certificate: missing intermediate: the served chain ends with CN=public-leaf,"
        "O=wampnode tests, issued by CN=wampnode test intermediate CA,O=wampnode tests, which "
        "is not sent (its issuer's certificate: http://ca.example.test/intermediate.crt). "
        "Append the intermediate certificate(s) to the certificate file or list them in "
        "chain_certificates"
    ]
    complete = tls_options(key, crt, chain_certificates=[ec_pki.intermediate_crt])
    assert tls_warnings(complete) == []


def test_missing_intermediate_with_roots(ec_pki):
    """With trusted roots given, a leaf whose issuer is not one of them lacks an intermediate."""
    from cryptography import x509 as cx509

    root = cx509.load_pem_x509_certificate(ec_pki.root_crt.read_bytes())
    alone = tls_options(ec_pki.leaf_key, ec_pki.leaf_crt)
    assert tls_warnings(alone) == []  # a private CA's leaf: nothing to judge by
    (line,) = tls_warnings(alone, roots=[root])
    assert line.startswith(f"{W}.certificate: missing intermediate: the served chain ends "
                           "with CN=localhost,O=wampnode tests, issued by CN=wampnode test "
                           "intermediate CA,O=wampnode tests, which is not sent. ")
    assert tls_warnings(options(ec_pki), roots=[root]) == []


def test_group_readable_key_warning(ec_pki, tmp_path):
    """A key file readable by its group (0640) is a warning too."""
    key = tmp_path / "group.key"
    key.write_bytes(ec_pki.leaf_key.read_bytes())
    os.chmod(key, 0o640)
    assert _warnings_for(ec_pki, key, ec_pki.chain_crt) == [
        f"{W}.key: private key {key} is readable by group or others (mode 0640). chmod 600 {key}"
    ]


SEED_CIPHERS = ("ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:"
                "DHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:DHE-RSA-AES128-SHA")
CIPHER_FIX = "Remove `ciphers` to use the Mozilla intermediate default (ECDHE with AEAD only)"


def test_seed_guide_ciphers_flagged(ec_pki):
    """The Crossbar TLS guide's list: its four CBC suites and two SHA-1 MAC suites are named."""
    assert tls_warnings(options(ec_pki, ciphers=SEED_CIPHERS)) == [
        f"{W}.ciphers: enables 4 suite(s) CBC (not AEAD): ECDHE-RSA-AES128-SHA256, "
        f"DHE-RSA-AES128-SHA256, ECDHE-RSA-AES128-SHA, DHE-RSA-AES128-SHA. {CIPHER_FIX}",
        f"{W}.ciphers: enables 2 suite(s) with a SHA-1 MAC: ECDHE-RSA-AES128-SHA, "
        f"DHE-RSA-AES128-SHA. {CIPHER_FIX}",
    ]


def test_non_forward_secret_and_anonymous_ciphers_flagged(ec_pki):
    """RSA key exchange and anonymous suites are named as such."""
    lines = tls_warnings(options(
        ec_pki, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:AES128-GCM-SHA256:ADH-AES128-GCM-SHA256"
                        ":@SECLEVEL=0"))
    assert lines == [
        f"{W}.ciphers: enables 1 suite(s) without forward secrecy: AES128-GCM-SHA256. {CIPHER_FIX}",
        f"{W}.ciphers: enables 1 suite(s) anonymous (no server authentication): "
        f"ADH-AES128-GCM-SHA256. {CIPHER_FIX}",
    ]


def test_default_and_explicit_mozilla_ciphers_not_flagged(ec_pki):
    """The default list written out as ciphers gives no warning."""
    from node.tls.context import default_ciphers

    assert tls_warnings(options(ec_pki, ciphers=default_ciphers(True))) == []


def test_intermediate_expiry_warning(ec_pki, tmp_path):
    """An expired intermediate in the served chain is a warning too, not just the leaf."""
    from cryptography.hazmat.primitives import serialization
    from pki import days_ago, sign, write_certs

    root_key = serialization.load_pem_private_key(ec_pki.root_key.read_bytes(), None)
    from cryptography import x509 as cx509

    root = cx509.load_pem_x509_certificate(ec_pki.root_crt.read_bytes())
    inter_key = serialization.load_pem_private_key(ec_pki.intermediate_key.read_bytes(), None)
    old = sign(inter_key, "wampnode test intermediate CA", (root_key, root), is_ca=True,
               not_before=days_ago(400), not_after=days_ago(2))
    chain = write_certs(tmp_path / "old-inter.crt", [old])
    (line,) = tls_warnings(tls_options(ec_pki.leaf_key, ec_pki.leaf_crt,
                                       chain_certificates=[chain]))
    assert line.startswith(f"{W}.certificate: certificate {chain} (CN=wampnode test "
                           "intermediate CA,O=wampnode tests) expired on ")


@pytest.mark.parametrize("names, host, expected", [
    (["localhost"], "LOCALHOST", True),
    (["*.example.com"], "a.example.com", True),
    (["*.example.com"], "a.b.example.com", False),  # one label deep (RFC 6125 6.4.3)
    (["*.example.com"], "example.com", False),
    (["a.example.com"], "*.example.com", False),  # an SNI pattern needs the same wildcard
    (["*.example.com"], "*.example.com", True),
    (["::1"], "0:0:0:0:0:0:0:1", True),
    (["127.0.0.1"], "127.0.0.2", False),
    (["127.0.0.1"], "localhost", False),
])
def test_san_coverage(names, host, expected):
    """covers() matches DNS names with RFC 6125 wildcards and IP addresses by value."""
    from node.tls.certinfo import covers

    assert covers(names, host) is expected
