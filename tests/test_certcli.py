"""``wampnode cert`` (make and show certificates) and ``wampnode check`` TLS rules, as a user runs them."""
from __future__ import annotations

import json
import os
import stat
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import free_port, router_config, run_cli, tcp
from pki import issue, make_pki

TLS = "workers[0].transports[0].endpoint.tls"


def load(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(open(path, "rb").read())


def ok(*args: str, cwd=None) -> subprocess.CompletedProcess:
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--max-time", "10", *args],
                          capture_output=True, text=True, timeout=20)


def test_round_trip_ca_issue_start_curl(tmp_path, node_factory):
    """CA -> issue -> start a node with the leaf -> curl --cacert ca.crt gets the page."""
    ok("cert", "ca", "--dir", str(tmp_path / "ca"))
    cbdir = tmp_path / "node"
    ok("cert", "issue", "--ca", str(tmp_path / "ca"), "--host", "localhost", "127.0.0.1",
       "--dir", str(cbdir))
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("<h1>issued by wampnode cert</h1>")
    port = free_port()
    tls = {"key": "server.key", "certificate": "server.crt"}
    config = router_config([{"type": "web", "endpoint": tcp(port, tls),
                             "paths": {"/": {"type": "static", "directory": str(www)}}}])
    (cbdir / "config.json").write_text(json.dumps(config))
    check = run_cli("check", "--strict", "--host", "localhost", "--cbdir", str(cbdir))
    assert check.returncode == 0, check.stderr  # the issued leaf passes every hygiene rule
    node_factory(config, cbdir)
    cacert = str(tmp_path / "ca" / "ca.crt")
    by_name = curl("--cacert", cacert, "--resolve", f"localhost:{port}:127.0.0.1",
                   f"https://localhost:{port}/")
    assert by_name.returncode == 0, by_name.stderr
    assert "issued by wampnode cert" in by_name.stdout
    by_ip = curl("--cacert", cacert, f"https://127.0.0.1:{port}/")
    assert "issued by wampnode cert" in by_ip.stdout, by_ip.stderr
    untrusted = curl(f"https://127.0.0.1:{port}/")
    assert untrusted.returncode == 60, untrusted.stderr  # curl: peer certificate not verified


def test_selfsigned_defaults_and_rsa(tmp_path):
    """selfsigned: ECDSA P-256 for localhost/127.0.0.1/::1, key 0600; --rsa 3072 gives RSA."""
    result = ok("cert", "selfsigned", "--dir", str(tmp_path))
    key, crt = tmp_path / "server.key", tmp_path / "server.crt"
    assert f"wrote {key} (ECDSA P-256, mode 0600)" in result.stdout
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    cert = load(crt)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(n.value) for n in san] == ["localhost", "127.0.0.1", "::1"]
    ok("cert", "selfsigned", "--dir", str(tmp_path), "--name", "big", "--rsa", "3072",
       "--host", "node.example.test", "--days", "30")
    big = load(tmp_path / "big.crt")
    assert isinstance(big.public_key(), rsa.RSAPublicKey) and big.public_key().key_size == 3072
    assert (big.not_valid_after_utc - big.not_valid_before_utc).days == 30


def test_refuses_overwrite_without_force(tmp_path):
    """An existing output file is kept (exit 2, one line) unless --force."""
    ok("cert", "selfsigned", "--dir", str(tmp_path))
    before = (tmp_path / "server.crt").read_bytes()
    again = run_cli("cert", "selfsigned", "--dir", str(tmp_path))
    assert again.returncode == 2
    assert again.stderr.strip() == (f"{tmp_path / 'server.key'}: already exists. "
                                    "Remove it, choose --name/--dir, or --force")
    assert (tmp_path / "server.crt").read_bytes() == before
    ok("cert", "selfsigned", "--dir", str(tmp_path), "--force")
    assert (tmp_path / "server.crt").read_bytes() != before


def test_days_over_397_refused(tmp_path):
    """A leaf for more than 397 days is refused with the reason."""
    result = run_cli("cert", "selfsigned", "--dir", str(tmp_path), "--days", "400")
    assert result.returncode == 2
    assert "--days: 400 days is outside 1..397" in result.stderr
    assert "Traceback" not in result.stderr


