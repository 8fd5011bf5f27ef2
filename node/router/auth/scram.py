"""``scram``: WAMP-SCRAM (RFC 5802 with SHA-256), as Crossbar.io and autobahn speak it.

HELLO carries the authid and ``authextra.nonce`` (base64). CHALLENGE carries the
server nonce (client nonce + 16 random bytes), the principal's ``kdf``, ``salt``
(base64), ``iterations`` and, for ``argon2id-13``, ``memory``. AUTHENTICATE carries
the base64 ClientProof over the auth message
``n=<saslprep(authid)>,r=<client nonce>,r=<server nonce>,s=<salt>,i=<iterations>,c=,r=<server nonce>``;
the router checks ``SHA-256(proof XOR HMAC(StoredKey, message)) == StoredKey`` and
answers WELCOME with ``authextra.scram_server_signature`` (HMAC(ServerKey, message)),
which the client checks in turn.

The router never runs the KDF (the client does, on its password): it keeps only
StoredKey and ServerKey, so it needs no Argon2 library, on CPython or PyPy.

An authid that names no principal gets a CHALLENGE all the same, shaped like a real
principal's (the KDF parameters of a configured one, a salt of the same length that
stays the same for that authid) and then the refusal a wrong password gets.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from typing import Any, Dict, Optional

from autobahn.wamp.message import Authenticate, Hello

from node.config.model import AuthMethod, ScramPrincipal, ScramSettings
from node.router.auth.base import NOT_AUTHORIZED, Accept, Challenge, Deny, HelloContext, failed
from node.router.auth.dynamic import ask, details, refused
from node.router.auth.saslprep import saslprep

KDFS = ("argon2id-13", "pbkdf2")
# autobahn's derive_scram_credential: what a decoy looks like when no principal is configured
_DEFAULT_DECOY = ScramPrincipal(kdf="argon2id-13", iterations=4096, memory=512, salt="00" * 16,
                                stored_key="", server_key="", role="anonymous", realm=None)
_DECOY_SECRETS: Dict[int, Any] = {}  # id(settings) -> (settings, key)


def _unhex(value: object, size: Optional[int] = None) -> Optional[bytes]:
    try:
        raw = binascii.a2b_hex(value) if isinstance(value, str) else None
    except (binascii.Error, ValueError):
        return None
    return raw if raw and (size is None or len(raw) == size) else None


def principal_from_answer(answer: Any) -> Optional[ScramPrincipal]:
    """A dynamic authenticator's answer (the static principal's keys, plus optional
    ``authid``) as a principal; None if it is not a usable credential."""
    if not isinstance(answer, dict) or answer.get("kdf") not in KDFS:
        return None
    try:
        iterations = int(answer.get("iterations"))
        memory = int(answer["memory"]) if answer.get("memory") is not None else None
    except (TypeError, ValueError):
        return None
    if iterations < 1 or (answer["kdf"] == "argon2id-13" and not memory):
        return None
    keys = (_unhex(answer.get("stored-key"), 32), _unhex(answer.get("server-key"), 32))
    if not (_unhex(answer.get("salt")) and all(keys)):
        return None
    realm = answer.get("realm")
    return ScramPrincipal(kdf=answer["kdf"], iterations=iterations, memory=memory, salt=answer["salt"],
                          stored_key=answer["stored-key"], server_key=answer["server-key"],
                          role=str(answer.get("role") or "anonymous"), realm=realm if isinstance(realm, str) else None)


def _decoy_key(settings: Any) -> bytes:
    """A key known to no client, the same in every process while the principals stay the same."""
    entry = _DECOY_SECRETS.get(id(settings))
    if entry is None or entry[0] is not settings:
        digest = hashlib.sha256(b"wampnode scram decoy\0")
        for authid, p in sorted(getattr(settings, "principals", {}).items()):
            digest.update(f"{authid}\0{p.stored_key}\0{p.server_key}\0{p.salt}\0".encode("utf8"))
        if len(_DECOY_SECRETS) >= 64:  # one per configured scram method; tests make many
            _DECOY_SECRETS.clear()
        entry = _DECOY_SECRETS[id(settings)] = (settings, digest.digest())
    return entry[1]


def decoy(settings: Any, authid: str) -> ScramPrincipal:
    """What an unknown authid is shown: a configured principal's KDF parameters (picked by
    the authid), a salt of its length that is the same for every attempt of this authid."""
    key = _decoy_key(settings)
    mac = lambda label: hmac.new(key, label + authid.encode("utf8"), hashlib.sha256).digest()  # noqa: E731
    principals = getattr(settings, "principals", None) if isinstance(settings, ScramSettings) else None
    if principals:
        names = sorted(principals)
        template = principals[names[int.from_bytes(mac(b"pick\0")[:8], "big") % len(names)]]
    else:
        template = _DEFAULT_DECOY
    length = len(template.salt) // 2
    salt = b""
    while len(salt) < length:
        salt += mac(b"salt\0" + len(salt).to_bytes(4, "big"))
    return ScramPrincipal(kdf=template.kdf, iterations=template.iterations, memory=template.memory,
                          salt=salt[:length].hex(), stored_key="", server_key="", role="anonymous", realm=None)


class ScramAuth:
    """HELLO (authid, nonce) -> CHALLENGE (nonce, kdf, salt, iterations[, memory]) -> AUTHENTICATE (proof)."""

    method = "scram"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config
        self._authid: Optional[str] = None
        self._client_nonce = ""
        self._server_nonce = ""
        self._principal: Optional[ScramPrincipal] = None  # None: a decoy was sent
        self._challenge: Optional[Challenge] = None
        self._provider = "static"

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        authextra = hello.authextra if isinstance(hello.authextra, dict) else {}
        if not isinstance(hello.authid, str) or not hello.authid:
            return Deny(NOT_AUTHORIZED, "scram: HELLO must carry an authid")
        self._authid = hello.authid
        try:
            client_nonce = base64.b64decode(authextra.get("nonce"), validate=True)
            saslprep(hello.authid)
        except (TypeError, ValueError, binascii.Error):
            return Deny(NOT_AUTHORIZED,
                        "scram: HELLO.Details.authextra.nonce must be base64, the authid valid SASLprep")
        if not client_nonce:
            return Deny(NOT_AUTHORIZED, "scram: HELLO.Details.authextra.nonce must not be empty")
        self._client_nonce = base64.b64encode(client_nonce).decode("ascii")
        self._server_nonce = base64.b64encode(client_nonce + os.urandom(16)).decode("ascii")
        if self.config.type == "dynamic":
            self._provider = "dynamic"
            d = ask(self.config.settings, ctx, hello.authid, details(ctx, hello, self.method))
            d.addCallbacks(lambda answer: self._challenge_for(principal_from_answer(answer)), refused(self.method))
            return d
        return self._challenge_for(self.config.settings.principals.get(hello.authid))

    def _challenge_for(self, principal: Optional[ScramPrincipal]) -> Challenge:
        self._principal = principal
        shown = principal if principal is not None else decoy(self.config.settings, self._authid)
        extra: Dict[str, Any] = {
            "nonce": self._server_nonce, "kdf": shown.kdf, "iterations": shown.iterations,
            "salt": base64.b64encode(binascii.a2b_hex(shown.salt)).decode("ascii"),
        }
        if shown.kdf == "argon2id-13":
            extra["memory"] = shown.memory
        self._challenge = Challenge(self.method, extra)
        return self._challenge

    def authenticate(self, msg: Authenticate) -> Any:
        principal, challenge = self._principal, self._challenge
        if challenge is None:
            return failed(self.method, self._authid)
        extra = challenge.extra
        message = (f"n={saslprep(self._authid)},r={self._client_nonce},"
                   f"r={self._server_nonce},s={extra['salt']},i={extra['iterations']},"
                   f"c=,r={self._server_nonce}").encode("utf8")
        try:
            proof = base64.b64decode(msg.signature, validate=True) if isinstance(msg.signature, str) else b""
        except (binascii.Error, ValueError):
            proof = b""
        # the same work for a decoy (a key nobody holds) as for a principal
        stored_key = _unhex(principal.stored_key, 32) if principal is not None else _decoy_key(self.config.settings)
        signature = hmac.new(stored_key, message, hashlib.sha256).digest()
        client_key = bytes(a ^ b for a, b in zip(signature, proof)) if len(proof) == 32 else b""
        same = hmac.compare_digest(hashlib.sha256(client_key).digest(), stored_key)
        if principal is None or not same:
            return failed(self.method, self._authid)
        server_signature = hmac.new(_unhex(principal.server_key, 32), message, hashlib.sha256).digest()
        return Accept(self._authid, principal.role or "anonymous", self.method, self._provider,
                      {"scram_server_signature": base64.b64encode(server_signature).decode("ascii")},
                      principal.realm or None)
