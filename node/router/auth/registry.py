"""Which authenticator serves a method, and which offered method a HELLO gets."""
from __future__ import annotations

import functools
from typing import Callable, Dict, Optional, Tuple

from autobahn.wamp.message import Hello

from node.config.fragments import auth_method
from node.config.model import AuthMethod
from node.router.auth.anonymous import AnonymousAuth
from node.router.auth.base import Authenticator
from node.router.auth.cookie import CookieAuth
from node.router.auth.cryptosign import CryptosignAuth
from node.router.auth.proxy import AnonymousProxyAuth, CryptosignProxyAuth
from node.router.auth.scram import ScramAuth
from node.router.auth.ticket import TicketAuth
from node.router.auth.tls import TlsAuth
from node.router.auth.wampcra import WampCraAuth

AUTHENTICATORS: Dict[str, Callable[[AuthMethod], Authenticator]] = {
    "anonymous": AnonymousAuth, "ticket": TicketAuth, "wampcra": WampCraAuth,
    "cryptosign": CryptosignAuth, "tls": TlsAuth, "cookie": CookieAuth, "scram": ScramAuth,
    "anonymous-proxy": AnonymousProxyAuth, "cryptosign-proxy": CryptosignProxyAuth,
}


def make_authenticator(config: AuthMethod) -> Optional[Authenticator]:
    """A fresh authenticator for one session attempt, or None for unknown methods."""
    kind = AUTHENTICATORS.get(config.method)
    return kind(config) if kind is not None else None


@functools.lru_cache(maxsize=1)
def _open_door() -> AuthMethod:
    """What a transport without ``auth`` offers: static anonymous, the schema's default role."""
    return auth_method("anonymous", "static")


def choose_method(offered: Tuple[AuthMethod, ...], hello: Hello, has_client_cert: bool,
                  has_cookie_login: bool = False) -> Optional[AuthMethod]:
    """The first method in the client's ``authmethods`` order that the transport offers.

    No transport ``auth`` at all means anonymous is allowed (role ``anonymous``).
    A client that lists no methods is treated as asking for ``anonymous``; ``tls``
    is used only when a client certificate was presented. ``cookie`` is used first
    whenever the client lists it and its cookie is bound to a login (as Crossbar.io
    does); without one it is skipped, unless no other listed method is offered.
    """
    if not offered:
        return _open_door()
    wanted = [m for m in (hello.authmethods or ["anonymous"]) if isinstance(m, str)]
    by_name = {m.method: m for m in offered}
    if "cookie" in wanted and "cookie" in by_name and has_cookie_login:
        return by_name["cookie"]
    for name in wanted:
        if (name == "tls" and not has_client_cert) or name == "cookie":
            continue
        if name in by_name:
            return by_name[name]
    return by_name.get("cookie") if "cookie" in wanted else None