def test_issue_has_key_identifiers_and_server_auth(tmp_path):
    """An issued leaf has AKID = the CA's SKID, serverAuth, CA:FALSE, and verifies with openssl."""
    ok("cert", "ca", "--dir", str(tmp_path / "ca"), "--cn", "Test Root")
    ok("cert", "issue", "--ca", str(tmp_path / "ca"), "--host", "node.example.test",
       "--dir", str(tmp_path))
    ca, leaf = load(tmp_path / "ca" / "ca.crt"), load(tmp_path / "server.crt")
    akid = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    skid = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert akid.key_identifier == skid.digest
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    assert ca.subject.rfc4514_string() == "CN=Test Root,O=wampnode"
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca" / "ca.crt"),
                             "-purpose", "sslserver", "-verify_hostname", "node.example.test",
                             str(tmp_path / "server.crt")], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_issue_client_certificate(tmp_path):
    """issue --client makes a clientAuth leaf whose CN is the first --host."""
    ok("cert", "ca", "--dir", str(tmp_path))
    result = ok("cert", "issue", "--ca", str(tmp_path), "--client", "--host", "alice",
                "--name", "alice", "--dir", str(tmp_path))
    assert '"verify_client": "required"' in result.stdout
    leaf = load(tmp_path / "alice.crt")
    assert leaf.subject.rfc4514_string() == "CN=alice"
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]


def test_issue_with_missing_ca(tmp_path):
    """issue with a CA directory that holds no CA is one line, exit 2, nothing written."""
    result = run_cli("cert", "issue", "--ca", str(tmp_path / "none"), "--host", "x",
                     "--dir", str(tmp_path))
    assert result.returncode == 2
    assert f"--ca key: file {tmp_path / 'none' / 'ca.key'} does not exist." in result.stderr
    assert not (tmp_path / "server.key").exists()


def test_csr(tmp_path):
    """csr writes a 0600 key and a request with the hosts as SAN that openssl verifies."""
    ok("cert", "csr", "--host", "example.test", "www.example.test", "--dir", str(tmp_path))
    assert stat.S_IMODE(os.stat(tmp_path / "server.key").st_mode) == 0o600
    text = subprocess.run(["openssl", "req", "-in", str(tmp_path / "server.csr"), "-noout",
                           "-text", "-verify"], capture_output=True, text=True).stdout
    assert "DNS:example.test, DNS:www.example.test" in text
    shown = ok("cert", "show", str(tmp_path / "server.csr")).stdout
    assert "SAN:          example.test, www.example.test" in shown
    assert "signature:    valid" in shown


def test_show_chain(tmp_path):
    """show prints subject, SANs, issuer, validity, key, fingerprint and the chain order."""
    pki = make_pki(tmp_path, key_type="rsa")
    out = ok("cert", "show", str(pki.chain_crt)).stdout
    leaf = load(pki.leaf_crt)
    fingerprint = subprocess.run(["openssl", "x509", "-in", str(pki.leaf_crt), "-noout",
                                  "-fingerprint", "-sha256"], capture_output=True,
                                 text=True).stdout.strip().split("=", 1)[1]
    assert out.splitlines()[:3] == [
        f"{pki.chain_crt}: 2 certificate(s)",
        "certificate 1 (leaf):",
        "  subject:      CN=localhost,O=wampnode tests",
    ]
    assert "  SAN:          localhost, 127.0.0.1, ::1" in out
    assert "  issuer:       CN=wampnode test intermediate CA,O=wampnode tests" in out
    assert "  key:          RSA 2048 bits" in out
    assert f"  serial:       {leaf.serial_number:x}" in out
    assert f"  SHA-256:      {fingerprint}" in out
    assert "certificate 2 (intermediate CA):" in out
    assert "days left)" in out
    assert out.rstrip().endswith("chain order:  OK (each certificate is issued by the next)")


def test_show_wrong_order_and_key(tmp_path):
    """show names a chain in the wrong order, and a key file's type and mode."""
    pki = make_pki(tmp_path)
    wrong = tmp_path / "wrong.crt"
    wrong.write_bytes(pki.intermediate_crt.read_bytes() + pki.leaf_crt.read_bytes())
    out = ok("cert", "show", str(wrong), str(pki.leaf_key)).stdout
    assert "certificate 2 (leaf, but not first):" in out
    assert ("chain order:  WRONG: certificate 1 (CN=wampnode test intermediate CA,O=wampnode "
            "tests) is not issued by certificate 2 (CN=localhost,O=wampnode tests)") in out
    assert f"{pki.leaf_key}: private key\n  key:          ECDSA P-256\n  mode:         0600" in out


def test_show_not_pem(tmp_path):
    """show of a file without PEM data is one line, exit 2."""
    junk = tmp_path / "junk.txt"
    junk.write_text("hello")
    result = run_cli("cert", "show", str(junk))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"{junk}: holds no PEM certificate, certificate request "
                                     "or private key. Give a PEM file (-----BEGIN ...-----)")


