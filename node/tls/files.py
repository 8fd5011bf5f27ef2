"""Reading one TLS block's files: keys, certificate chains, client CAs, OCSP response.

Every fault becomes a one-line :class:`TlsError` naming the option and the file;
loaders collect all of them (``errors`` lists) so that ``wampnode check`` shows
every problem at once. The result, :class:`Material`, is what :mod:`node.tls.context`
builds OpenSSL contexts from, at start-up, on reload, and again (from memory)
whenever session-ticket keys rotate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from cryptography import x509

from node.tls.certinfo import rsa_bits
from node.config.model import TlsOptions
from node.errors import TlsError
from node.tls.pem import load_certificates, load_private_key, same_public_key
from node.tls.hygiene import MIN_RSA_BITS

__all__ = ["Identity", "Material", "load_identity", "load_material", "attempt", "option_path"]

T = TypeVar("T")


@dataclass(frozen=True)
class Identity:
    """A private key and the chain served with it: leaf first, then intermediates."""

    key: object
    chain: Tuple[x509.Certificate, ...]


def attempt(errors: List[TlsError], load: Callable[..., T], *args: object) -> Optional[T]:
    """Run ``load``; on TlsError record it and return None, so all faults are found."""
    try:
        return load(*args)
    except TlsError as e:
        errors.append(e)
        return None


def option_path(options: TlsOptions, key: str) -> str:
    """The JSON path of option ``key`` of this TLS block."""
    return f"{options.path}.{key}" if options.path else key


def load_identity(
    where: str, key_path: str, cert_path: str, chain_paths: Sequence[str]
) -> Identity:
    """Load a key with its certificate file (leaf first) and extra chain files.

    Raises:
        TlsError: the first problem found; see :func:`identity_errors` for all.
    """
    identity, errors = _identity(where, key_path, cert_path, chain_paths)
    if errors:
        raise errors[0]
    return identity  # type: ignore[return-value]


def _identity(
    where: str, key_path: str, cert_path: str, chain_paths: Sequence[str]
) -> Tuple[Optional[Identity], List[TlsError]]:
    errors: List[TlsError] = []
    key = attempt(errors, load_private_key, f"{where}.key", key_path)
    certs = attempt(errors, load_certificates, f"{where}.certificate", cert_path)
    extra: List[x509.Certificate] = []
    for i, path in enumerate(chain_paths):
        more = attempt(
            errors, load_certificates, f"{where}.chain_certificates[{i}]", path
        )
        extra.extend(more or ())
    if errors or key is None or not certs:
        return None, errors
    if not same_public_key(key, certs[0]):
        errors.append(_mismatch(f"{where}.key", key, key_path, cert_path, certs))
        return None, errors
    bits = rsa_bits(certs[0])
    if bits is not None and bits < MIN_RSA_BITS:
        errors.append(TlsError(
            f"{where}.certificate",
            f"certificate {cert_path} has an RSA key of {bits} bits, under {MIN_RSA_BITS}, "
            "which OpenSSL (security level 2) refuses to serve",
            "Use a new key of 2048+ bits or ECDSA P-256: wampnode cert csr --host NAME",
        ))
        return None, errors
    return Identity(key, tuple(certs) + tuple(extra)), errors


def _mismatch(
    where: str, key: object, key_path: str, cert_path: str, certs: List[x509.Certificate]
) -> TlsError:
    if any(same_public_key(key, c) for c in certs[1:]):
        return TlsError(
            where,
            f"key {key_path} belongs to a later certificate in {cert_path}, "
            "not the first",
            "Order the file leaf (server) certificate first, then intermediates",
        )
    return TlsError(
        where,
        f"key {key_path} does not match certificate {cert_path}",
        "Use the key the certificate was issued for",
    )


def _load_ca_certificates(options: TlsOptions, errors: List[TlsError]) -> List[x509.Certificate]:
    cas: List[x509.Certificate] = []
    for i, path in enumerate(options.ca_certificates):
        where = option_path(options, f"ca_certificates[{i}]")
        cas.extend(attempt(errors, load_certificates, where, path) or ())
    if options.verify_client != "none" and not options.ca_certificates:
        errors.append(
            TlsError(
                option_path(options, "verify_client"),
                f'"{options.verify_client}" needs the CAs that issue client certificates',
                "List their PEM files in ca_certificates",
            )
        )
    return cas



def _identities(
    options: TlsOptions, errors: List[TlsError]
) -> Tuple[Optional[Identity], Dict[str, Identity]]:
    """The default identity and one per SNI name (lower-cased); faults to ``errors``."""
    default, found = _identity(
        options.path or "tls", options.key, options.certificate, options.chain_certificates
    )
    errors.extend(found)
    by_name: Dict[str, Identity] = {}
    for name, entry in options.sni.items():
        where = option_path(options, f'sni["{name}"]')
        identity, found = _identity(
            where, entry.key, entry.certificate, entry.chain_certificates
        )
        errors.extend(found)
        if identity is not None:
            by_name[name.lower()] = identity
    return default, by_name


@dataclass(frozen=True)
class Material:
    """Everything read from files for one TLS block: what a ticket-key rotation reuses."""

    default: Identity
    sni: Dict[str, Identity]
    cas: Tuple[x509.Certificate, ...]
    ocsp: Optional[bytes]


def load_material(options: TlsOptions, errors: List[TlsError]) -> Optional[Material]:
    """Read keys, certificates, CAs and the OCSP response; faults go to ``errors``."""
    default_id, sni_ids = _identities(options, errors)
    cas = _load_ca_certificates(options, errors)
    ocsp = None
    if options.ocsp_staple is not None and default_id is not None:
        from node.tls.ocsp import load_staple

        ocsp = attempt(errors, load_staple, option_path(options, "ocsp_staple"),
                       options.ocsp_staple, default_id.chain)
    if errors or default_id is None:
        return None
    return Material(default_id, sni_ids, tuple(cas), ocsp)
