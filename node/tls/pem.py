"""Read PEM keys, certificates and DH parameters, failing with one-line TlsErrors.

Every loader takes ``where`` (the JSON path of the option, e.g.
``workers[0].transports[0].endpoint.tls.key``) and the absolute file path, and
either returns ``cryptography`` objects or raises :class:`node.errors.TlsError`
naming the option, the file and the cause. Parsing is done by ``cryptography``
(not OpenSSL through pyOpenSSL) so that a bad file never leaves an error on
OpenSSL's per-thread error queue, where it could later be misread as the failure
of an unrelated TLS connection.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from typing import List, Optional

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dh, ec, ed448, ed25519, rsa

from node.errors import TlsError

try:
    from cryptography.utils import CryptographyDeprecationWarning
except ImportError:  # pragma: no cover - older cryptography
    CryptographyDeprecationWarning = DeprecationWarning  # type: ignore[misc]

# Key types OpenSSL can sign a TLS handshake with (RFC 8446 section 4.2.3).
_SERVER_KEY_TYPES = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
)

_BEGIN_CERT = b"-----BEGIN CERTIFICATE-----"
_BEGIN_DH = b"-----BEGIN DH PARAMETERS-----"


def read_file(where: str, path: str) -> bytes:
    """Return the bytes of ``path``.

    Raises:
        TlsError: the file is missing, is a directory or cannot be read.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise TlsError(
            where,
            f"file {path} does not exist",
            "Check the path; relative paths resolve against the node directory",
        ) from None
    except IsADirectoryError:
        raise TlsError(
            where, f"{path} is a directory, not a file", "Name the PEM file itself"
        ) from None
    except PermissionError:
        raise TlsError(
            where,
            f"cannot read {path}: permission denied",
            "Make it readable by the user running wampnode",
        ) from None
    except OSError as e:
        raise TlsError(where, f"cannot read {path}: {e.strerror}") from None


def _what_else(data: bytes) -> str:
    """Name what a file that lacks the expected PEM block holds instead."""
    if b"PRIVATE KEY-----" in data:
        return "a private key"
    if _BEGIN_CERT in data:
        return "a certificate"
    if b"CERTIFICATE REQUEST-----" in data:
        return "a certificate signing request"
    if _BEGIN_DH in data:
        return "DH parameters"
    if data[:1] == b"\x30":
        return "binary (DER) data"
    if not data.strip():
        return "nothing (it is empty)"
    return "no PEM data"


def load_certificates(where: str, path: str) -> List[x509.Certificate]:
    """Return every certificate in ``path`` in file order (leaf first for a chain).

    Raises:
        TlsError: unreadable file, no PEM certificate in it, or a certificate
            that does not parse.
    """
    data = read_file(where, path)
    if _BEGIN_CERT not in data:
        fix = "Give a PEM certificate (-----BEGIN CERTIFICATE-----)"
        if data[:1] == b"\x30":
            fix = f"Convert it: openssl x509 -inform der -in {path} -out {path}.pem"
        raise TlsError(
            where, f"{path} holds {_what_else(data)}, not a PEM certificate", fix
        )
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as e:
        raise TlsError(
            where,
            f"{path} holds a damaged PEM certificate ({e})",
            "Replace the file with an intact copy",
        ) from None