# --- wampnode check: warnings, --strict, --host, --cafile -----------------------------


def _node_dir(tmp_path, tls):
    cbdir = tmp_path / "node"
    cbdir.mkdir(exist_ok=True)
    config = router_config([{"type": "websocket", "endpoint": tcp(free_port(), tls)}])
    (cbdir / "config.json").write_text(json.dumps(config))
    return cbdir


def test_check_warns_and_strict_fails(tmp_path):
    """check prints hygiene warnings with exit 0; --strict prints them as errors, exit 2."""
    pki = make_pki(tmp_path / "pki")
    key, crt = issue(pki, "long", not_after=__import__("pki").days_ahead(500))
    cbdir = _node_dir(tmp_path, {"key": str(key), "certificate": str(crt),
                                 "chain_certificates": [str(pki.intermediate_crt)]})
    relaxed = run_cli("check", "--cbdir", str(cbdir))
    assert relaxed.returncode == 0, relaxed.stderr
    assert relaxed.stderr.startswith(f"warning: {TLS}.certificate: certificate {crt} "
                                     "(CN=long,O=wampnode tests) is valid for 501 days")
    assert "OK (1 realm(s), 1 transport(s), 1 warning(s))" in relaxed.stdout
    strict = run_cli("check", "--strict", "--cbdir", str(cbdir))
    assert strict.returncode == 2
    lines = strict.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: {TLS}.certificate: certificate {crt}")
    assert lines[1].endswith("1 TLS problem(s) (--strict)")
    assert "OK" not in strict.stdout and "Traceback" not in strict.stderr


def test_check_host_and_cafile(tmp_path):
    """--host names must be in the SAN; --cafile tells that a served leaf lacks its intermediate."""
    pki = make_pki(tmp_path / "pki")
    cbdir = _node_dir(tmp_path, {"key": str(pki.leaf_key), "certificate": str(pki.leaf_crt)})
    clean = run_cli("check", "--strict", "--host", "localhost", "--cbdir", str(cbdir))
    assert clean.returncode == 0, clean.stderr
    result = run_cli("check", "--strict", "--host", "localhost", "node.example.test",
                     "--cafile", str(pki.root_crt), "--cbdir", str(cbdir))
    assert result.returncode == 2
    assert f'{TLS}.certificate: host name "node.example.test" is not covered' in result.stderr
    assert f"{TLS}.certificate: missing intermediate:" in result.stderr
    assert '"localhost" is not covered' not in result.stderr


def test_check_seed_ciphers(tmp_path):
    """check flags the Crossbar guide's cipher list, naming its CBC suites."""
    pki = make_pki(tmp_path / "pki", key_type="rsa")
    cbdir = _node_dir(tmp_path, {
        "key": str(pki.leaf_key), "certificate": str(pki.chain_crt),
        "ciphers": "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:"
                   "DHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:DHE-RSA-AES128-SHA"})
    result = run_cli("check", "--strict", "--cbdir", str(cbdir))
    assert result.returncode == 2
    assert (f"error: {TLS}.ciphers: enables 4 suite(s) CBC (not AEAD): ECDHE-RSA-AES128-SHA256, "
            "DHE-RSA-AES128-SHA256, ECDHE-RSA-AES128-SHA, DHE-RSA-AES128-SHA.") in result.stderr


def test_check_small_rsa_is_an_error(tmp_path):
    """A 1024-bit RSA certificate fails check (OpenSSL would refuse it) with one clear line."""
    from cryptography.hazmat.primitives.asymmetric import rsa as crsa
    from cryptography.hazmat.primitives import serialization
    from pki import sign, write_certs, write_key

    pki = make_pki(tmp_path / "pki")
    small = crsa.generate_private_key(65537, 1024)
    issuer = (serialization.load_pem_private_key(pki.intermediate_key.read_bytes(), None),
              load(pki.intermediate_crt))
    key = write_key(tmp_path / "small.key", small)
    crt = write_certs(tmp_path / "small.crt", [sign(small, "small", issuer, hosts=["localhost"])])
    cbdir = _node_dir(tmp_path, {"key": str(key), "certificate": str(crt)})
    result = run_cli("check", "--cbdir", str(cbdir))
    assert result.returncode == 2
    assert (f"{TLS}.certificate: certificate {crt} has an RSA key of 1024 bits, under 2048, "
            "which OpenSSL (security level 2) refuses to serve.") in result.stderr
    assert "Traceback" not in result.stderr
