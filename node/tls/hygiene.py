"""TLS hygiene: warnings about material that loads but deserves an administrator's look.

Logged at start-up, and printed by ``wampnode check`` (where ``--strict`` makes
them errors). None of them stops the node, because an expired certificate is
better renewed than refused at 3 a.m. Faults that make the material unusable
are :func:`node.tls.files.load_material`'s and :mod:`node.tls.context`'s.
The rules judge the :class:`~node.tls.files.Material` the context was built
from, so no file is read twice.

The rules, each one line ``where: problem. fix``:

- a served certificate expired, expires within 30 days, or is not yet valid;
- a leaf valid for more than 398 days (CA/Browser Forum ballot SC31; Apple,
  Chrome and Mozilla reject such leaves from public CAs since 2020-09-01);
- a leaf that is a CA certificate;
- a leaf without subjectAltName (CN only), or one whose SAN does not cover an
  ``sni`` key or a host name given with ``wampnode check --host``;
- an RSA key under 2048 bits; a SHA-1 (or MD5) signature;
- a chain out of order (each certificate's AKID must match the next one's
  SKID), or a missing intermediate;
- a private key file readable by group or others;
- DH parameters under 2048 bits, or not an RFC 7919 group (when OpenSSL serves
  them: a group it refuses as too small is :func:`node.tls.dh.usable_dh`'s one
  warning, since DHE is then off);
- a ``ciphers`` string that enables suites without forward secrecy, CBC or
  SHA-1 MAC suites, or anonymous ones (named);
- an OCSP response (``ocsp_staple``) that is out of date.
"""
from __future__ import annotations

import datetime
from typing import Dict, List, Optional, Sequence

from cryptography import x509

from node.config.model import TlsOptions
from node.errors import TlsError
from node.tls.certinfo import (
    ca_issuers_urls,
    chain_problems,
    covers,
    is_ca,
    is_self_issued,
    issued_by,
    lifetime,
    rsa_bits,
    san_names,
    signature_hash,
    subject_text,
)
from node.tls.ciphers import audit_ciphers, enabled_suites
from node.tls.dh import usable_dh
from node.tls.files import MIN_RSA_BITS, DhParameters, Identity, Material, load_material, option_path
from node.tls.ocsp import staple_warnings
from node.tls.pem import file_mode
from node.tls.sni import sni_lookup

__all__ = ["tls_warnings", "MIN_DH_BITS", "MIN_RSA_BITS", "MAX_LEAF_DAYS", "EXPIRY_WARNING"]

# Finite-field DH below this size is within reach of a well-funded attacker
# (Logjam, 2015); Mozilla's intermediate profile uses RFC 7919 ffdhe2048.
MIN_DH_BITS = 2048
MAX_LEAF_DAYS = 398
EXPIRY_WARNING = datetime.timedelta(days=30)
_WEAK_HASHES = ("sha1", "md5")


def _line(where: str, problem: str, fix: str) -> str:
    return TlsError(where, problem, fix).line()


# --- one identity (key + served chain) -------------------------------------------


def _validity(where: str, path: str, cert: x509.Certificate, now: datetime.datetime) -> List[str]:
    found: List[str] = []
    subject = subject_text(cert)
    if cert.not_valid_after_utc < now:
        found.append(_line(
            where,
            f"certificate {path} ({subject}) expired on "
            f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
            "Renew it; clients refuse expired certificates",
        ))
    elif cert.not_valid_after_utc < now + EXPIRY_WARNING:
        found.append(_line(
            where,
            f"certificate {path} ({subject}) expires on "
            f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
            "Renew it soon, then reload",
        ))
    if cert.not_valid_before_utc > now:
        found.append(_line(
            where,
            f"certificate {path} ({subject}) is not valid before "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
            "Check this machine's clock, or wait",
        ))
    return found


