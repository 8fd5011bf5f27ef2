"""``anonymous``: no credentials; the session joins with the configured role."""
from __future__ import annotations

from typing import Any

from autobahn.wamp.message import Authenticate, Hello

from node.config.model import AnonymousSettings, AuthMethod
from node.router.auth.base import PROTOCOL_VIOLATION, Accept, Deny, HelloContext, random_authid
from node.router.auth.dynamic import ask_for_principal


class AnonymousAuth:
    """``anonymous``: joins with the configured role (default ``anonymous``) and the
    configured ``authid``, else the connection's tracking cookie value, else a random
    one, as Crossbar.io does.

    The authid a client names in HELLO is never used: an anonymous client must not
    pass for a principal of another method (``eligible_authid``, ``exclude_authid``,
    ``wamp.session.kill_by_authid``, disclosed caller and publisher details).
    """

    method = "anonymous"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        settings = self.config.settings
        configured = settings.authid if isinstance(settings, AnonymousSettings) else None
        authid = configured or ctx.cbtid or random_authid()  # cookie tracking: the cookie, as Crossbar.io
        if self.config.type == "dynamic":  # the authenticator may name another authid in its answer
            return ask_for_principal(settings, ctx, hello, authid, self.method)
        return Accept(authid, settings.role or "anonymous", self.method, "static")

    def authenticate(self, msg: Authenticate) -> Any:
        return Deny(PROTOCOL_VIOLATION, "anonymous authentication sends no AUTHENTICATE")
