"""The JIT trust cache: host -> SKIDs of the CAs that made its last handshake succeed.

After libwebsockets' JIT trust: a hit lets the next connection to that host
trust exactly those CAs and succeed first time; an entry lives ``ttl`` seconds
(default one hour) and the cache keeps the ``max_hosts`` most recently used
hosts. Plain object with an injected clock: no reactor.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from typing import Callable, Optional, Tuple


class JitCache:
    def __init__(self, ttl: float, max_hosts: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.max_hosts = max_hosts
        self.clock = clock
        self._entries: "OrderedDict[str, Tuple[float, Tuple[bytes, ...]]]" = OrderedDict()

    def get(self, host: str) -> Optional[Tuple[bytes, ...]]:
        """The CA SKIDs remembered for ``host``, or None (absent or expired)."""
        entry = self._entries.get(host)
        if entry is None:
            return None
        expires, skids = entry
        if self.clock() >= expires:
            del self._entries[host]
            return None
        self._entries.move_to_end(host)
        return skids

    def put(self, host: str, skids: Tuple[bytes, ...]) -> None:
        self._entries[host] = (self.clock() + self.ttl, tuple(skids))
        self._entries.move_to_end(host)
        while len(self._entries) > self.max_hosts:
            self._entries.popitem(last=False)

    def forget(self, host: str) -> None:
        self._entries.pop(host, None)

    def __len__(self) -> int:
        return len(self._entries)
