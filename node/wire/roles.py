"""HELLO role announcements, kept compact: what a session keeps of ``HELLO.Details.roles``.

Sessions of one client library announce the same features; the wire layer caches
parsed HELLOs, and this module shares their compact forms so that an idle session
keeps a few hundred bytes of roles instead of about 2 KiB.
"""
from __future__ import annotations

from typing import Dict, Optional

_SHARED_FEATURES: Dict[tuple, Dict[str, object]] = {}
_SHARED_LIMIT = 1024
_COMPACT_OF: Dict[int, tuple] = {}  # id(roles) -> (roles, their compact form)


def compact_roles(roles: Optional[Dict[str, object]]) -> Dict[str, Dict[str, object]]:
    """HELLO.Details.roles as ``{role: {feature: value}}`` with only the features that
    are set: what :meth:`Peer.supports` reads, without autobahn's feature objects.

    Sessions of the same client library announce the same features, so identical
    feature maps are one shared dict (read-only: nothing may modify them). An idle
    session then keeps a few hundred bytes of roles instead of about 2 KiB.
    """
    memo = _COMPACT_OF.get(id(roles))
    if memo is not None and memo[0] is roles:  # roles shared by many HELLOs: see share_compact_roles
        return memo[1]
    compact: Dict[str, Dict[str, object]] = {}
    for role, features in (roles or {}).items():
        feature_map = getattr(features, "__dict__", features) or {}
        if isinstance(feature_map, dict) and "features" in feature_map:
            feature_map = feature_map["features"] or {}
        kept = {}
        if isinstance(feature_map, dict):
            kept = {k: v for k, v in feature_map.items() if isinstance(k, str) and v}
        compact[role] = _shared(kept)
    return compact


def share_compact_roles(roles: Dict[str, object]) -> None:
    """Remember the compact form of a roles object that many HELLOs will share
    (node.wire.messages's cached ones), so :func:`compact_roles` of it is a lookup."""
    if len(_COMPACT_OF) >= _SHARED_LIMIT:
        _COMPACT_OF.clear()
    _COMPACT_OF[id(roles)] = (roles, compact_roles(roles))  # holds ``roles``: its id is not reused meanwhile


def _shared(features: Dict[str, object]) -> Dict[str, object]:
    try:
        key = tuple(sorted(features.items()))
        hash(key)
    except TypeError:  # unhashable feature values (never from autobahn): keep a private copy
        return features
    shared = _SHARED_FEATURES.get(key)
    if shared is None:
        if len(_SHARED_FEATURES) >= _SHARED_LIMIT:
            _SHARED_FEATURES.clear()
        shared = _SHARED_FEATURES[key] = features
    return shared
