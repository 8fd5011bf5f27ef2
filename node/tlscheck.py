"""Warnings about TLS material that loads but deserves an administrator's look.

Logged at start-up (and later by ``wampnode check``); none of them stops the
node, because an expired certificate is better renewed than refused at 3 a.m.
Faults that make the material unusable are :func:`node.tls.check_tls`'s.
"""
from __future__ import annotations

import datetime
from typing import List, Optional

from cryptography import x509

from node.config.model import TlsOptions
from node.errors import TlsError
from node.pem import file_mode, load_certificates, load_dh_parameters

# Finite-field DH below this size is within reach of a well-funded attacker
# (Logjam, 2015); Mozilla's intermediate profile uses RFC 7919 ffdhe2048.
MIN_DH_BITS = 2048
EXPIRY_WARNING = datetime.timedelta(days=30)


def _at(options: TlsOptions, key: str) -> str:
    return f"{options.path}.{key}" if options.path else key


def tls_warnings(
    options: TlsOptions, now: Optional[datetime.datetime] = None
) -> List[str]:
    """One-line warnings about usable but doubtful TLS material, for start-up logs.

    Certificates expired, expiring within 30 days or not yet valid; a leaf that is
    a CA certificate; a key file readable by group or others; DH parameters under
    2048 bits. Files that fail to load are :func:`check_tls`'s business and are
    skipped here.
    """
    when = now or datetime.datetime.now(datetime.timezone.utc)
    found: List[str] = []
    pairs = [(options.path or "tls", options.key, options.certificate)]
    pairs += [
        (_at(options, f'sni["{n}"]'), e.key, e.certificate) for n, e in options.sni.items()
    ]
    for where, key_path, cert_path in pairs:
        found += _certificate_warnings(f"{where}.certificate", cert_path, when)
        found += _key_warnings(f"{where}.key", key_path)
    if options.dhparam is not None:
        found += _dh_warnings(_at(options, "dhparam"), options.dhparam)
    return found


def _certificate_warnings(where: str, path: str, now: datetime.datetime) -> List[str]:
    try:
        leaf = load_certificates(where, path)[0]
    except TlsError:
        return []
    found: List[str] = []
    subject = leaf.subject.rfc4514_string() or "(empty subject)"
    if leaf.not_valid_after_utc < now:
        found.append(TlsError(
            where,
            f"certificate {path} ({subject}) expired on "
            f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
            "Renew it; clients refuse expired certificates",
        ).line())
    elif leaf.not_valid_after_utc < now + EXPIRY_WARNING:
        found.append(TlsError(
            where,
            f"certificate {path} ({subject}) expires on "
            f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
            "Renew it soon, then reload",
        ).line())
    if leaf.not_valid_before_utc > now:
        found.append(TlsError(
            where,
            f"certificate {path} ({subject}) is not valid before "
            f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
            "Check this machine's clock, or wait",
        ).line())
    if _is_ca(leaf):
        found.append(TlsError(
            where,
            f"the first certificate in {path} ({subject}) is a CA certificate, "
            "not a server certificate",
            "Put the server (leaf) certificate first, or issue one from this CA",
        ).line())
    return found


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _key_warnings(where: str, path: str) -> List[str]:
    mode = file_mode(path)
    if mode & 0o077:
        return [TlsError(
            where,
            f"private key {path} is readable by others (mode {mode:04o})",
            f"chmod 600 {path}",
        ).line()]
    return []


def _dh_warnings(where: str, path: str) -> List[str]:
    try:
        group = load_dh_parameters(where, path)
    except TlsError:
        return []
    found: List[str] = []
    if group.bits < MIN_DH_BITS:
        found.append(TlsError(
            where,
            f"DH parameters in {path} have {group.bits} bits, under {MIN_DH_BITS} "
            "(Logjam)",
            "Use RFC 7919 ffdhe2048 or: openssl dhparam -out dhparam.pem 2048",
        ).line())
    if group.rfc7919_name is None:
        found.append(TlsError(
            where,
            f"DH parameters in {path} are not an RFC 7919 group, so clients that "
            "list FFDHE groups (OpenSSL 4.0 does) get no DHE suite",
            "Use ffdhe2048: https://ssl-config.mozilla.org/ffdhe2048.txt",
        ).line())
    return found
