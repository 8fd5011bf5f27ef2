"""``ticket``: the client sends a shared secret (use it over TLS only)."""
from __future__ import annotations

import hmac
from typing import Any, Optional

from autobahn.wamp.message import Authenticate, Hello

from node.config.model import AuthMethod
from node.router.auth.base import Accept, Challenge, HelloContext, failed, resolve_secret
from node.router.auth.dynamic import ask_for_principal


class TicketAuth:
    """HELLO names the principal (authid); CHALLENGE asks for the ticket; AUTHENTICATE
    carries it and is compared in constant time (or handed to the dynamic authenticator).

    An unknown authid gets the same CHALLENGE and then the same refusal as a wrong
    ticket, so the answers do not tell which principals exist.
    """

    method = "ticket"

    def __init__(self, config: AuthMethod) -> None:
        self.config = config
        self._hello: Optional[Hello] = None
        self._ctx: Optional[HelloContext] = None

    def hello(self, hello: Hello, ctx: HelloContext) -> Any:
        self._hello, self._ctx = hello, ctx
        return Challenge(self.method, {})

    def authenticate(self, msg: Authenticate) -> Any:
        hello, ctx = self._hello, self._ctx
        ticket = msg.signature if isinstance(msg.signature, str) else ""
        if self.config.type == "dynamic":
            return ask_for_principal(self.config.settings, ctx, hello, hello.authid, self.method, ticket=ticket)
        authid = hello.authid if isinstance(hello.authid, str) else None
        principal = self.config.settings.principals.get(authid) if authid else None
        expected = resolve_secret(principal.ticket if principal is not None else None)
        # compared even for an unknown principal, so both take the same time
        same = hmac.compare_digest((expected or "\0").encode("utf8"), ticket.encode("utf8"))
        if principal is None or not expected or not same:
            return failed(self.method, authid)
        return Accept(authid, principal.role or "anonymous", self.method, "static", realm=principal.realm or None)
