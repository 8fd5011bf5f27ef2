"""``anonymous``: no credentials; the session joins with the configured role."""
from __future__ import annotations

from typing import Any

from autobahn.wamp.message import Authenticate, Hello

from node.config.model import AuthMethod
from node.router.auth.base import PROTOCOL_VIOLATION, Accept, Deny, HelloContext, random_authid
from node.router.auth.dynamic import ask_for_principal


class AnonymousAuth:
    """``anonymous``: joins with the configured role (default ``anonymous``); the
    authid is the one the client asked for, or a generated one."""

    method = "anonymous"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        authid = hello.authid if isinstance(hello.authid, str) and hello.authid else random_authid()
        if self.config.type == "dynamic":
            return ask_for_principal(self.config.settings, ctx, hello, authid, self.method)
        return Accept(authid, self.config.settings.role or "anonymous", self.method, "static")

    def authenticate(self, msg: Authenticate) -> Any:
        return Deny(PROTOCOL_VIOLATION, "anonymous authentication sends no AUTHENTICATE")
