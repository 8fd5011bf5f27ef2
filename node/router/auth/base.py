"""Who is this peer? The HELLO -> (CHALLENGE -> AUTHENTICATE) -> WELCOME|ABORT step.

Each method is a small class made per session attempt:
``hello(hello, context)`` answers with :class:`Accept`, :class:`Deny` or
:class:`Challenge`; after a challenge ``authenticate(msg)`` answers with
:class:`Accept` or :class:`Deny`. Static methods answer at once. ``dynamic``
methods ask a WAMP procedure (the configured ``authenticator``), so they answer
with a Deferred firing with one of those; that is the only asynchronous part.

Method settings come from the transport's ``auth`` map in Crossbar's key names
(see :class:`node.config.model.AuthMethod`). Secrets are compared in constant
time and never logged.
"""
from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

from autobahn.wamp.auth import compute_wcs, derive_key
from autobahn.wamp.message import Authenticate, Hello

from node.config.model import AuthMethod
from node.router.ids import random_bytes

NO_AUTH_METHOD = "wamp.error.no_auth_method"
NOT_AUTHORIZED = "wamp.error.not_authorized"
AUTHENTICATION_FAILED = "wamp.error.authentication_failed"
NO_SUCH_PRINCIPAL = "wamp.error.no_such_principal"


@dataclass
class Accept:
    """Authentication succeeded: the session joins with this identity."""

    authid: str
    authrole: str
    authmethod: str
    authprovider: str = "static"
    authextra: Optional[Dict[str, Any]] = None
    realm: Optional[str] = None  # a dynamic authenticator may move the session


@dataclass
class Deny:
    """Authentication failed: ABORT with ``reason`` and ``message``."""

    reason: str
    message: str


@dataclass
class Challenge:
    """Send CHALLENGE(method, extra) and wait for AUTHENTICATE."""

    method: str
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class HelloContext:
    """What an authenticator may use besides the HELLO itself."""

    realm: str
    session_id: int
    transport: Dict[str, Any]  # TransportDetails.marshal()
    channel_id: Optional[bytes] = None  # tls-unique channel binding, if TLS
    peer_cert: Optional[Dict[str, Any]] = None  # autobahn's peer certificate details
    # call(realm, procedure, args) -> Deferred[Result]; provided by the router
    call: Optional[Callable[[str, str, list], Any]] = None


def resolve_secret(value: object) -> str:
    """A secret from the config: ``"${NAME}"`` / ``"$NAME"`` read from the environment
    if the loader did not already substitute it."""
    text = value if isinstance(value, str) else ""
    m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", text)
    if m and m.group(1) in os.environ:
        return os.environ[m.group(1)]
    return text


def random_authid() -> str:
    """Crossbar-style generated authid for anonymous sessions, e.g. ``X7K3-9QPA-...``."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 symbols: a byte mod 32 is unbiased
    raw = "".join([alphabet[b % 32] for b in random_bytes(24)])
    return "-".join(raw[i:i + 4] for i in range(0, 24, 4))


# --- dynamic helpers -------------------------------------------------------------


def _ask(settings: Dict[str, Any], ctx: HelloContext, authid: Optional[str], details: Dict[str, Any]) -> Any:
    """Call the dynamic ``authenticator`` procedure: Deferred firing with its answer."""
    procedure = settings.get("authenticator")
    realm = settings.get("authenticator-realm") or ctx.realm
    if not isinstance(procedure, str) or ctx.call is None:
        raise ValueError("dynamic authentication needs an 'authenticator' procedure")
    d = ctx.call(realm, procedure, [ctx.realm, authid, details])
    d.addCallback(lambda result: result.args[0] if result.args else None)
    return d


def _principal_from_answer(answer: Any, authid: Optional[str], method: str) -> "Accept | Deny":
    """Crossbar's dynamic authenticator answers: a role string, or a dict with
    ``role`` and optional ``authid``, ``realm``, ``extra``."""
    if isinstance(answer, str):
        return Accept(authid or random_authid(), answer, method, "dynamic")
    if isinstance(answer, dict) and isinstance(answer.get("role"), str):
        extra = answer.get("extra")
        return Accept(
            answer.get("authid") if isinstance(answer.get("authid"), str) else (authid or random_authid()),
            answer["role"], method, "dynamic", extra if isinstance(extra, dict) else None,
            answer.get("realm") if isinstance(answer.get("realm"), str) else None,
        )
    return Deny(NOT_AUTHORIZED, f"{method}: the authenticator refused the principal")


def _on_error(method: str) -> Callable[[Any], Deny]:
    def denied(failure: Any) -> Deny:
        error = getattr(failure.value, "error", None)
        text = failure.getErrorMessage()
        return Deny(error if isinstance(error, str) and error.startswith("wamp.") else NOT_AUTHORIZED,
                    f"{method}: authentication refused: {text}")
    return denied


def _details(ctx: HelloContext, hello: Hello, method: str, **more: Any) -> Dict[str, Any]:
    details = {"transport": ctx.transport, "session": ctx.session_id, "authmethod": method,
               "authextra": hello.authextra if isinstance(hello.authextra, dict) else None}
    details.update(more)
    return details


def _realm_of(principal: Dict[str, Any]) -> Optional[str]:
    """A static principal's ``realm``: it may only join there."""
    realm = principal.get("realm")
    return realm if isinstance(realm, str) and realm else None