def _strength(where: str, path: str, cert: x509.Certificate) -> List[str]:
    found: List[str] = []
    subject = subject_text(cert)
    bits = rsa_bits(cert)
    if bits is not None and bits < MIN_RSA_BITS:
        found.append(_line(
            where,
            f"certificate {path} ({subject}) has an RSA key of {bits} bits, under "
            f"{MIN_RSA_BITS}",
            "Use a new key of 2048+ bits or ECDSA P-256: wampnode cert csr --host NAME",
        ))
    digest = signature_hash(cert)
    if digest in _WEAK_HASHES and not is_self_issued(cert):
        found.append(_line(
            where,
            f"certificate {path} ({subject}) is signed with {digest.upper()}, which "
            "clients reject (SHA-1 collisions: SHAttered, 2017)",
            "Have it reissued with SHA-256",
        ))
    return found


def _leaf_rules(identity: Identity, leaf: x509.Certificate) -> List[str]:
    where, path = f"{identity.where}.certificate", identity.certificate_path
    subject = subject_text(leaf)
    found: List[str] = []
    if is_ca(leaf):
        found.append(_line(
            where,
            f"the first certificate in {path} ({subject}) is a CA certificate, "
            "not a server certificate",
            "Put the server (leaf) certificate first, or issue one from this CA",
        ))
        return found
    days = lifetime(leaf).days
    if days > MAX_LEAF_DAYS:
        found.append(_line(
            where,
            f"certificate {path} ({subject}) is valid for {days} days, over "
            f"{MAX_LEAF_DAYS}: browsers reject such leaves (CA/B Forum, 2020)",
            "Issue leaves for at most 397 days, e.g. wampnode cert issue --days 90",
        ))
    if san_names(leaf) is None:
        found.append(_line(
            where,
            f"certificate {path} ({subject}) has no subjectAltName (CN only); clients "
            "ignore the CN (RFC 6125, Chrome 58)",
            "Reissue it with the host names as SAN: wampnode cert issue --host NAME",
        ))
    return found


def _chain_rules(identity: Identity, roots: Sequence[x509.Certificate]) -> List[str]:
    where = f"{identity.where}.certificate"
    certs = identity.chain
    found = [
        _line(where, f"served chain out of order: {problem}",
              "List the leaf first, then each issuer in turn (root optional)")
        for problem in chain_problems(certs)
    ]
    last = certs[-1]
    if found or is_self_issued(last) or any(issued_by(last, r) for r in roots):
        return found
    # Baseline Requirements 6.1.7: a public root never signs a leaf directly, so a
    # leaf that names its issuer's URL (public CAs do) needs an intermediate sent.
    # With --cafile, an issuer that is not one of those roots is missing too.
    urls = ca_issuers_urls(last)
    if (urls and not is_ca(last)) or roots:
        hint = f" (its issuer's certificate: {urls[0]})" if urls else ""
        found.append(_line(
            where,
            f"missing intermediate: the served chain ends with {subject_text(last)}, "
            f"issued by {last.issuer.rfc4514_string()}, which is not sent{hint}",
            "Append the intermediate certificate(s) to the certificate file or "
            "list them in chain_certificates",
        ))
    return found


def _coverage(identity: Identity, leaf: x509.Certificate, hosts: Sequence[str]) -> List[str]:
    names = san_names(leaf)
    if names is None:
        return []  # the no-SAN warning says it
    wanted = ([identity.sni_name] if identity.sni_name else []) + list(hosts)
    return [
        _line(
            f"{identity.where}.certificate",
            f'host name "{host}" is not covered by certificate {identity.certificate_path} '
            f"(SAN: {', '.join(names)})",
            "Issue a certificate that names it, or fix the host name",
        )
        for host in wanted if not covers(names, host)
    ]


def _key_rules(where: str, path: str) -> List[str]:
    mode = file_mode(path)
    if mode & 0o077:
        return [_line(
            where,
            f"private key {path} is readable by group or others (mode {mode:04o})",
            f"chmod 600 {path}",
        )]
    return []


