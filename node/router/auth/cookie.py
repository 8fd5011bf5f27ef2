"""``cookie``: the connection's tracking cookie was bound to a login; join as that principal.

The binding is made by the router session when a session on a cookie-tracked
connection joins by another method (:mod:`node.router.cookie_store`). The WELCOME
carries the method of that first login and ``authprovider: "cookie"``, as Crossbar.io
answers. A cookie bound in another realm does not count here (the client's other
methods are tried instead); a client that asks for ``cookie`` alone without a bound
cookie is refused like a wrong secret (logged, slowed down).
"""
from __future__ import annotations

from typing import Any, Optional

from autobahn.wamp.message import Authenticate, Hello

from node.config.model import AuthMethod
from node.router.auth.base import PROTOCOL_VIOLATION, Accept, Deny, HelloContext, failed


def usable_login(ctx_login: Any, realm: Optional[str]) -> bool:
    """Whether a cookie's login may serve a HELLO for ``realm``."""
    return ctx_login is not None and (not ctx_login.realm or not realm or ctx_login.realm == realm)


class CookieAuth:
    """No CHALLENGE: the login bound to the cookie, or a refusal."""

    method = "cookie"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        login = ctx.cookie_login
        if not usable_login(login, hello.realm):
            return failed(self.method, hello.authid)
        return Accept(login.authid, login.authrole, login.authmethod, "cookie", login.authextra, login.realm)

    def authenticate(self, msg: Authenticate) -> Any:
        return Deny(PROTOCOL_VIOLATION, "cookie authentication sends no AUTHENTICATE")
