"""``wampcra``: HMAC-SHA256 over a router challenge, keyed with the principal's secret
(or with ``derive_key(secret, salt, iterations, keylen)``, salted PBKDF2).

An authid that names no user gets a CHALLENGE all the same, shaped like a real
user's (see :func:`decoy`), and then the refusal a wrong secret gets: the answers
do not tell which users exist.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Dict, Optional, Tuple

from autobahn.wamp.auth import compute_wcs, derive_key
from autobahn.wamp.message import Authenticate, Hello

from node.config.model import AuthMethod, WampCraSettings, WampCraUser
from node.router.auth.base import (
    NO_SUCH_PRINCIPAL, Accept, Challenge, Deny, HelloContext, failed, resolve_secret,
)
from node.router.auth.dynamic import ask, details, refused

_BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# static settings (by identity) -> (settings, decoy key, sorted authids, salt alphabet)
_DECOY_KEYS: Dict[int, Tuple[WampCraSettings, bytes, Tuple[str, ...], str]] = {}


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


def _decoy_key(settings: WampCraSettings) -> Tuple[bytes, Tuple[str, ...], str]:
    """The node's secret for decoys, derived from the configured users and their secrets:
    the same in every router process and across restarts while the users stay the same,
    and unknown to anyone who does not know the secrets."""
    entry = _DECOY_KEYS.get(id(settings))
    if entry is None or entry[0] is not settings:
        digest = hashlib.sha256(b"wampnode wampcra decoy\0")
        names = tuple(sorted(settings.users))
        for name in names:
            user = settings.users[name]
            for part in (name, resolve_secret(user.secret), user.salt or "", str(user.iterations), str(user.keylen)):
                digest.update(part.encode("utf8") + b"\0")
        alphabet = "".join(sorted({c for user in settings.users.values() for c in user.salt or ""}))
        if len(_DECOY_KEYS) >= 64:  # one entry per configured wampcra method; tests make many
            _DECOY_KEYS.clear()
        entry = _DECOY_KEYS[id(settings)] = (settings, digest.digest(), names,
                                             alphabet if len(alphabet) > 1 else _BASE64URL)
    return entry[1], entry[2], entry[3]


def _prf(key: bytes, authid: str, length: int) -> bytes:
    """``length`` bytes of HMAC-SHA256(key, counter || authid)."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hmac.new(key, counter.to_bytes(4, "big") + authid.encode("utf8"), hashlib.sha256).digest()
        counter += 1
    return out[:length]


def decoy(settings: Any, authid: str) -> WampCraUser:
    """The user an unknown ``authid`` is shown: the role, salt length and PBKDF2 parameters
    of a configured user (picked by the authid), a fake salt, a random secret. The same
    authid always gets the same one, as a real user always gets its salt."""
    if not isinstance(settings, WampCraSettings) or not settings.users:
        return WampCraUser(secret=secrets.token_urlsafe(24), role="anonymous", realm=None, salt=None,
                           iterations=None, keylen=None)
    key, names, alphabet = _decoy_key(settings)
    template = settings.users[names[int.from_bytes(_prf(key, authid, 8), "big") % len(names)]]
    salt = None
    if template.salt:
        raw = _prf(key, "salt\0" + authid, len(template.salt))
        salt = "".join(alphabet[b % len(alphabet)] for b in raw)
    return WampCraUser(secret=secrets.token_urlsafe(24), role=template.role, realm=None, salt=salt,
                       iterations=template.iterations, keylen=template.keylen)


class WampCraAuth:
    """HELLO names the principal; CHALLENGE carries a JSON challenge (and the salt
    parameters, if salted); AUTHENTICATE carries the base64 HMAC of it."""

    method = "wampcra"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config
        self._key: Optional[bytes] = None
        self._challenge = ""
        self._accept: Optional[Accept] = None
        self._authid: Optional[str] = None

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        if not isinstance(hello.authid, str) or not hello.authid:
            return Deny(NO_SUCH_PRINCIPAL, "wampcra: HELLO must carry an authid")
        self._authid = hello.authid
        if self.config.type == "dynamic":
            d = ask(self.config.settings, ctx, hello.authid, details(ctx, hello, self.method))
            d.addCallbacks(lambda answer: self._challenge_for(hello, ctx, user_from_answer(answer), "dynamic"),
                           refused(self.method))
            return d
        return self._challenge_for(hello, ctx, self.config.settings.users.get(hello.authid), "static")

    def _challenge_for(self, hello: Hello, ctx: HelloContext, user: Optional[WampCraUser], provider: str) -> Any:
        secret = resolve_secret(user.secret) if user is not None else ""
        if not secret:  # unknown: a decoy that no signature can match
            user = decoy(self.config.settings, hello.authid)
            secret = resolve_secret(user.secret)
        else:
            self._accept = Accept(hello.authid, user.role or "anonymous", self.method, provider, realm=user.realm)
        role = user.role or "anonymous"
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
        if self._key is None:
            return failed(self.method, self._authid)
        expected = compute_wcs(self._key, self._challenge.encode("utf8"))
        given = msg.signature.encode("utf8") if isinstance(msg.signature, str) else b""
        if not hmac.compare_digest(expected, given) or self._accept is None:
            return failed(self.method, self._authid)
        return self._accept
