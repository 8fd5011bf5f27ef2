"""Read a server's certificate chain: the path it claims, the CA it lacks, what to fix.

The server's certificates may come in any order, may hold the (untrusted) root,
and may lie. Following AKID -> SKID from the leaf gives the path the server
*claims*; the AKID at its top names the missing issuer. Nothing here trusts that
claim: it only chooses which CA to try (JIT) or to name (diagnosis). The TLS
library's full validation decides (libwebsockets' JIT trust, same reasoning).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

from cryptography import x509

from node.errors import ConnectError
from node.trust.bundle import CaIndex
from node.tls.certinfo import (
    authority_key_id,
    dns_names,
    hex_id,
    is_ca,
    name_text,
    signed_by_own_key,
    subject_key_id,
)

# X509_V_ERR_* numbers (OpenSSL include/openssl/x509_vfy.h) that mean "no trusted issuer".
UNTRUSTED_ISSUER = {2, 18, 19, 20, 21}
_VERIFY_TEXT = {
    2: "unable to get issuer certificate",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    24: "invalid CA certificate",
    26: "unsupported certificate purpose",
    7: "certificate signature failure",
}
MAX_JIT_CAS = 3  # cross-signing: libwebsockets imports up to three CAs


def verify_error_text(errno: int) -> str:
    return _VERIFY_TEXT.get(errno, f"OpenSSL verify error {errno}")


@dataclass(frozen=True)
class Evidence:
    """What one TLS handshake showed: the certificates as sent and what failed."""

    address: str  # "host:port", for messages
    hostname: str  # the name verified (and sent as SNI unless an address)
    presented: Tuple[x509.Certificate, ...]
    errors: Tuple[Tuple[int, int], ...]  # (depth, X509_V_ERR number)
    hostname_mismatch: bool = False
    pin_mismatch: Optional[str] = None  # the server key's pin when it matched none

    @property
    def issuer_unknown(self) -> bool:
        return any(errno in UNTRUSTED_ISSUER for _, errno in self.errors)


def trust_path(presented: Sequence[x509.Certificate]) -> List[x509.Certificate]:
    """Leaf first, then each presented certificate whose SKID is the previous one's AKID."""
    if not presented:
        return []
    path = [presented[0]]
    rest = list(presented[1:])
    while rest and not signed_by_own_key(path[-1]):
        akid = authority_key_id(path[-1])
        parent = next((c for c in rest if akid is not None and subject_key_id(c) == akid), None)
        if parent is None:
            parent = next((c for c in rest if c.subject == path[-1].issuer), None)
        if parent is None:
            break
        path.append(parent)
        rest.remove(parent)
    return path


def wanted_ca_ids(presented: Sequence[x509.Certificate]) -> List[bytes]:
    """Key ids to look up, most likely first: the AKID at the top of the path, then every
    other AKID sent (cross-signed intermediates), and a self-issued top's own SKID."""
    path = trust_path(presented)
    ids: List[bytes] = []
    if path:
        top = path[-1]
        akid = authority_key_id(top)
        if signed_by_own_key(top):
            ids.append(subject_key_id(top))
        elif akid is not None:
            ids.append(akid)
    for cert in presented:
        akid = authority_key_id(cert)
        if akid is not None and akid not in ids:
            ids.append(akid)
    return ids


def find_cas(presented: Sequence[x509.Certificate], index: CaIndex) -> List[x509.Certificate]:
    """Up to three CA certificates of ``index`` that the server's AKIDs ask for."""
    found: List[x509.Certificate] = []
    for key_id in wanted_ca_ids(presented):
        for cert in index.lookup(key_id):
            if cert not in found and is_ca(cert):
                found.append(cert)
    return found[:MAX_JIT_CAS]


def _lookup(key_id: Optional[bytes], indexes: Iterable[CaIndex]) -> Tuple[Optional[x509.Certificate], str]:
    for index in indexes:
        for cert in index.lookup(key_id) if key_id else ():
            return cert, index.source
    return None, ""


def diagnose(evidence: Evidence, known: Sequence[CaIndex], cafile_option: str = "trust.cafile") -> ConnectError:
    """One line naming the host, the missing issuer and its AKID, the chain's state, the fix.

    ``known`` are CA sources to recognise the missing issuer in (root or
    intermediate?); ``cafile_option`` is how the user adds a CA (``trust.cafile``
    in a config, ``--cafile`` on the command line).
    """
    where = f"TLS to {evidence.address}" + (f" ({evidence.hostname})" if evidence.hostname not in evidence.address else "")
    if evidence.pin_mismatch is not None:
        return ConnectError(where, f"the server's key (pin_sha256 {evidence.pin_mismatch}) matches no pin",
                        "If the server's key changed on purpose, pin the new key; otherwise this is not your server")
    if evidence.hostname_mismatch:
        names = ", ".join(dns_names(evidence.presented[0])) if evidence.presented else "none"
        return ConnectError(where, f"the certificate is not valid for {evidence.hostname} (it names {names})",
                        "Connect with a name the certificate holds, or set tls.hostname")
    if not evidence.issuer_unknown:
        texts = sorted({verify_error_text(e) for _, e in evidence.errors}) or ["handshake failed"]
        return ConnectError(where, f"certificate rejected: {'; '.join(texts)}",
                        "Fix the server's certificate (validity, key usage) or its clock")
    path = trust_path(evidence.presented)
    if not path:
        return ConnectError(where, "the server sent no certificate", "Check that the server speaks TLS with a certificate")
    top = path[-1]
    sent = f"{len(evidence.presented)} certificate(s) sent"
    if signed_by_own_key(top):
        missing_name, missing_id = name_text(top.subject), subject_key_id(top)
        kind = "self-signed certificate" if len(path) == 1 else "root sent by the server"
        state = f"chain complete ({sent}, ending in the {kind})"
        found, source = top, "the server's own chain"
    else:
        missing_name, missing_id = name_text(top.issuer), authority_key_id(top)
        found, source = _lookup(missing_id, known)
        if found is not None and not signed_by_own_key(found):
            state = f"chain INCOMPLETE: the server did not send intermediate CA '{missing_name}' ({sent})"
        elif found is not None or is_ca(top):
            state = f"chain complete ({sent}, root not sent, as usual)"
        else:
            state = (f"chain probably INCOMPLETE: the server sent only its own certificate; "
                     f"if '{missing_name}' is an intermediate CA the server must send it")
    akid = hex_id(missing_id) if missing_id else "none"
    problem = (f"certificate not trusted ({verify_error_text(_first_untrusted(evidence))}): "
               f"missing issuer '{missing_name}' (AKID {akid}); {state}")
    if found is not None and "INCOMPLETE" in state:
        fix = (f"Configure the server to send its intermediate certificate(s), or add '{missing_name}' "
               f"and its root to {cafile_option}")
    elif found is not None and source != "the server's own chain":
        fix = f"Add the CA certificate '{missing_name}' (it is in {source}) to {cafile_option}"
    else:
        fix = f"Add the CA certificate '{missing_name}' (SKID {akid}) to {cafile_option}, a PEM file"
    return ConnectError(where, problem, fix)


def _first_untrusted(evidence: Evidence) -> int:
    return next((e for _, e in evidence.errors if e in UNTRUSTED_ISSUER), 20)
