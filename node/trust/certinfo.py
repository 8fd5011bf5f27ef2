"""What trust decisions read from one certificate: key identifiers, pins, names.

Plain functions over ``cryptography`` certificates, no OpenSSL context and no
reactor, so that the chain logic (:mod:`node.trust.chain`) stays testable alone.
"""
from __future__ import annotations

import base64
import hashlib
from typing import List

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from node.tls.certinfo import authority_key_id, is_ca  # noqa: F401 (the trust modules read them from here too)


def hex_id(value: bytes) -> str:
    """``ab:cd:...``, the way ``openssl x509 -text`` prints key identifiers."""
    return ":".join(f"{b:02x}" for b in value)


def subject_key_id(cert: x509.Certificate) -> bytes:
    """The SKID extension, or the RFC 5280 section 4.2.1.2 (1) hash of the key when absent.

    Some old roots carry no SKID; computing it the way CAs do lets their children's
    AKID still find them.
    """
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest  # type: ignore[arg-type]


def is_self_issued(cert: x509.Certificate) -> bool:
    """Subject equals issuer (a root, or a self-signed leaf)."""
    akid = authority_key_id(cert)
    if akid is not None and akid != subject_key_id(cert):
        return False
    return cert.subject == cert.issuer


def spki_sha256(cert: x509.Certificate) -> str:
    """Base64 SHA-256 of the SubjectPublicKeyInfo, the pin format of RFC 7469 and curl."""
    der = cert.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode("ascii")


def name_text(name: x509.Name) -> str:
    """``CN=wampnode test root CA,O=wampnode tests`` (RFC 4514)."""
    return name.rfc4514_string()


def dns_names(cert: x509.Certificate) -> List[str]:
    """The SAN entries as ``DNS:x`` / ``IP:y`` strings, for people."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [f"DNS:{n}" for n in san.get_values_for_type(x509.DNSName)] + \
           [f"IP:{ip}" for ip in san.get_values_for_type(x509.IPAddress)]


def not_before(cert: x509.Certificate) -> object:
    return getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before


def not_after(cert: x509.Certificate) -> object:
    return getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
