"""A process's RSS at its peak while a block of a test runs, sampled from a thread."""
from __future__ import annotations

import threading
from typing import Any

import psutil


class PeakRss:
    """``with PeakRss(pid, every) as rss:`` ... ``rss.growth``: the RSS peak, sampled every
    ``every`` seconds while the block runs, over the RSS as it began."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.process = psutil.Process(pid)
        self.every = every
        self.before = self.peak = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample)

    def _rss(self) -> int:
        return self.process.memory_info().rss

    def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, self._rss())
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> "PeakRss":
        self.before = self.peak = self._rss()
        self._sampler.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._sampler.join()

    @property
    def growth(self) -> int:
        return self.peak - self.before
