"""TLS handshakes of a listening port, counted: completed, and failed by reason.

A connection is counted once, when its handshake ends (:mod:`node.tls.handshake_protocol`
counts): completed, failed with an OpenSSL error (the reason reduced to one of a
few classes by :func:`failure_class`, so that the label stays small whatever
OpenSSL says), or closed by the peer before it completed. This module imports
neither OpenSSL nor Twisted: a node without TLS loads neither.
"""
from __future__ import annotations

from typing import Dict

# the reasons of failed handshakes (``wampnode_tls_handshake_failures_total{reason}``)
FAILURE_REASONS = ("version", "cipher", "client_certificate", "not_tls", "peer_alert", "closed", "other")

# (what OpenSSL's reason string contains, the class); first match wins
_CLASSES = (
    ("http request", "not_tls"),
    ("wrong version number", "not_tls"),
    ("unknown protocol", "not_tls"),
    ("version", "version"),
    ("protocol", "version"),
    ("no shared cipher", "cipher"),
    ("no suitable", "cipher"),
    ("cipher", "cipher"),
    ("group", "cipher"),
    ("sigalg", "cipher"),
    ("peer did not return a certificate", "client_certificate"),
    ("alert", "peer_alert"),  # e.g. "alert certificate unknown": the client refused our certificate
    ("certificate", "client_certificate"),
)


def failure_class(error: object) -> str:
    """One of :data:`FAILURE_REASONS` for an OpenSSL error of a failed handshake."""
    if not type(error).__module__.startswith("OpenSSL"):
        return "closed"  # no OpenSSL error: the peer went (Twisted turns an EOF into ConnectionLost)
    text = str(getattr(error, "args", "") or error).lower()
    for needle, reason in _CLASSES:
        if needle in text:
            return reason
    return "other"


class HandshakeCounts:
    """Handshakes of one listening port."""

    __slots__ = ("completed", "failed")

    def __init__(self) -> None:
        self.completed = 0
        self.failed: Dict[str, int] = dict.fromkeys(FAILURE_REASONS, 0)
