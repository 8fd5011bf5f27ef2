"""Facts about one certificate: what ``wampnode cert show`` prints, ``check`` judges
and outgoing trust (:mod:`node.trust`) decides by.

Plain functions over ``cryptography`` objects: names in subjectAltName, whether
they cover a host name, key type and size, fingerprints and pins, key
identifiers, and whether a served chain is in order (each certificate issued by
the next one). No file access and no OpenSSL calls, so that they are cheap to
test, never touch OpenSSL's error queue, and keep the chain logic of
:mod:`node.trust.chain` testable alone.
"""
from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
from typing import List, Optional, Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

__all__ = [
    "san_names", "covers", "key_description", "rsa_bits", "fingerprint", "is_ca",
    "is_self_issued", "issued_by", "chain_problems", "signature_hash", "ca_issuers_urls",
    "subject_text", "lifetime", "authority_key_id", "subject_key_id", "signed_by_own_key",
    "hex_id", "spki_sha256", "name_text", "dns_names", "not_before", "not_after",
]


def subject_text(cert: x509.Certificate) -> str:
    """The subject as RFC 4514 text, or ``(empty subject)``."""
    return cert.subject.rfc4514_string() or "(empty subject)"


def san_names(cert: x509.Certificate) -> Optional[List[str]]:
    """DNS names and IP addresses of the subjectAltName, or None if it has none.

    None (no extension, or one without DNS/IP entries) matters on its own:
    clients stopped reading the CN (RFC 6125 section 6.4.4; Chrome 58, 2017).
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return names or None


def _dns_match(pattern: str, host: str) -> bool:
    """RFC 6125 section 6.4.3: a ``*`` only as the whole left-most label, one label deep."""
    pattern, host = pattern.rstrip(".").lower(), host.rstrip(".").lower()
    if not pattern.startswith("*."):
        return pattern == host
    head, dot, rest = host.partition(".")
    return bool(head) and bool(dot) and rest == pattern[2:]


def covers(names: Sequence[str], host: str) -> bool:
    """Whether SAN ``names`` cover ``host`` (a DNS name, IP address or ``*.`` pattern).

    A pattern such as ``*.example.com`` (an SNI key) is covered only by the
    same wildcard in the certificate: one ``a.example.com`` does not serve all.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return any(_same_ip(n, address) for n in names)
    if host.startswith("*."):
        return any(n.lower() == host.lower() for n in names)
    return any(_dns_match(n, host) for n in names)


def _same_ip(name: str, address: object) -> bool:
    try:
        return ipaddress.ip_address(name) == address
    except ValueError:
        return False


def rsa_bits(cert: x509.Certificate) -> Optional[int]:
    """The RSA modulus size of the certificate's key, None for other key types."""
    public = cert.public_key()
    return public.key_size if isinstance(public, rsa.RSAPublicKey) else None


def key_description(public: object) -> str:
    """``ECDSA P-256``, ``RSA 3072 bits``, ``Ed25519`` ..."""
    if isinstance(public, rsa.RSAPublicKey):
        return f"RSA {public.key_size} bits"
    if isinstance(public, ec.EllipticCurvePublicKey):
        names = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
        return f"ECDSA {names.get(public.curve.name, public.curve.name)}"
    if isinstance(public, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(public, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(public, dsa.DSAPublicKey):
        return f"DSA {public.key_size} bits"
    return type(public).__name__


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as colon-separated hex, as ``openssl x509 -fingerprint`` prints."""
    return ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))


def signature_hash(cert: x509.Certificate) -> Optional[str]:
    """Name of the hash the issuer signed with (``sha256``), None for Ed25519/Ed448."""
    try:
        algorithm = cert.signature_hash_algorithm
    except UnsupportedAlgorithm:  # an algorithm cryptography does not know: its OID
        return cert.signature_algorithm_oid.dotted_string
    return algorithm.name if algorithm is not None else None


def is_ca(cert: x509.Certificate) -> bool:
    """basicConstraints CA:TRUE."""
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def is_self_issued(cert: x509.Certificate) -> bool:
    """Subject equals issuer: a root (or a self-signed leaf).

    By name only; :func:`signed_by_own_key` also rules out a same-name
    certificate signed by another key (a re-keyed CA's cross-certificate).
    """
    return cert.subject == cert.issuer


def authority_key_id(cert: x509.Certificate) -> Optional[bytes]:
    """The AKID key identifier: the SKID of the certificate that (it claims) signed it."""
    try:
        value = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None
    return value.key_identifier


def _subject_key_id_extension(cert: x509.Certificate) -> Optional[bytes]:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` issued ``cert``: AKID = SKID when both exist, else the names.

    A name match alone is what older certificates without key identifiers
    offer (RFC 5280 section 4.2.1.1 makes AKID mandatory only for CAs that
    issue with it); the signature itself is not checked here.
    """
    akid = authority_key_id(cert)
    skid = _subject_key_id_extension(issuer)
    if akid is not None and skid is not None:
        return akid == skid
    return cert.issuer == issuer.subject


def chain_problems(chain: Sequence[x509.Certificate]) -> List[str]:
    """Why a served chain (leaf first) is out of order; empty when each is issued by the next.

    RFC 8446 section 4.4.2 lets clients cope with disorder, but many (older
    Java, OpenSSL 1.0, embedded stacks) only walk the list in order.
    """
    problems: List[str] = []
    for i in range(len(chain) - 1):
        if not issued_by(chain[i], chain[i + 1]):
            problems.append(
                f"certificate {i + 1} ({subject_text(chain[i])}) is not issued by "
                f"certificate {i + 2} ({subject_text(chain[i + 1])})"
            )
    return problems


def ca_issuers_urls(cert: x509.Certificate) -> List[str]:
    """The authorityInfoAccess caIssuers URLs: where the issuer's certificate lives.

    Public CAs put them in every leaf they issue from an intermediate, which
    is how a missing intermediate can be told apart from a private CA's leaf.
    """
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        str(d.access_location.value) for d in aia
        if d.access_method == x509.AuthorityInformationAccessOID.CA_ISSUERS
    ]


def lifetime(cert: x509.Certificate) -> datetime.timedelta:
    """notAfter minus notBefore."""
    return cert.not_valid_after_utc - cert.not_valid_before_utc


# --- key identifiers, pins and names: what outgoing trust (node.trust) reads -----


def hex_id(value: bytes) -> str:
    """``ab:cd:...``, the way ``openssl x509 -text`` prints key identifiers."""
    return ":".join(f"{b:02x}" for b in value)


def subject_key_id(cert: x509.Certificate) -> bytes:
    """The SKID extension, or the RFC 5280 section 4.2.1.2 (1) hash of the key when absent.

    Some old roots carry no SKID; computing it the way CAs do lets their children's
    AKID still find them.
    """
    found = _subject_key_id_extension(cert)
    if found is not None:
        return found
    return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest  # type: ignore[arg-type]


def signed_by_own_key(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the AKID, if any, names the certificate's own key:
    a root or a self-signed leaf, where a chain ends."""
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
    """notBefore, aware UTC where cryptography offers it (42 and later)."""
    return getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before


def not_after(cert: x509.Certificate) -> object:
    """notAfter, aware UTC where cryptography offers it (42 and later)."""
    return getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after
