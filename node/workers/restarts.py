"""When to start a process again that keeps ending: one backoff for every child of the node.

Router processes (:mod:`node.process.supervisor`), container and guest workers
(:mod:`node.process.children`) and container components (:mod:`node.workers.container`)
all restart the same way: 0.5 s after the first end, doubling up to 30 s while it
keeps dying young (having run less than 10 s), and back to 0.5 s once a run lasted
longer. A child that cannot start therefore costs a few starts a minute, not a busy
loop; one that ran a while and crashed comes back at once.
"""
from __future__ import annotations

FIRST_RESTART_SECONDS = 0.5
MAX_RESTART_SECONDS = 30.0
YOUNG_SECONDS = 10.0  # a run shorter than this counts as "dying young": the next delay doubles


class RestartBackoff:
    """The delay before each restart of one child.

    >>> b = RestartBackoff()
    >>> [b.delay(1.0) for _ in range(4)], b.delay(60.0)
    ([0.5, 1.0, 2.0, 4.0], 0.5)
    """

    def __init__(self, first: float = FIRST_RESTART_SECONDS, maximum: float = MAX_RESTART_SECONDS,
                 young: float = YOUNG_SECONDS) -> None:
        self.first = first
        self.maximum = maximum
        self.young = young
        self._next = first

    def delay(self, lifetime: float) -> float:
        """Seconds to wait before the next start, for a run that lasted ``lifetime`` seconds."""
        if lifetime >= self.young:
            self._next = self.first
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay

    def reset(self) -> None:
        """Forget earlier deaths (a deliberate restart, such as a watched file's change)."""
        self._next = self.first
