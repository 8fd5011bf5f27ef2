"""node.tls.devcerts: keys and certificates checked with the system ``openssl`` command."""
from __future__ import annotations

import datetime
import os
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from node.tls.devcerts import issue_leaf, make_ca, make_csr, make_selfsigned
from node.errors import TlsError


def openssl(*args: str) -> str:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def load(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(open(path, "rb").read())


def test_selfsigned_defaults(tmp_path):
    """The dev certificate is ECDSA P-256, 90 days, SAN localhost/127.0.0.1/::1, key 0600."""
    key, crt = tmp_path / "server.key", tmp_path / "server.crt"
    make_selfsigned(str(key), str(crt))
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    text = openssl("x509", "-in", str(crt), "-noout", "-text")
    assert "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1" in text
    assert "ASN1 OID: prime256v1" in text
    assert "CA:FALSE" in text and "TLS Web Server Authentication" in text
    cert = load(crt)
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=90) <= lifetime <= datetime.timedelta(days=90, minutes=6)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    openssl("verify", "-CAfile", str(crt), "-purpose", "sslserver", str(crt))
    openssl("ec", "-in", str(key), "-check", "-noout")


def test_selfsigned_key_matches(tmp_path):
    """The written key is the certificate's (openssl compares the public keys)."""
    key, crt = tmp_path / "k", tmp_path / "c"
    make_selfsigned(str(key), str(crt), hosts=("example.test",))
    assert openssl("pkey", "-in", str(key), "-pubout") == openssl("x509", "-in", str(crt), "-noout", "-pubkey")


def test_selfsigned_rsa(tmp_path):
    """key_type rsa makes an RSA key of the requested size."""
    key, crt = tmp_path / "k", tmp_path / "c"
    make_selfsigned(str(key), str(crt), key_type="rsa", rsa_bits=2048)
    public = load(crt).public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048


def test_refuses_overwrite(tmp_path):
    """An existing key file is not overwritten unless asked."""
    key, crt = tmp_path / "k", tmp_path / "c"
    key.write_text("keep me")
    with pytest.raises(TlsError) as caught:
        make_selfsigned(str(key), str(crt))
    assert caught.value.line() == f"{key}: already exists. Remove it first, or choose another name"
    assert key.read_text() == "keep me"
    make_selfsigned(str(key), str(crt), overwrite=True)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600


@pytest.mark.parametrize("days", [0, 398])
def test_leaf_days_limit(tmp_path, days):
    """Leaves valid for more than 397 days (or none) are refused."""
    with pytest.raises(TlsError) as caught:
        make_selfsigned(str(tmp_path / "k"), str(tmp_path / "c"), days=days)
    assert caught.value.line() == (
        f"--days: {days} days is outside 1..397. "
        "Browsers reject TLS leaves valid for more than 398 days (CA/B Forum, 2020)"
    )


def test_ca_issues_verifiable_leaf(tmp_path):
    """A leaf issued by make_ca's CA verifies with openssl for the SSL server purpose."""
    ca_key, ca_crt = str(tmp_path / "ca.key"), str(tmp_path / "ca.crt")
    make_ca(ca_key, ca_crt)
    key, crt = str(tmp_path / "leaf.key"), str(tmp_path / "leaf.crt")
    issue_leaf(ca_key, ca_crt, key, crt, hosts=("node.example.test", "10.0.0.1"))
    assert openssl("verify", "-CAfile", ca_crt, "-purpose", "sslserver",
                   "-verify_hostname", "node.example.test", crt).strip() == f"{crt}: OK"
    leaf, ca = load(crt), load(ca_crt)
    akid = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    skid = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert akid.key_identifier == skid.digest
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(ca_key).st_mode) == 0o600


def test_client_leaf(tmp_path):
    """A client leaf has clientAuth and verifies for the SSL client purpose."""
    ca_key, ca_crt = str(tmp_path / "ca.key"), str(tmp_path / "ca.crt")
    make_ca(ca_key, ca_crt)
    key, crt = str(tmp_path / "alice.key"), str(tmp_path / "alice.crt")
    issue_leaf(ca_key, ca_crt, key, crt, hosts=("alice",), client=True)
    openssl("verify", "-CAfile", ca_crt, "-purpose", "sslclient", crt)
    assert load(crt).subject.rfc4514_string() == "CN=alice"


def test_issue_with_mismatched_ca(tmp_path):
    """A CA key that is not the CA certificate's is refused before anything is written."""
    make_ca(str(tmp_path / "a.key"), str(tmp_path / "a.crt"))
    make_ca(str(tmp_path / "b.key"), str(tmp_path / "b.crt"))
    with pytest.raises(TlsError) as caught:
        issue_leaf(str(tmp_path / "a.key"), str(tmp_path / "b.crt"),
                   str(tmp_path / "l.key"), str(tmp_path / "l.crt"))
    assert caught.value.line().startswith(f"--ca: key {tmp_path / 'a.key'} does not match")
    assert not (tmp_path / "l.key").exists()


def test_csr(tmp_path):
    """make_csr writes a signed request with the hosts as SAN and a 0600 key."""
    key, csr = tmp_path / "k", tmp_path / "req.pem"
    make_csr(str(key), str(csr), hosts=("example.test", "www.example.test"))
    text = openssl("req", "-in", str(csr), "-noout", "-text", "-verify")
    assert "DNS:example.test, DNS:www.example.test" in text
    assert "Subject: CN = example.test" in text
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
