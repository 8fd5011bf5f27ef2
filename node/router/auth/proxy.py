"""``anonymous-proxy`` and ``cryptosign-proxy``: a proxy worker speaks for a client it authenticated.

A proxy worker (:mod:`node.workers.proxy`) authenticates each client itself, then opens a
session to the router for it. Its HELLO carries the client's identity in
``Details.authextra``, with Crossbar.io's keys: ``proxy_realm``, ``proxy_authid``,
``proxy_authrole`` (required), ``proxy_authmethod``, ``proxy_authprovider`` and
``proxy_authextra`` (the client's authextra, with ``transport``: its connection's details).

- ``anonymous-proxy`` trusts the peer (the config allows it only on a Unix socket).
- ``cryptosign-proxy`` first has the proxy prove its Ed25519 key, as ``cryptosign`` does
  (a principal whose ``authorized_keys`` hold ``authextra.pubkey``; its ``realm``, if set,
  must be the realm joined). The principal's own authid and role are not used.

Either way the session joins with the forwarded realm, authid, role and authextra (the
realm's roles still decide: a role the realm lacks is refused when the session joins).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Union

from autobahn.wamp.message import Authenticate, Hello

from node.config.model import AuthMethod
from node.router.auth.base import NOT_AUTHORIZED, PROTOCOL_VIOLATION, Accept, Deny, HelloContext
from node.router.auth.cryptosign import CryptosignAuth

REQUIRED = ("proxy_realm", "proxy_authid", "proxy_authrole")


def forwarded(hello: Hello, method: str) -> Union[Accept, Deny]:
    """The identity the proxy forwards in ``hello``, as the session's, or why it cannot be."""
    extra = hello.authextra if isinstance(hello.authextra, dict) else {}
    for key in REQUIRED:
        if not isinstance(extra.get(key), str) or not extra[key]:
            return Deny(NOT_AUTHORIZED, f"{method}: HELLO.Details.authextra.{key} must be a non-empty string")
    if hello.realm is not None and hello.realm != extra["proxy_realm"]:
        return Deny(NOT_AUTHORIZED, f"{method}: authextra.proxy_realm {extra['proxy_realm']!r} is not the realm "
                                    f"joined ({hello.realm!r})")
    client_extra = extra.get("proxy_authextra")
    provider = extra.get("proxy_authprovider")
    return Accept(extra["proxy_authid"], extra["proxy_authrole"], method,
                  provider if isinstance(provider, str) and provider else "static",
                  client_extra if isinstance(client_extra, dict) else None, extra["proxy_realm"])


class AnonymousProxyAuth:
    """``anonymous-proxy``: the forwarded identity, at once."""

    method = "anonymous-proxy"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        return forwarded(hello, self.method)

    def authenticate(self, msg: Authenticate) -> Any:
        return Deny(PROTOCOL_VIOLATION, "anonymous-proxy authentication sends no AUTHENTICATE")


class CryptosignProxyAuth(CryptosignAuth):
    """``cryptosign-proxy``: the proxy's key as ``cryptosign`` checks it, then the forwarded identity."""

    method = "cryptosign-proxy"

    def __init__(self, config: AuthMethod) -> None:
        super().__init__(config)
        self._forwarded: Optional[Accept] = None

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        identity = forwarded(hello, self.method)
        if isinstance(identity, Deny):
            return identity
        self._forwarded = identity
        if self.config.type == "static" and hello.authid is not None \
                and hello.authid not in self.config.settings.principals:
            # Crossbar.io's proxy names its node id; a principal with its key may be named otherwise
            hello = _without_authid(hello)
        return super().hello(hello, ctx)

    def authenticate(self, msg: Authenticate) -> Any:
        answer = super().authenticate(msg)
        if isinstance(answer, Accept) and self._forwarded is not None:
            return self._forwarded
        return answer


def _without_authid(hello: Hello) -> Hello:
    """A copy of ``hello`` naming no authid (the principal is then found by its key)."""
    extra: Dict[str, Any] = dict(hello.authextra) if isinstance(hello.authextra, dict) else {}
    return Hello(hello.realm, hello.roles, authmethods=hello.authmethods, authid=None,
                 authrole=hello.authrole, authextra=extra)
