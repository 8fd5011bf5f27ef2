"""``ticket``: the client sends a shared secret (use it over TLS only)."""
from __future__ import annotations

import hmac
from typing import Any, Optional

from autobahn.wamp.message import Authenticate, Hello

from node.config.model import AuthMethod
from node.router.auth.base import (
    AUTHENTICATION_FAILED, NO_SUCH_PRINCIPAL, Accept, Challenge, Deny, HelloContext, resolve_secret,
)
from node.router.auth.dynamic import ask_for_principal


class TicketAuth:
    """HELLO names the principal (authid); CHALLENGE asks for the ticket; AUTHENTICATE
    carries it and is compared in constant time (or handed to the dynamic authenticator)."""

    method = "ticket"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config
        self._hello: Optional[Hello] = None
        self._ctx: Optional[HelloContext] = None

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        self._hello, self._ctx = hello, ctx
        if self.config.type != "dynamic":
            if not hello.authid or hello.authid not in self.config.settings.principals:
                return Deny(NO_SUCH_PRINCIPAL, f"ticket: no principal '{hello.authid}'")
        return Challenge(self.method, {})

    def authenticate(self, msg: Authenticate) -> Any:
        hello, ctx = self._hello, self._ctx
        ticket = msg.signature if isinstance(msg.signature, str) else ""
        if self.config.type == "dynamic":
            return ask_for_principal(self.config.settings, ctx, hello, hello.authid, self.method, ticket=ticket)
        principal = self.config.settings.principals.get(hello.authid)
        expected = resolve_secret(principal.ticket if principal is not None else None)
        if not expected or not hmac.compare_digest(expected.encode("utf8"), ticket.encode("utf8")):
            return Deny(AUTHENTICATION_FAILED, f"ticket: invalid ticket for '{hello.authid}'")
        return Accept(hello.authid, principal.role or "anonymous", self.method, "static",
                      realm=principal.realm or None)
