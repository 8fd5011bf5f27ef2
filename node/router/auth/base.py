"""What every authentication method shares: its answers, its context, the error URIs.

Who is this peer? The HELLO -> (CHALLENGE -> AUTHENTICATE) -> WELCOME|ABORT step.
Each method is a small class made per session attempt (see :class:`Authenticator`):
``hello(hello, context)`` answers with :class:`Accept`, :class:`Deny` or
:class:`Challenge`; after a challenge ``authenticate(msg)`` answers with
:class:`Accept` or :class:`Deny`. Static methods answer at once. ``dynamic``
methods ask a WAMP procedure (the configured ``authenticator``, see
:mod:`node.router.auth.dynamic`), so they answer with a Deferred firing with one
of those; that is the only asynchronous part.

Method settings are the typed objects of :mod:`node.config.model` (``AuthMethod``).
Secrets are compared in constant time and never logged.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Protocol, Union

from autobahn.wamp.message import Authenticate, Hello

from node.router.ids import random_bytes

# autobahn.util.DEFAULT_TOKEN_CHARS: no 0/O, 1/I, 2/Z, 8/B look-alikes
_SERIAL_SYMBOLS = "345679ACEFGHJKLMNPQRSTUVWXY"

NO_AUTH_METHOD = "wamp.error.no_auth_method"
NOT_AUTHORIZED = "wamp.error.not_authorized"
AUTHENTICATION_FAILED = "wamp.error.authentication_failed"
NO_SUCH_PRINCIPAL = "wamp.error.no_such_principal"
PROTOCOL_VIOLATION = "wamp.error.protocol_violation"


@dataclass
class Accept:
    """Authentication succeeded: the session joins with this identity."""

    authid: str
    authrole: str
    authmethod: str
    authprovider: str = "static"
    authextra: Optional[Dict[str, Any]] = None
    realm: Optional[str] = None  # a static principal's realm, or where a dynamic authenticator moves it


@dataclass
class Deny:
    """Authentication failed: ABORT with ``reason`` and ``message``."""

    reason: str
    message: str


@dataclass
class Challenge:
    """Send CHALLENGE(method, extra) and wait for AUTHENTICATE."""

    method: str
    extra: Dict[str, Any] = field(default_factory=dict)


Answer = Union[Accept, Deny, Challenge]


@dataclass
class HelloContext:
    """What an authenticator may use besides the HELLO itself."""

    realm: str
    session_id: int
    transport: Dict[str, Any]  # TransportDetails.marshal()
    channel_id: Optional[bytes] = None  # tls-unique channel binding, if TLS
    peer_cert: Optional[Dict[str, Any]] = None  # autobahn's peer certificate details
    # call(realm, procedure, args) -> Deferred[Result]; provided by the router
    call: Optional[Callable[[str, str, list], Any]] = None
    cbtid: Optional[str] = None  # the connection's tracking cookie (cookie tracking on)
    cookie_login: Any = None  # the CookieLogin bound to that cookie, if any (node.router.cookie_store)


class Authenticator(Protocol):
    """One session's attempt with one method; the registry makes it as ``kind(auth_method)``.

    Both calls return an :data:`Answer`, or a Deferred firing with one (dynamic methods).
    """

    method: str

    def hello(self, hello: Hello, ctx: HelloContext) -> Any: ...

    def authenticate(self, msg: Authenticate) -> Any: ...


def failed(method: str, authid: object) -> Deny:
    """The one answer to a wrong secret, a wrong signature and an unknown principal alike,
    so that the answer does not tell which principals exist (as Crossbar.io's refusal of a
    wrong secret: ``wamp.error.not_authorized``)."""
    who = f" for '{authid}'" if isinstance(authid, str) and authid else ""
    return Deny(NOT_AUTHORIZED, f"{method}: authentication failed{who}")


def resolve_secret(value: object) -> str:
    """A secret from the config: ``"${NAME}"`` / ``"$NAME"`` read from the environment
    if the loader did not already substitute it."""
    text = value if isinstance(value, str) else ""
    m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", text)
    if m and m.group(1) in os.environ:
        return os.environ[m.group(1)]
    return text


def random_authid() -> str:
    """An authid for an anonymous session, as Crossbar.io makes it (autobahn's
    ``generate_serial_number``): six groups of four symbols of its alphabet, e.g.
    ``YRAC-EL4X-FQQE-AW4T-WNUV-VN6T``, over 110 bits of entropy."""
    symbols: list = []
    while len(symbols) < 24:  # a byte below 243 = 9 * 27, mod 27, is unbiased
        symbols += [_SERIAL_SYMBOLS[b % 27] for b in random_bytes(32) if b < 243]
    raw = "".join(symbols[:24])
    return "-".join(raw[i:i + 4] for i in range(0, 24, 4))
