"""``wampcra``: HMAC-SHA256 over a router challenge, keyed with the principal's secret
(or with ``derive_key(secret, salt, iterations, keylen)``, salted PBKDF2)."""
from __future__ import annotations

import hmac
import json
import secrets
import time
from typing import Any, Dict, Optional

from autobahn.wamp.auth import compute_wcs, derive_key
from autobahn.wamp.message import Authenticate, Hello

from node.config.model import AuthMethod, WampCraUser
from node.router.auth.base import (
    AUTHENTICATION_FAILED, NO_SUCH_PRINCIPAL, Accept, Challenge, Deny, HelloContext, resolve_secret,
)
from node.router.auth.dynamic import ask, details, refused


def user_from_answer(answer: Any) -> Optional[WampCraUser]:
    """A dynamic authenticator's answer, ``{secret, role, realm?, salt?, iterations?,
    keylen?}``, as the user it describes (None: no user with a secret). Values are
    converted as loosely as a static user's are read."""
    if not isinstance(answer, dict) or not resolve_secret(answer.get("secret")):
        return None
    salt = answer.get("salt")
    return WampCraUser(
        secret=answer.get("secret"), role=str(answer.get("role") or "anonymous"),
        realm=answer.get("realm") if isinstance(answer.get("realm"), str) else None,
        salt=str(salt) if salt else None,
        iterations=int(answer.get("iterations") or 1000) if salt else None,
        keylen=int(answer.get("keylen") or 32) if salt else None,
    )


class WampCraAuth:
    """HELLO names the principal; CHALLENGE carries a JSON challenge (and the salt
    parameters, if salted); AUTHENTICATE carries the base64 HMAC of it."""

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
            d = ask(self.config.settings, ctx, hello.authid, details(ctx, hello, self.method))
            d.addCallbacks(lambda answer: self._challenge_for(hello, ctx, user_from_answer(answer), "dynamic"),
                           refused(self.method))
            return d
        return self._challenge_for(hello, ctx, self.config.settings.users.get(hello.authid), "static")

    def _challenge_for(self, hello: Hello, ctx: HelloContext, user: Optional[WampCraUser], provider: str) -> Any:
        secret = resolve_secret(user.secret) if user is not None else ""
        if not secret:
            return Deny(NO_SUCH_PRINCIPAL, f"wampcra: no principal '{hello.authid}'")
        role = user.role or "anonymous"
        self._accept = Accept(hello.authid, role, self.method, provider, realm=user.realm)
        self._challenge = json.dumps({
            "authid": hello.authid, "authrole": role, "authmethod": self.method, "authprovider": provider,
            "session": ctx.session_id, "nonce": secrets.token_urlsafe(16),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        }, separators=(",", ":"))
        extra: Dict[str, Any] = {"challenge": self._challenge}
        if user.salt:
            iterations = user.iterations or 1000
            keylen = user.keylen or 32
            self._key = derive_key(secret, user.salt, iterations, keylen)
            extra.update(salt=user.salt, iterations=iterations, keylen=keylen)
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
