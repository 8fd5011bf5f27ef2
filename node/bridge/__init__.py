"""WebSocket <-> TCP bridging: the ``tcpbridge`` web path and the ``wampnode tunnel`` client."""
from __future__ import annotations
