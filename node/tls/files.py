"""Reading one TLS block's files, once: keys, certificate chains, client CAs, DH, OCSP.

:func:`load_material` reads every file the block names exactly once (a file
named twice, such as an intermediate shared by ``sni`` entries, too) and returns
a :class:`Material` with everything that loaded, plus every fault as a one-line
:class:`TlsError` naming the option and the file (all of them, so that
``wampnode check`` shows every problem at once). :mod:`node.tls.context` builds
OpenSSL contexts from a complete ``Material`` (at start-up, on reload, and again
from memory whenever session-ticket keys rotate), and :mod:`node.tls.hygiene`
judges the same ``Material`` (complete or not) without reading anything again.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from cryptography import x509

from node.config.model import TlsOptions
from node.errors import TlsError
from node.tls.certinfo import rsa_bits
from node.tls.ocsp import load_staple
from node.tls.pem import (
    DhGroup,
    load_certificates,
    load_private_key,
    parse_dh_parameters,
    read_file,
    same_public_key,
)

__all__ = [
    "Identity", "DhParameters", "Material", "load_material", "attempt", "option_path",
    "MIN_RSA_BITS",
]

T = TypeVar("T")

# NIST SP 800-57 part 1 (2020): RSA under 2048 bits gives under 112-bit security,
# and OpenSSL's default security level 2 refuses to serve such a key.
MIN_RSA_BITS = 2048


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


@dataclass(frozen=True)
class Identity:
    """A private key and the chain served with it, with the files they came from.

    ``chain`` is leaf first, then intermediates; it is empty when one of its
    files did not load, and ``key`` is None when the key file did not. Only an
    identity of a block without faults is ever served.
    """

    where: str  # JSON path of the TLS block, or of its sni entry
    key_path: str
    certificate_path: str
    key: Optional[object]
    chain: Tuple[x509.Certificate, ...]
    sources: Tuple[str, ...]  # the file each certificate of ``chain`` came from
    sni_name: Optional[str] = None  # the ``sni`` key as configured


@dataclass(frozen=True)
class DhParameters:
    """A ``dhparam`` file: its PEM text (OpenSSL is given it from memory) and its group."""

    pem: bytes
    group: DhGroup


@dataclass(frozen=True)
class Material:
    """Everything read from the files of one TLS block."""

    default: Identity
    sni: Tuple[Identity, ...]  # in config order
    cas: Tuple[x509.Certificate, ...]
    dh: Optional[DhParameters]
    ocsp: Optional[bytes]  # the DER OCSP response to staple

    @property
    def identities(self) -> Tuple[Identity, ...]:
        """The default identity, then the SNI ones."""
        return (self.default,) + self.sni


class _ReadOnce:
    """The loaders of one build, each reading a file at most once: one chain or key
    file may be named by several ``sni`` entries. A file that fails is tried
    again, so that each option naming it gets its own error line."""

    def __init__(self) -> None:
        self._loaded: Dict[Tuple[Callable[[str, str], object], str], object] = {}

    def __call__(self, load: Callable[[str, str], T], where: str, path: str) -> T:
        if (load, path) not in self._loaded:
            self._loaded[(load, path)] = load(where, path)
        return self._loaded[(load, path)]  # type: ignore[return-value]


def _identity(
    read: _ReadOnce, where: str, key_path: str, cert_path: str, chain_paths: Sequence[str],
    sni_name: Optional[str] = None,
) -> Tuple[Identity, List[TlsError]]:
    errors: List[TlsError] = []
    key = attempt(errors, read, load_private_key, f"{where}.key", key_path)
    pairs: List[Tuple[str, x509.Certificate]] = []
    certs = attempt(errors, read, load_certificates, f"{where}.certificate", cert_path)
    complete = certs is not None
    pairs += [(cert_path, c) for c in certs or ()]
    for i, path in enumerate(chain_paths):
        more = attempt(errors, read, load_certificates, f"{where}.chain_certificates[{i}]", path)
        complete = complete and more is not None
        pairs += [(path, c) for c in more or ()]
    if not complete:
        pairs = []
    identity = Identity(where, key_path, cert_path, key, tuple(c for _, c in pairs),
                        tuple(p for p, _ in pairs), sni_name)
    if errors or key is None or not certs:
        return identity, errors
    if not same_public_key(key, certs[0]):
        errors.append(_mismatch(f"{where}.key", key, key_path, cert_path, certs))
        return identity, errors
    bits = rsa_bits(certs[0])
    if bits is not None and bits < MIN_RSA_BITS:
        errors.append(TlsError(
            f"{where}.certificate",
            f"certificate {cert_path} has an RSA key of {bits} bits, under {MIN_RSA_BITS}, "
            "which OpenSSL (security level 2) refuses to serve",
            "Use a new key of 2048+ bits or ECDSA P-256: wampnode cert csr --host NAME",
        ))
    return identity, errors


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


def _load_ca_certificates(read: _ReadOnce, options: TlsOptions,
                          errors: List[TlsError]) -> List[x509.Certificate]:
    cas: List[x509.Certificate] = []
    for i, path in enumerate(options.ca_certificates):
        where = option_path(options, f"ca_certificates[{i}]")
        cas.extend(attempt(errors, read, load_certificates, where, path) or ())
    if options.verify_client != "none" and not options.ca_certificates:
        errors.append(
            TlsError(
                option_path(options, "verify_client"),
                f'"{options.verify_client}" needs the CAs that issue client certificates',
                "List their PEM files in ca_certificates",
            )
        )
    return cas


def _load_dh(where: str, path: str) -> DhParameters:
    data = read_file(where, path)
    return DhParameters(data, parse_dh_parameters(where, path, data))


def load_material(options: TlsOptions) -> Tuple[Material, List[TlsError]]:
    """Read keys, certificates, CAs, DH parameters and the OCSP response, each file once.

    Returns what loaded and every fault found; the material can be served
    only when the list is empty.
    """
    errors: List[TlsError] = []
    read = _ReadOnce()
    default, found = _identity(read, options.path or "tls", options.key, options.certificate,
                               options.chain_certificates)
    errors += found
    default_ok = not found
    sni: List[Identity] = []
    for name, entry in options.sni.items():
        where = option_path(options, f'sni["{name}"]')
        identity, found = _identity(read, where, entry.key, entry.certificate,
                                    entry.chain_certificates, sni_name=name)
        errors += found
        sni.append(identity)
    cas = _load_ca_certificates(read, options, errors)
    ocsp = None
    if options.ocsp_staple is not None and default_ok:
        ocsp = attempt(errors, load_staple, option_path(options, "ocsp_staple"),
                       options.ocsp_staple, default.chain)
    dh = None
    if options.dhparam is not None:
        dh = attempt(errors, _load_dh, option_path(options, "dhparam"), options.dhparam)
    return Material(default, tuple(sni), tuple(cas), dh, ocsp), errors
