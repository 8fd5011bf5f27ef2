"""``wampnode tunnel``: local TCP (or stdio) over a WebSocket, through HTTP proxies."""
from __future__ import annotations
