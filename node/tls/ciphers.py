"""Which TLS 1.2 suites a ``ciphers`` string enables, and which of them are weak.

A user's cipher string is honoured as written (issue 6), so ``wampnode check``
names what it lets in: suites without forward secrecy, CBC (non-AEAD) suites,
suites with a SHA-1 MAC, and anonymous ones. The example is the Crossbar TLS
guide's own list: it grades well on popular scanners, yet enables four CBC
suites (two with SHA-1) that Mozilla's "intermediate" profile rejects.

The string is expanded by the same OpenSSL that serves it (the names differ
between OpenSSL versions: ``ALL`` or ``ECDH+AES`` mean different sets), then
judged by the suite's OpenSSL name, which encodes key exchange, cipher and MAC.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

from OpenSSL import SSL

from node.tls.openssl import clear_openssl_errors

__all__ = ["enabled_suites", "CipherFindings", "audit_ciphers"]

# Key exchanges with forward secrecy; ADH/AECDH have it but authenticate nobody.
_FORWARD_SECRET = ("ECDHE-", "DHE-", "EDH-")
_ANONYMOUS = ("ADH-", "AECDH-")
_AEAD = ("GCM", "CHACHA20-POLY1305", "CCM")


def enabled_suites(ciphers: str) -> Optional[List[str]]:
    """The TLS 1.2 (and older) suite names ``ciphers`` enables, in OpenSSL's order.

    None when OpenSSL accepts no suite from the string (building the context
    reports that as an error). TLS 1.3 suites, which ``ciphers`` does not set, are left out.
    """
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    try:
        ctx.set_cipher_list(ciphers.encode("ascii"))
    except (SSL.Error, UnicodeEncodeError):
        clear_openssl_errors()
        return None
    names = SSL.Connection(ctx, None).get_cipher_list()
    return [n for n in names if not n.startswith("TLS_")]


@dataclass(frozen=True)
class CipherFindings:
    """Suites of one cipher string by weakness (a suite may be in several lists)."""

    not_forward_secret: Tuple[str, ...]
    anonymous: Tuple[str, ...]
    cbc: Tuple[str, ...]
    sha1_mac: Tuple[str, ...]


def _is_aead(name: str) -> bool:
    return any(mark in name for mark in _AEAD)


def audit_ciphers(suites: List[str]) -> CipherFindings:
    """Sort OpenSSL suite names into the weaknesses ``wampnode check`` reports.

    - not forward secret: RSA, PSK or SRP key exchange (RFC 7525 section 4.2);
      a stolen server key decrypts every recorded session;
    - anonymous: ADH/AECDH, no server authentication at all;
    - CBC (non-AEAD): MAC-then-encrypt, the home of padding oracles (Lucky
      Thirteen, RFC 7457 section 2.4); Mozilla intermediate keeps AEAD only;
    - SHA-1 MAC: the ``-SHA`` suites of TLS 1.0 days.
    """
    not_fs = [n for n in suites if not n.startswith(_FORWARD_SECRET + _ANONYMOUS)]
    anonymous = [n for n in suites if n.startswith(_ANONYMOUS)]
    cbc = [n for n in suites if not _is_aead(n)]
    sha1 = [n for n in suites if not _is_aead(n) and n.endswith("-SHA")]
    return CipherFindings(tuple(not_fs), tuple(anonymous), tuple(cbc), tuple(sha1))