# --- anonymous -----------------------------------------------------------------


class AnonymousAuth:
    """``anonymous``: joins with the configured role (default ``anonymous``)."""

    method = "anonymous"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        authid = hello.authid if isinstance(hello.authid, str) and hello.authid else random_authid()
        if self.config.type == "dynamic":
            d = _ask(self.config.settings, ctx, authid, _details(ctx, hello, self.method))
            d.addCallbacks(lambda a: _principal_from_answer(a, authid, self.method), _on_error(self.method))
            return d
        role = self.config.settings.get("role") or "anonymous"
        return Accept(authid, str(role), self.method, "static")

    def authenticate(self, msg: Authenticate) -> Any:
        return Deny("wamp.error.protocol_violation", "anonymous authentication sends no AUTHENTICATE")


# --- ticket --------------------------------------------------------------------


class TicketAuth:
    """``ticket``: the client sends a shared secret (use it over TLS only)."""

    method = "ticket"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config
        self._hello: Optional[Hello] = None
        self._ctx: Optional[HelloContext] = None

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        self._hello, self._ctx = hello, ctx
        if self.config.type != "dynamic":
            principals = self.config.settings.get("principals") or {}
            if not hello.authid or hello.authid not in principals:
                return Deny(NO_SUCH_PRINCIPAL, f"ticket: no principal '{hello.authid}'")
        return Challenge(self.method, {})

    def authenticate(self, msg: Authenticate) -> Any:
        hello, ctx = self._hello, self._ctx
        ticket = msg.signature if isinstance(msg.signature, str) else ""
        if self.config.type == "dynamic":
            details = _details(ctx, hello, self.method, ticket=ticket)
            d = _ask(self.config.settings, ctx, hello.authid, details)
            d.addCallbacks(lambda a: _principal_from_answer(a, hello.authid, self.method), _on_error(self.method))
            return d
        principal = (self.config.settings.get("principals") or {}).get(hello.authid) or {}
        expected = resolve_secret(principal.get("ticket"))
        if not expected or not hmac.compare_digest(expected.encode("utf8"), ticket.encode("utf8")):
            return Deny(AUTHENTICATION_FAILED, f"ticket: invalid ticket for '{hello.authid}'")
        return Accept(hello.authid, str(principal.get("role") or "anonymous"), self.method, "static",
                      realm=_realm_of(principal))


# --- wampcra -------------------------------------------------------------------


