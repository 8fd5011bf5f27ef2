"""Whether a ``dhparam`` group is served: one OpenSSL refuses as too small only turns DHE off.

OpenSSL 3 refuses DH parameters below its security level's minimum ("dh key
too small": 2048 bits at the default level 2). Crossbar.io's published examples
ship 1024-bit ``dhparam.pem`` files (``rest/publisher_tls``), and Crossbar.io
26.10 starts them: its listeners are TLS 1.3-only and ignore ``dhparam``.
Refusing such a node would break configs that run today; serving the group is
what OpenSSL refuses (Logjam, 2015). So the node starts without it: no DH
parameters are loaded, so OpenSSL offers no DHE suite, while ECDHE and TLS 1.3
are unaffected, and one warning says so and how to fix it
(:func:`usable_dh`). Any other fault of the file (missing, unreadable, not DH
parameters, refused for another reason) stays an error.

The decision is OpenSSL's own, taken on a probe context with the block's
``ciphers`` string, whose ``@SECLEVEL=n`` changes the level the group is judged
at; so it holds at whatever level the served contexts get.
"""
from __future__ import annotations

from typing import Optional, Tuple

from OpenSSL import SSL

from node.config.model import TlsOptions
from node.errors import TlsError
from node.tls.files import DhParameters, option_path
from node.tls.openssl import clear_openssl_errors, use_dh_parameters

__all__ = ["usable_dh", "DH_TOO_SMALL"]

# OpenSSL's reason text for SSL_R_DH_KEY_TOO_SMALL (ssl/ssl_err.c, 1.1.0 to 4.0).
DH_TOO_SMALL = "dh key too small"


def usable_dh(options: TlsOptions, dh: Optional[DhParameters]) -> Tuple[Optional[DhParameters], Optional[TlsError]]:
    """The group to load for DHE (``dh``, or None) and the warning when OpenSSL refuses it as too small.

    A group OpenSSL refuses for another reason is returned as is: loading it
    into the served context then reports OpenSSL's reason as an error.
    """
    if dh is None or options.dhparam is None:
        return dh, None
    probe = SSL.Context(SSL.TLS_SERVER_METHOD)
    try:
        if options.ciphers:
            probe.set_cipher_list(options.ciphers.encode("ascii"))
        use_dh_parameters(probe, dh.pem)
    except (SSL.Error, UnicodeEncodeError) as e:
        clear_openssl_errors()
        if not _too_small(e):
            return dh, None  # a bad cipher string or another refusal: the context build reports it
        return None, TlsError(
            option_path(options, "dhparam"),
            f"{options.dhparam} holds {dh.group.bits}-bit DH parameters, which OpenSSL refuses as too small "
            "for its security level (2048 bits at the default level 2), so no DHE cipher suite is offered "
            "(ECDHE and TLS 1.3 are unaffected)",
            "Fix: make a 2048-bit group with `openssl dhparam -out dhparam.pem 2048`, "
            "use RFC 7919 ffdhe2048, or remove dhparam",
        )
    return dh, None


def _too_small(error: Exception) -> bool:
    reasons = error.args[0] if error.args and isinstance(error.args[0], list) else []
    return any(isinstance(r, tuple) and r and r[-1] == DH_TOO_SMALL for r in reasons)