def _hosts_by_identity(hosts: Sequence[str], identities: Sequence[Identity]) -> Dict[int, List[str]]:
    """Which identity serves each ``--host`` name (SNI first, as the server picks)."""
    by_name = {i.sni_name.lower(): n for n, i in enumerate(identities) if i.sni_name}
    chosen: Dict[int, List[str]] = {}
    for host in hosts:
        index = sni_lookup(by_name, host)
        chosen.setdefault(0 if index is None else index, []).append(host)
    return chosen


def tls_warnings(
    options: TlsOptions,
    now: Optional[datetime.datetime] = None,
    hosts: Sequence[str] = (),
    roots: Sequence[x509.Certificate] = (),
    material: Optional[Material] = None,
) -> List[str]:
    """One-line warnings about usable but doubtful TLS material (see the module doc).

    ``material``: the files as the context was built from them
    (``ServerTls.material``); without it they are read here. ``hosts``: names
    clients will use (``wampnode check --host``); ``roots``: trusted root
    certificates (``--cafile``), to tell a missing intermediate. Files that fail
    to load are errors of :func:`node.tls.files.load_material` and are skipped here.
    """
    when = now or datetime.datetime.now(datetime.timezone.utc)
    if material is None:
        material, _ = load_material(options)
    found: List[str] = []
    host_map = _hosts_by_identity(hosts, material.identities)
    for index, identity in enumerate(material.identities):
        where = f"{identity.where}.certificate"
        served = list(zip(identity.sources, identity.chain))
        for path, cert in served:
            found += _validity(where, path, cert, when)
        if identity.chain:
            leaf = identity.chain[0]
            found += _leaf_rules(identity, leaf)
            found += _coverage(identity, leaf, host_map.get(index, []))
            for path, cert in served:
                found += _strength(where, path, cert)
            found += _chain_rules(identity, roots)
        found += _key_rules(f"{identity.where}.key", identity.key_path)
    if options.dhparam is not None and usable_dh(options, material.dh)[0] is not None:
        found += _dh_warnings(option_path(options, "dhparam"), options.dhparam, material.dh)
    if options.ciphers:
        found += _cipher_warnings(option_path(options, "ciphers"), options.ciphers)
    if options.ocsp_staple is not None and material.ocsp is not None:
        found += staple_warnings(option_path(options, "ocsp_staple"), options.ocsp_staple,
                                 material.ocsp, when)
    return found


def _dh_warnings(where: str, path: str, dh: DhParameters) -> List[str]:
    group = dh.group
    found: List[str] = []
    if group.bits < MIN_DH_BITS:
        found.append(_line(
            where,
            f"DH parameters in {path} have {group.bits} bits, under {MIN_DH_BITS} "
            "(Logjam)",
            "Use RFC 7919 ffdhe2048 or: openssl dhparam -out dhparam.pem 2048",
        ))
    if group.rfc7919_name is None:
        found.append(_line(
            where,
            f"DH parameters in {path} are not an RFC 7919 group, so clients that "
            "list FFDHE groups (OpenSSL 4.0 does) get no DHE suite",
            "Use ffdhe2048: https://ssl-config.mozilla.org/ffdhe2048.txt",
        ))
    return found


def _cipher_warnings(where: str, ciphers: str) -> List[str]:
    suites = enabled_suites(ciphers)
    if not suites:
        return []
    findings = audit_ciphers(suites)
    fix = "Remove `ciphers` to use the Mozilla intermediate default (ECDHE with AEAD only)"
    kinds = (
        (findings.not_forward_secret, "without forward secrecy"),
        (findings.anonymous, "anonymous (no server authentication)"),
        (findings.cbc, "CBC (not AEAD)"),
        (findings.sha1_mac, "with a SHA-1 MAC"),
    )
    return [
        _line(where, f"enables {len(names)} suite(s) {label}: {', '.join(names)}", fix)
        for names, label in kinds if names
    ]
