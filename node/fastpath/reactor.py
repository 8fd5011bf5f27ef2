"""The node's reactor: Twisted's epoll reactor with end-of-turn flushing.

Two things cost a router a lot when messages arrive one at a time (one call in
flight, a session's handshake): the poll round trip Twisted takes before it
sends anything (see :mod:`node.fastpath.write_coalescing`), and the legacy log
context (``log.callWithLogger``: four Python calls and a context dictionary)
that the stock ``doPoll`` wraps around every ready socket, which only
``twisted.python.log`` messages read; the node logs through ``twisted.logger``.

:class:`NodeReactor` changes ``doPoll`` and ``mainLoop``. Before it blocks in
``epoll_wait`` it sends what connections were given since the last poll (by
timers), and again right after it dispatched the poll's events (what they wrote),
before the next turn runs the timers that are due: a timer that aborts a
connection (autobahn's closing-handshake timeout, which may fall due a few
microseconds after the close frame was written) would otherwise discard what the
connection was given to send, and its peer would get a reset instead of the
ABORT and close frame it was sent. It dispatches ready sockets without the
legacy context. Errors in a socket's handling are still caught,
logged and turned into a disconnect, as Twisted's ``_doReadOrWrite`` does (which
still handles every event other than plain "readable"). ``mainLoop`` enters
Twisted's per-turn error handler once for many turns instead of once per turn, and
enters Twisted's timer bookkeeping (``runUntilCurrent``, ``timeout``) only on turns that
have a timer to run or a new one to file.

Other reactors (the asyncio reactor a clustered worker needs, or one a test
installed) work too: the flusher then falls back to ``callLater(0)``.
"""
from __future__ import annotations

import errno
import sys
from typing import Any, Callable, Optional


_LONGEST_SLEEP = 2147483  # seconds: Twisted's bound on a poll's timeout (epoll_wait's int of milliseconds)


def make_reactor_class() -> Optional[type]:
    """The reactor class, or None where epoll is missing (not Linux)."""
    try:
        from select import EPOLLIN

        from twisted.internet.epollreactor import EPollReactor
    except ImportError:
        return None
    from twisted.internet import base
    from twisted.python import log

    # Twisted's main-loop error handler and logger; without them, Twisted's own mainLoop is kept
    top_handler = getattr(base, "_topHandler", None) if hasattr(base, "_log") else None

    class NodeReactor(EPollReactor):  # type: ignore[misc, valid-type]
        end_of_turn: Optional[Callable[[], None]] = None

        def doPoll(self, timeout: Optional[float]) -> None:  # noqa: N802 (Twisted API)
            flush = self.end_of_turn
            if flush is not None:
                flush()
            try:
                ready = self._poller.poll(-1 if timeout is None else timeout, len(self._selectables))
            except OSError as err:
                if err.errno == errno.EINTR:
                    return
                raise
            selectables = self._selectables
            handle = self._doReadOrWrite
            for fd, event in ready:
                selectable = selectables.get(fd)
                if selectable is None:
                    continue
                if event != EPOLLIN:
                    handle(selectable, fd, event)
                    continue
                # the common case of _doReadOrWrite, inline: readable, nothing else
                try:
                    why = selectable.doRead()
                    in_read = True
                except BaseException:
                    why = sys.exc_info()[1]
                    in_read = False
                    log.err()
                if why:
                    self._disconnectSelectable(selectable, why, in_read)
            if flush is not None:
                flush()

        doIteration = doPoll

        def run_timers(self) -> Optional[float]:
            """Twisted's ``runUntilCurrent`` then ``timeout``, called only when they have
            something to do: a call from a thread, a timed call made or due, a stop, many
            cancellations to sweep. Otherwise (most turns: the next timer is seconds away)
            only the time to sleep is worked out, as ``timeout`` would: with one clock read
            instead of two, and no eight Python calls, on every turn."""
            pending = self._pendingTimedCalls
            if not (self.threadCallQueue or self._newTimedCalls or self._justStopped or self._cancellations > 50):
                if not pending:
                    return None
                delay = pending[0].time - self.seconds()
                if delay > 0:
                    return delay if delay < _LONGEST_SLEEP else _LONGEST_SLEEP
            self.runUntilCurrent()
            return self.timeout()

        if top_handler is not None:
            def mainLoop(self) -> None:  # noqa: N802 (Twisted API)
                """Twisted's, with its per-turn error handler entered once for many turns
                (a failure is logged by it and the loop goes on, as in Twisted's), and the
                timers looked at through :meth:`run_timers`."""
                while self._started:
                    with top_handler:
                        while self._started:
                            delay = self.run_timers()
                            self.doIteration(self.running and delay)
                base._log.info("Main loop terminated.")

    return NodeReactor


def install() -> Any:
    """Install :class:`NodeReactor` as the global reactor unless one is installed already."""
    if "twisted.internet.reactor" not in sys.modules:
        reactor_class = make_reactor_class()
        if reactor_class is not None:
            from twisted.internet.main import installReactor

            installReactor(reactor_class())
    from twisted.internet import reactor

    return reactor
