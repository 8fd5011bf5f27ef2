"""HELLO role announcements, kept compact: what a session keeps of ``HELLO.Details.roles``.

Sessions of one client library announce the same features. Two bounded caches
share that work between sessions:

- :data:`ANNOUNCEMENTS` keeps parsed announcements by their JSON text, so that the
  next HELLO with the same roles skips autobahn's role parsing, and their compact
  forms. It is filled only for sessions that joined (a client must not be able to
  fill it with HELLOs that never get anywhere, e.g. to a realm that does not exist)
  and is bounded in bytes of announcement text.
- identical feature maps are one shared dict, so that an idle session keeps a few
  hundred bytes of roles instead of about 2 KiB.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

ANNOUNCEMENT_BYTES = 256 * 1024
"""Announcement text (JSON) the cache keeps in all: a real one is about 1 KiB
(autobahn-python's is 903 octets), so some two hundred client kinds fit."""
ANNOUNCEMENT_MAX = 8 * 1024
"""Longer announcements are never cached: no client library sends one, and
parsing it again costs little next to receiving it."""

_SHARED_FEATURES: Dict[tuple, Dict[str, object]] = {}
_SHARED_LIMIT = 256
_SHARED_NAMES_MAX = 2048  # feature names (octets) of one shared map; bigger ones stay private


class AnnouncementCache:
    """Parsed role announcements by their JSON text, oldest dropped first past ``max_bytes``.

    Each entry counts the length of its JSON text (ASCII: ``json.dumps`` escapes the
    rest); the parsed objects are a few times that. Nothing may modify a cached
    roles object or its compact form: many sessions share them.
    """

    def __init__(self, max_bytes: int = ANNOUNCEMENT_BYTES, max_entry: int = ANNOUNCEMENT_MAX) -> None:
        self.max_bytes = max_bytes
        self.max_entry = max_entry
        self.bytes = 0
        self._roles: Dict[str, Any] = {}  # JSON text -> parsed roles (insertion order: oldest first)
        self._compact: Dict[int, tuple] = {}  # id(roles) -> (roles, compact form), for cached roles only

    def __len__(self) -> int:
        return len(self._roles)

    def get(self, key: str) -> Any:
        """The parsed roles announced as ``key``, or None."""
        return self._roles.get(key)

    def remember(self, key: str, roles: Any) -> None:
        """Keep ``roles`` (parsed from the JSON text ``key``) for the next HELLO announcing them."""
        size = len(key)
        if key in self._roles or size > self.max_entry or size > self.max_bytes:
            return
        while self._roles and self.bytes + size > self.max_bytes:
            oldest = next(iter(self._roles))
            dropped = self._roles.pop(oldest)
            self._compact.pop(id(dropped), None)
            self.bytes -= len(oldest)
        self._roles[key] = roles
        self._compact[id(roles)] = (roles, compact_roles(roles))  # holds ``roles``: its id is not reused meanwhile
        self.bytes += size

    def compact_of(self, roles: Any) -> Optional[Dict[str, Dict[str, object]]]:
        memo = self._compact.get(id(roles))
        return memo[1] if memo is not None and memo[0] is roles else None

    def clear(self) -> None:
        self._roles.clear()
        self._compact.clear()
        self.bytes = 0


ANNOUNCEMENTS = AnnouncementCache()


def compact_roles(roles: Optional[Dict[str, object]]) -> Dict[str, Dict[str, object]]:
    """HELLO.Details.roles as ``{role: {feature: value}}`` with only the features that
    are set: what :meth:`Peer.supports` reads, without autobahn's feature objects.

    Sessions of the same client library announce the same features, so identical
    feature maps are one shared dict (read-only: nothing may modify them). An idle
    session then keeps a few hundred bytes of roles instead of about 2 KiB.
    """
    memo = ANNOUNCEMENTS.compact_of(roles)
    if memo is not None:  # roles shared by many HELLOs (a cached announcement)
        return memo
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


def _shared(features: Dict[str, object]) -> Dict[str, object]:
    """The shared dict equal to ``features``, for maps of flags (what clients announce);
    any other map (values that are not booleans, long names) stays a private copy."""
    if (any(type(v) is not bool for v in features.values())
            or sum(len(k) for k in features) > _SHARED_NAMES_MAX):
        return features
    key = tuple(sorted(features.items()))
    shared = _SHARED_FEATURES.get(key)
    if shared is None:
        if len(_SHARED_FEATURES) >= _SHARED_LIMIT:
            _SHARED_FEATURES.clear()
        shared = _SHARED_FEATURES[key] = features
    return shared
