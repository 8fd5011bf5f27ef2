"""WebSocket timeouts that never fall due before their time.

autobahn runs every WebSocket timeout (opening handshake, closing handshake,
auto-ping) through its factory's ``_batched_timer``, txaio's batched timer, which
files a call under ``int(now + delay)``: the whole second *before* the deadline.
A 1 s closing-handshake timeout (``close_handshake_timeout``'s default) therefore
falls due anywhere from a few microseconds to 1 s after the close frame was sent;
the connection is then aborted (a TCP reset) while the peer's reply may be on
its way, and, if the timeout falls due before the close frame left, the peer gets
a reset instead of the frames it was sent (an ABORT ``no_such_realm`` lost this
way failed a test about once in a few hundred runs). ``auto_ping_timeout`` and
``open_handshake_timeout`` were cut short the same way.

:class:`RoundedUpTimer` keeps txaio's batching (the calls that fall due in one
bucket share one reactor call, so thousands of connections' auto-pings cost a few
timers) but rounds each deadline *up* to its bucket: a timeout falls due at least
as late as configured and at most :data:`BUCKET` later.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, List

from twisted.logger import Logger

log = Logger()

BUCKET = 0.1  # seconds: how much later than its deadline a timeout may fall due
CHUNK = 1000  # calls run per reactor turn when many fall due at once (as txaio's)


class BucketedCall:
    """One call filed in a bucket; what autobahn keeps and may ``cancel``."""

    __slots__ = ("function", "args", "kwargs")

    def __init__(self, function: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        self.function: Any = function
        self.args = args
        self.kwargs = kwargs

    def cancel(self) -> None:
        self.function = None  # dropped from its bucket when the bucket falls due

    def active(self) -> bool:
        return self.function is not None


class RoundedUpTimer:
    """autobahn's ``_batched_timer`` interface (``call_later`` -> an object with
    ``cancel``), with deadlines rounded up to :data:`BUCKET`."""

    def __init__(self, reactor: Any, bucket: float = BUCKET) -> None:
        self.reactor = reactor
        self.bucket = bucket
        self.buckets: Dict[int, List[BucketedCall]] = {}

    def call_later(self, delay: float, function: Callable[..., Any], *args: Any, **kwargs: Any) -> BucketedCall:
        now = self.reactor.seconds()
        index = math.ceil((now + delay) / self.bucket)
        call = BucketedCall(function, args, kwargs)
        calls = self.buckets.get(index)
        if calls is None:
            self.buckets[index] = calls = []
            self.reactor.callLater(max(0.0, index * self.bucket - now), self._fall_due, index)
        calls.append(call)
        return call

    def _fall_due(self, index: int) -> None:
        self._run(self.buckets.pop(index, []))

    def _run(self, calls: List[BucketedCall]) -> None:
        for position, call in enumerate(calls):
            if position == CHUNK:  # the rest in the next turn: one bucket never stalls the node
                self.reactor.callLater(0, self._run, calls[CHUNK:])
                return
            function = call.function
            if function is None:
                continue
            call.function = None
            try:
                function(*call.args, **call.kwargs)
            except Exception:  # one connection's timeout must not stop the others'
                log.failure("a WebSocket timeout failed")


def round_up_timeouts(factory: Any) -> Any:
    """Give an autobahn WebSocket factory a :class:`RoundedUpTimer`; returns ``factory``."""
    factory._batched_timer = RoundedUpTimer(factory.reactor)
    return factory
