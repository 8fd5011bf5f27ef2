"""Loading keys, certificates and DH parameters: each bad file gives one exact line."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from node.errors import TlsError
from node.tls.pem import DhGroup, load_certificates, load_dh_parameters, load_private_key, read_file
from pki import dhparam, encrypted_key, make_pki

W = "workers[0].transports[0].endpoint.tls.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def line_of(load, *args) -> str:
    with pytest.raises(TlsError) as caught:
        load(*args)
    return caught.value.line()


def test_missing_file(tmp_path):
    """A missing file names the option and the path, and says how paths resolve."""
    path = tmp_path / "nope.key"
    assert line_of(read_file, W, str(path)) == (
        f"{W}: file {path} does not exist. "
        "Check the path; relative paths resolve against the node directory"
    )


def test_directory(tmp_path):
    """A directory given as a file is named as such."""
    assert line_of(load_private_key, W, str(tmp_path)) == (
        f"{W}: {tmp_path} is a directory, not a file. Name the PEM file itself"
    )


def _load_key_as_nobody(path: Path) -> str:
    """Load ``path`` in a forked child that dropped root, as the node's user would."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into pytest
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                load_private_key("k", str(path))
                message = "loaded"
            except TlsError as e:
                message = e.line()
            os.write(write_end, message.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode()
    os.waitpid(pid, 0)
    return message


def test_unreadable_file(pki):
    """A key the node's user may not read gives 'permission denied' and the fix."""
    directory = Path(tempfile.mkdtemp(prefix="wampnode-perm-"))
    path = directory / "server.key"
    try:
        os.chmod(directory, 0o755)
        path.write_bytes(pki.leaf_key.read_bytes())
        os.chmod(path, 0o000)
        message = _load_key_as_nobody(path)
    finally:
        path.unlink()
        directory.rmdir()
    assert message == (
        f"k: cannot read {path}: permission denied. "
        "Make it readable by the user running wampnode"
    )


def test_certificate_not_pem(tmp_path):
    """A text file without a PEM block is 'no PEM data'."""
    path = tmp_path / "server.crt"
    path.write_text("hello\n")
    assert line_of(load_certificates, "c", str(path)) == (
        f"c: {path} holds no PEM data, not a PEM certificate. "
        "Give a PEM certificate (-----BEGIN CERTIFICATE-----)"
    )


def test_certificate_empty(tmp_path):
    """An empty certificate file says it is empty."""
    path = tmp_path / "server.crt"
    path.write_bytes(b"")
    assert line_of(load_certificates, "c", str(path)) == (
        f"c: {path} holds nothing (it is empty), not a PEM certificate. "
        "Give a PEM certificate (-----BEGIN CERTIFICATE-----)"
    )


def test_certificate_der(pki, tmp_path):
    """A DER certificate gets the openssl command that converts it."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(pki.leaf_crt.read_bytes())
    path = tmp_path / "server.der"
    path.write_bytes(cert.public_bytes(Encoding.DER))
    assert line_of(load_certificates, "c", str(path)) == (
        f"c: {path} holds binary (DER) data, not a PEM certificate. "
        f"Convert it: openssl x509 -inform der -in {path} -out {path}.pem"
    )


def test_key_given_as_certificate(pki):
    """Swapping key and certificate is named: the certificate file holds a key."""
    assert line_of(load_certificates, "c", str(pki.leaf_key)) == (
        f"c: {pki.leaf_key} holds a private key, not a PEM certificate. "
        "Give a PEM certificate (-----BEGIN CERTIFICATE-----)"
    )


def test_certificate_given_as_key(pki):
    """A certificate file in the key option is named as a certificate."""
    assert line_of(load_private_key, W, str(pki.leaf_crt)) == (
        f"{W}: {pki.leaf_crt} holds a certificate, not a PEM private key. "
        "Give the PEM private key (-----BEGIN PRIVATE KEY-----)"
    )


def test_damaged_certificate(pki, tmp_path):
    """A PEM certificate with broken base64 is 'damaged', with the parser's reason."""
    text = pki.leaf_crt.read_text().splitlines()
    text[3] = "!!!!" + text[3][4:]
    path = tmp_path / "broken.crt"
    path.write_text("\n".join(text) + "\n")
    line = line_of(load_certificates, "c", str(path))
    assert line.startswith(f"c: {path} holds a damaged PEM certificate (")
    assert line.endswith("). Replace the file with an intact copy")


def test_encrypted_key(pki):
    """An encrypted key is refused: wampnode never prompts, and says how to decrypt."""
    path = encrypted_key(pki)
    assert line_of(load_private_key, W, str(path)) == (
        f"{W}: {path} is encrypted with a passphrase, and wampnode does not prompt "
        f"for passphrases. Decrypt it once: openssl pkey -in {path} -out NEW.key "
        "(then chmod 600 NEW.key)"
    )


def test_legacy_encrypted_key(pki, tmp_path):
    """A traditional OpenSSL-encrypted key (Proc-Type header) is refused the same way."""
    key = serialization.load_pem_private_key(pki.leaf_key.read_bytes(), None)
    path = tmp_path / "legacy.key"
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"secret"),
    ))
    assert "Proc-Type: 4,ENCRYPTED" in path.read_text()
    assert "is encrypted with a passphrase" in line_of(load_private_key, W, str(path))


def test_dhparam_not_dh(pki):
    """A certificate given as dhparam is named, with a standard group as the fix."""
    assert line_of(load_dh_parameters, "d", str(pki.leaf_crt)) == (
        f"d: {pki.leaf_crt} holds a certificate, not PEM DH parameters. "
        "Use a standard group, e.g. RFC 7919 ffdhe2048 "
        "(https://ssl-config.mozilla.org/ffdhe2048.txt), or: "
        "openssl dhparam -out dhparam.pem 2048"
    )


def test_dhparam_damaged(tmp_path):
    """DH parameters whose body does not parse are 'damaged'."""
    path = tmp_path / "dh.pem"
    path.write_text("-----BEGIN DH PARAMETERS-----\nAAAA\n-----END DH PARAMETERS-----\n")
    line = line_of(load_dh_parameters, "d", str(path))
    assert line.startswith(f"d: {path} holds damaged DH parameters (")


def test_dhparam_bits(tmp_path):
    """ffdhe2048 is recognised as the RFC 7919 group; the RFC 3526 1536-bit one is not."""
    assert load_dh_parameters("d", str(dhparam(tmp_path))) == DhGroup(2048, "ffdhe2048")
    assert load_dh_parameters("d", str(dhparam(tmp_path, small=True))) == DhGroup(1536, None)
