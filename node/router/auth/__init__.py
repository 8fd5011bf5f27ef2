"""Authentication: one module per method, chosen by name in :mod:`.registry`.

:mod:`.base` holds what they share (answers, context, error URIs) and
:mod:`.dynamic` the call to a dynamic ``authenticator`` procedure.
"""
from __future__ import annotations

from node.router.auth.base import (
    NO_AUTH_METHOD, Accept, Answer, Authenticator, Challenge, Deny, HelloContext,
)
from node.router.auth.registry import AUTHENTICATORS, choose_method, make_authenticator

__all__ = ["AUTHENTICATORS", "NO_AUTH_METHOD", "Accept", "Answer", "Authenticator", "Challenge", "Deny",
           "HelloContext", "choose_method", "make_authenticator"]
