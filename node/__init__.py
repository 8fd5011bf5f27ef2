"""wampnode: a Crossbar-style WAMP router node configured by one JSON file."""
from __future__ import annotations

__version__ = "0.1.0"
