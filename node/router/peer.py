"""Who a session is, as routing sees it: plain data, no transport.

Broker, dealer, authorization and the meta API receive a :class:`Peer` instead
of a session object, so routing decisions never touch a connection.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional


@dataclass
class Peer:
    """The identity and announced features of one joined session."""

    session_id: int
    realm: str
    authid: str
    authrole: str
    authmethod: str = "anonymous"
    authprovider: str = "static"
    authextra: Optional[Dict[str, object]] = None
    roles: Dict[str, object] = field(default_factory=dict)  # HELLO.Details.roles
    transport: Dict[str, object] = field(default_factory=dict)  # TransportDetails.marshal()

    def details(self) -> Dict[str, object]:
        """The session details of ``wamp.session.get`` and ``wamp.session.on_join``."""
        return {
            "session": self.session_id,
            "realm": self.realm,
            "authid": self.authid,
            "authrole": self.authrole,
            "authmethod": self.authmethod,
            "authprovider": self.authprovider,
            "authextra": self.authextra or {},
            "transport": self.transport,
        }

    def supports(self, role: str, feature: str) -> bool:
        """True if the peer announced ``feature`` for ``role`` in its HELLO."""
        features = self.roles.get(role)
        feature_map = getattr(features, "__dict__", features) or {}
        if isinstance(feature_map, dict) and "features" in feature_map:
            feature_map = feature_map["features"] or {}
        return bool(isinstance(feature_map, dict) and feature_map.get(feature))
