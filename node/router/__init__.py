"""The WAMP router: realms, sessions, broker, dealer, authorization, authentication.

Routing (broker, dealer, matching, authorization) is plain objects returning
decisions; sessions and realms deliver them. See :class:`node.router.router.Router`.
"""
from __future__ import annotations

from node.router.router import Router

__all__ = ["Router"]
