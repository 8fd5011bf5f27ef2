"""``cryptosign``: the client proves it holds an Ed25519 private key.

The router sends 32 random bytes; the client signs them (XORed with the TLS
``tls-unique`` channel ID when ``channel_binding`` is requested) and answers with
the hex signature, optionally followed by the signed 32 bytes as autobahn does.
The public key comes in ``HELLO.Details.authextra.pubkey`` (hex) and must be one
of the principal's ``authorized_keys``.
"""
from __future__ import annotations

import binascii
import secrets
from typing import Any, Optional

from autobahn.wamp.message import Authenticate, Hello
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from node.config.model import AuthMethod
from node.router.auth.base import (
    AUTHENTICATION_FAILED, NO_SUCH_PRINCIPAL, NOT_AUTHORIZED, Accept, Challenge, Deny, HelloContext,
)
from node.router.auth.dynamic import ask, details, refused


def _hex_key(value: object) -> Optional[bytes]:
    try:
        raw = binascii.a2b_hex(value) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b))


class CryptosignAuth:
    """HELLO carries the public key; CHALLENGE 32 random bytes; AUTHENTICATE their signature."""

    method = "cryptosign"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config
        self._pubkey: Optional[bytes] = None
        self._challenge = b""
        self._binding: Optional[bytes] = None
        self._accept: Optional[Accept] = None

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        authextra = hello.authextra if isinstance(hello.authextra, dict) else {}
        pubkey = _hex_key(authextra.get("pubkey"))
        if pubkey is None:
            return Deny(NOT_AUTHORIZED, "cryptosign: HELLO.Details.authextra.pubkey must be a hex Ed25519 public key")
        binding = authextra.get("channel_binding")
        if binding is not None:
            if binding != "tls-unique" or not ctx.channel_id:
                return Deny(NOT_AUTHORIZED, f"cryptosign: channel binding {binding!r} is not available here")
            self._binding = ctx.channel_id
        self._pubkey = pubkey
        if self.config.type == "dynamic":
            d = ask(self.config.settings, ctx, hello.authid, details(ctx, hello, self.method))
            d.addCallbacks(lambda answer: self._from_dynamic(hello, answer), refused(self.method))
            return d
        return self._from_static(hello, ctx)

    def _from_static(self, hello: Hello, ctx: HelloContext) -> Any:
        hexkey = self._pubkey.hex()
        principals = self.config.settings.principals
        candidates = [(hello.authid, principals.get(hello.authid))] if hello.authid else list(principals.items())
        for authid, principal in candidates:
            if principal is None:
                continue
            keys = [k.lower() for k in principal.authorized_keys]
            realm = principal.realm
            if hexkey in keys and (not realm or not ctx.realm or realm == ctx.realm):
                self._accept = Accept(authid, principal.role or "anonymous", self.method, "static",
                                      {"pubkey": hexkey}, realm or None)
                return self._make_challenge()
        return Deny(NO_SUCH_PRINCIPAL, f"cryptosign: no principal with public key {hexkey}")

    def _from_dynamic(self, hello: Hello, answer: Any) -> Any:
        if isinstance(answer, Deny):
            return answer
        if not isinstance(answer, dict) or not isinstance(answer.get("role"), str):
            return Deny(NOT_AUTHORIZED, "cryptosign: the authenticator refused the principal")
        if answer.get("pubkey") and _hex_key(answer.get("pubkey")) != self._pubkey:
            return Deny(NOT_AUTHORIZED, "cryptosign: the authenticator returned another public key")
        authid = answer.get("authid") if isinstance(answer.get("authid"), str) else hello.authid
        realm = answer.get("realm") if isinstance(answer.get("realm"), str) else None
        self._accept = Accept(authid or self._pubkey.hex(), answer["role"], self.method, "dynamic",
                              {"pubkey": self._pubkey.hex()}, realm)
        return self._make_challenge()

    def _make_challenge(self) -> Challenge:
        self._challenge = secrets.token_bytes(32)
        extra = {"challenge": self._challenge.hex()}
        if self._binding is not None:
            extra["channel_binding"] = "tls-unique"
        return Challenge(self.method, extra)

    def authenticate(self, msg: Authenticate) -> Any:
        if self._accept is None or self._pubkey is None:
            return Deny(AUTHENTICATION_FAILED, "cryptosign: no challenge was sent")
        signed = self._challenge if self._binding is None else xor(self._challenge, self._binding)
        try:
            raw = binascii.a2b_hex(msg.signature) if isinstance(msg.signature, str) else b""
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 96 and raw[64:] == signed:
            raw = raw[:64]
        if len(raw) != 64:
            return Deny(AUTHENTICATION_FAILED, "cryptosign: the signature must be 64 bytes (hex)")
        try:
            Ed25519PublicKey.from_public_bytes(self._pubkey).verify(raw, signed)
        except InvalidSignature:
            return Deny(AUTHENTICATION_FAILED, f"cryptosign: invalid signature for '{self._accept.authid}'")
        return self._accept