class WampCraAuth:
    """``wampcra``: HMAC-SHA256 over a router challenge, keyed with the secret
    (or with ``derive_key(secret, salt, iterations, keylen)``, salted PBKDF2)."""

    method = "wampcra"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config
        self._key: Optional[bytes] = None
        self._challenge = ""
        self._accept: Optional[Accept] = None

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        if not hello.authid:
            return Deny(NO_SUCH_PRINCIPAL, "wampcra: HELLO must carry an authid")
        if self.config.type == "dynamic":
            d = _ask(self.config.settings, ctx, hello.authid, _details(ctx, hello, self.method))
            d.addCallbacks(lambda user: self._challenge_for(hello, ctx, user, "dynamic"), _on_error(self.method))
            return d
        user = (self.config.settings.get("users") or {}).get(hello.authid)
        return self._challenge_for(hello, ctx, user, "static")

    def _challenge_for(self, hello: Hello, ctx: HelloContext, user: Any, provider: str) -> Any:
        if not isinstance(user, dict) or not resolve_secret(user.get("secret")):
            return Deny(NO_SUCH_PRINCIPAL, f"wampcra: no principal '{hello.authid}'")
        role = str(user.get("role") or "anonymous")
        self._accept = Accept(hello.authid, role, self.method, provider,
                              realm=user.get("realm") if isinstance(user.get("realm"), str) else None)
        self._challenge = json.dumps({
            "authid": hello.authid, "authrole": role, "authmethod": self.method, "authprovider": provider,
            "session": ctx.session_id, "nonce": secrets.token_urlsafe(16),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        }, separators=(",", ":"))
        secret = resolve_secret(user.get("secret"))
        extra: Dict[str, Any] = {"challenge": self._challenge}
        if user.get("salt"):
            iterations = int(user.get("iterations") or 1000)
            keylen = int(user.get("keylen") or 32)
            self._key = derive_key(secret, str(user["salt"]), iterations, keylen)
            extra.update(salt=str(user["salt"]), iterations=iterations, keylen=keylen)
        else:
            self._key = secret.encode("utf8")
        return Challenge(self.method, extra)

    def authenticate(self, msg: Authenticate) -> Any:
        if self._accept is None or self._key is None:
            return Deny(AUTHENTICATION_FAILED, "wampcra: no challenge was sent")
        expected = compute_wcs(self._key, self._challenge.encode("utf8"))
        given = msg.signature.encode("utf8") if isinstance(msg.signature, str) else b""
        if not hmac.compare_digest(expected, given):
            return Deny(AUTHENTICATION_FAILED, f"wampcra: invalid signature for '{self._accept.authid}'")
        return self._accept


# --- TLS client certificate -----------------------------------------------------


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
    """``tls``: the TLS client certificate (verified by the endpoint's ``ca_certificates``)
    names the principal: by SHA-256 fingerprint in ``principals``, else its CN/SAN."""

    method = "tls"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        cert = ctx.peer_cert
        if not isinstance(cert, dict) or not cert.get("sha256"):
            return Deny(NOT_AUTHORIZED, "tls: no verified TLS client certificate")
        if self.config.type == "dynamic":
            d = _ask(self.config.settings, ctx, hello.authid, _details(ctx, hello, self.method, certificate=cert))
            d.addCallbacks(lambda a: _principal_from_answer(a, hello.authid, self.method), _on_error(self.method))
            return d
        fingerprint = normalize_fingerprint(cert.get("sha256"))
        principals = self.config.settings.get("principals") or {}
        for authid, principal in principals.items():
            if isinstance(principal, dict) and normalize_fingerprint(principal.get("certificate-sha256")) == fingerprint:
                return Accept(authid, str(principal.get("role") or "anonymous"), self.method, "static",
                              realm=_realm_of(principal))
        names = certificate_names(cert)
        if principals:
            for name in names:
                principal = principals.get(name)
                if isinstance(principal, dict) and not principal.get("certificate-sha256"):
                    return Accept(name, str(principal.get("role") or "anonymous"), self.method, "static")
            return Deny(NO_SUCH_PRINCIPAL, "tls: the client certificate matches no principal")
        if not names:
            return Deny(NO_SUCH_PRINCIPAL, "tls: the client certificate has no CN or SAN")
        role = self.config.settings.get("role") or "anonymous"
        return Accept(names[0], str(role), self.method, "static")

    def authenticate(self, msg: Authenticate) -> Any:
        return Deny("wamp.error.protocol_violation", "tls authentication sends no AUTHENTICATE")


# --- selection ------------------------------------------------------------------


def make_authenticator(config: AuthMethod) -> Any:
    """A fresh authenticator for one session attempt, or None for unknown methods."""
    from node.router.auth.cryptosign import CryptosignAuth

    kinds = {"anonymous": AnonymousAuth, "ticket": TicketAuth, "wampcra": WampCraAuth,
             "cryptosign": CryptosignAuth, "tls": TlsAuth}
    kind = kinds.get(config.method)
    return kind(config) if kind is not None else None


def choose_method(offered: Tuple[AuthMethod, ...], hello: Hello, has_client_cert: bool) -> Optional[AuthMethod]:
    """The first method in the client's ``authmethods`` order that the transport offers.

    No transport ``auth`` at all means anonymous is allowed (role ``anonymous``).
    A client that lists no methods is treated as asking for ``anonymous``; ``tls``
    is used only when a client certificate was presented.
    """
    if not offered:
        return AuthMethod("anonymous", "static", {"role": "anonymous"})
    wanted = [m for m in (hello.authmethods or ["anonymous"]) if isinstance(m, str)]
    by_name = {m.method: m for m in offered}
    for name in wanted:
        if name == "tls" and not has_client_cert:
            continue
        if name in by_name:
            return by_name[name]
    return None