def load_private_key(where: str, path: str) -> object:
    """Return the private key in ``path`` (RSA, EC, Ed25519 or Ed448).

    Raises:
        TlsError: unreadable file, no PEM key, an encrypted key (wampnode starts
            unattended and never prompts for a passphrase), or an unusable key.
    """
    data = read_file(where, path)
    if b"PRIVATE KEY-----" not in data:
        raise TlsError(
            where,
            f"{path} holds {_what_else(data)}, not a PEM private key",
            "Give the PEM private key (-----BEGIN PRIVATE KEY-----)",
        )
    if b"ENCRYPTED PRIVATE KEY-----" in data or b"Proc-Type: 4,ENCRYPTED" in data:
        raise TlsError(
            where,
            f"{path} is encrypted with a passphrase, and wampnode does not prompt "
            "for passphrases",
            f"Decrypt it once: openssl pkey -in {path} -out NEW.key "
            "(then chmod 600 NEW.key)",
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, NotImplementedError) as e:
        raise TlsError(
            where,
            f"{path} holds a damaged or unsupported private key ({e})",
            "Replace the file with an intact PEM key",
        ) from None
    if not isinstance(key, _SERVER_KEY_TYPES):
        raise TlsError(
            where,
            f"{path} holds a {type(key).__name__}, which cannot sign TLS handshakes",
            "Use an RSA, ECDSA or Ed25519 key",
        )
    return key


@dataclass(frozen=True)
class DhGroup:
    """A finite-field DH group: its size, and its RFC 7919 name if it is one."""

    bits: int
    rfc7919_name: Optional[str]


# SHA-256 of the big-endian prime of each RFC 7919 group, as printed by
# `openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdheNNNN`.
_RFC7919_PRIMES = {
    "9cd3b7f336872f46c09428d1bbc19877a4d440512cda8d1c1cf0cd6e33698966": "ffdhe2048",
    "0eaf67db3a839156d5013494a5318a772b5697d270d721f37f092efc69ea5a17": "ffdhe3072",
    "4648414224ac881b3d0dc59b466f96d06a558278776807797ecf1f66ff397b3e": "ffdhe4096",
    "227ac9066b3ddd9e193670cda2388fa884f65ba0cf98b742d1fe77a6687c79c7": "ffdhe6144",
    "770b14efaf6f049929c523113b3fa99a8d11dab1b18af3609590122075d19833": "ffdhe8192",
}


def _rfc7919_name(prime: int, generator: int) -> Optional[str]:
    raw = prime.to_bytes((prime.bit_length() + 7) // 8, "big")
    name = _RFC7919_PRIMES.get(hashlib.sha256(raw).hexdigest())
    return name if generator == 2 else None


def load_dh_parameters(where: str, path: str) -> DhGroup:
    """Check the finite-field DH group in ``path`` (``openssl dhparam`` output).

    Raises:
        TlsError: unreadable file, no ``DH PARAMETERS`` block, or bad parameters.
    """
    return parse_dh_parameters(where, path, read_file(where, path))


def parse_dh_parameters(where: str, path: str, data: bytes) -> DhGroup:
    """:func:`load_dh_parameters` for ``data`` already read from ``path``."""
    fix = (
        "Use a standard group, e.g. RFC 7919 ffdhe2048 "
        "(https://ssl-config.mozilla.org/ffdhe2048.txt), or: "
        "openssl dhparam -out dhparam.pem 2048"
    )
    if _BEGIN_DH not in data:
        raise TlsError(
            where, f"{path} holds {_what_else(data)}, not PEM DH parameters", fix
        )
    # cryptography 50 deprecates finite-field DH; TLS 1.2 DHE still needs it.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        try:
            params = serialization.load_pem_parameters(data)
            if not isinstance(params, dh.DHParameters):
                raise TlsError(where, f"{path} does not hold DH parameters", fix)
            numbers = params.parameter_numbers()
            return DhGroup(numbers.p.bit_length(), _rfc7919_name(numbers.p, numbers.g))
        except (ValueError, TypeError, UnsupportedAlgorithm) as e:
            raise TlsError(
                where, f"{path} holds damaged DH parameters ({e})", fix
            ) from None


def same_public_key(key: object, certificate: x509.Certificate) -> bool:
    """Whether ``key`` is the private half of the certificate's public key."""
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    try:
        mine = key.public_key().public_bytes(der, spki)  # type: ignore[attr-defined]
        theirs = certificate.public_key().public_bytes(der, spki)
    except (ValueError, TypeError):
        return False
    return mine == theirs


def file_mode(path: str) -> int:
    """The permission bits of ``path``, or 0 when it cannot be stat'ed."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return 0
