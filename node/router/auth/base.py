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


class Authenticator(Protocol):
    """One session's attempt with one method; the registry makes it as ``kind(auth_method)``.

    Both calls return an :data:`Answer`, or a Deferred firing with one (dynamic methods).
    """

    method: str

    def hello(self, hello: Hello, ctx: HelloContext) -> Any: ...

    def authenticate(self, msg: Authenticate) -> Any: ...


def resolve_secret(value: object) -> str:
    """A secret from the config: ``"${NAME}"`` / ``"$NAME"`` read from the environment
    if the loader did not already substitute it."""
    text = value if isinstance(value, str) else ""
    m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", text)
    if m and m.group(1) in os.environ:
        return os.environ[m.group(1)]
    return text


def random_authid() -> str:
    """Crossbar-style generated authid for anonymous sessions, e.g. ``X7K3-9QPA-...``."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # 32 symbols: a byte mod 32 is unbiased
    raw = "".join([alphabet[b % 32] for b in random_bytes(24)])
    return "-".join(raw[i:i + 4] for i in range(0, 24, 4))
