"""``tls``: the TLS client certificate (verified by the endpoint's ``ca_certificates``)
names the principal."""
from __future__ import annotations

import re
from typing import Any, Dict, Tuple

from autobahn.wamp.message import Authenticate, Hello

from node.config.model import AuthMethod
from node.router.auth.base import (
    NO_SUCH_PRINCIPAL, NOT_AUTHORIZED, PROTOCOL_VIOLATION, Accept, Deny, HelloContext,
)
from node.router.auth.dynamic import ask_for_principal


def certificate_names(cert: Dict[str, Any]) -> Tuple[str, ...]:
    """The subject CN and DNS/email SAN entries of autobahn's peer certificate details."""
    names = []
    cn = (cert.get("subject") or {}).get("cn")
    if isinstance(cn, str):
        names.append(cn)
    for ext in cert.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == "subjectAltName":
            for part in str(ext.get("value", "")).split(","):
                kind, _, value = part.strip().partition(":")
                if kind in ("DNS", "email") and value:
                    names.append(value)
    return tuple(names)


def normalize_fingerprint(value: object) -> str:
    """``AA:BB:...`` or ``aabb...`` -> ``AABB...`` for comparison."""
    return re.sub(r"[^0-9A-Fa-f]", "", value if isinstance(value, str) else "").upper()


class TlsAuth:
    """The principal is found by the certificate's SHA-256 fingerprint in ``principals``,
    else by its CN/SAN; without ``principals`` any accepted certificate joins with
    ``role``, its CN (or first SAN) as authid. No CHALLENGE."""

    method = "tls"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        cert = ctx.peer_cert
        if not isinstance(cert, dict) or not cert.get("sha256"):
            return Deny(NOT_AUTHORIZED, "tls: no verified TLS client certificate")
        if self.config.type == "dynamic":
            return ask_for_principal(self.config.settings, ctx, hello, hello.authid, self.method, certificate=cert)
        settings = self.config.settings
        fingerprint = normalize_fingerprint(cert.get("sha256"))
        principals = settings.principals or {}
        for authid, principal in principals.items():
            if normalize_fingerprint(principal.certificate_sha256) == fingerprint:
                return Accept(authid, principal.role or "anonymous", self.method, "static",
                              realm=principal.realm or None)
        names = certificate_names(cert)
        if principals:
            for name in names:
                principal = principals.get(name)
                if principal is not None and not principal.certificate_sha256:
                    return Accept(name, principal.role or "anonymous", self.method, "static")
            return Deny(NO_SUCH_PRINCIPAL, "tls: the client certificate matches no principal")
        if not names:
            return Deny(NO_SUCH_PRINCIPAL, "tls: the client certificate has no CN or SAN")
        return Accept(names[0], settings.role or "anonymous", self.method, "static")

    def authenticate(self, msg: Authenticate) -> Any:
        return Deny(PROTOCOL_VIOLATION, "tls authentication sends no AUTHENTICATE")
