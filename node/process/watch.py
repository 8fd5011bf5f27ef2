"""``options.watch`` of a guest: a change under its directories restarts it, once.

Linux's inotify (Twisted's ``twisted.internet.inotify``) watches each directory and
what is created under it later. A change starts a timer of ``delay`` seconds
(Crossbar.io's ``timeout``, default 1 s); the changes that follow while it runs are
part of the same edit, so an editor's save or a ``git checkout`` of many files
restarts the guest once. Where inotify is missing (not Linux) the node says so
and runs the guest unwatched.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional, Sequence

from twisted.logger import Logger
from twisted.python.filepath import FilePath

log = Logger()

# what counts as a change: contents, names, metadata (a `touch`); not reads nor opens
_CHANGE_MASK = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200  # MODIFY ATTRIB CLOSE_WRITE MOVED_FROM/TO CREATE DELETE


class DirectoryWatch:
    """Calls ``on_change(path)`` ``delay`` seconds after the first change of a burst.

    @param on_change: gets the first changed path of the burst.
    """

    def __init__(self, reactor: Any, directories: Sequence[str], delay: float, on_change: Callable[[str], None],
                 label: str) -> None:
        self.reactor = reactor
        self.directories = list(directories)
        self.delay = delay
        self.on_change = on_change
        self.label = label
        self.notifier: Any = None
        self.pending: Any = None
        self.first: Optional[str] = None

    def start(self) -> bool:
        """Start watching; False where inotify is not available (logged)."""
        try:
            from twisted.internet import inotify  # here: it exists on Linux only
        except (ImportError, OSError) as e:
            log.warn("{label}: options.watch needs Linux's inotify ({error}); the guest runs unwatched",
                     label=self.label, error=e)
            return False
        notifier = inotify.INotify(self.reactor)
        notifier.startReading()
        for directory in self.directories:
            try:
                notifier.watch(FilePath(directory), mask=_CHANGE_MASK, autoAdd=True, callbacks=[self._changed],
                               recursive=True)
            except Exception as e:  # a directory removed since the check, or inotify's watch limit reached
                log.warn("{label}: cannot watch {directory}: {error}", label=self.label, directory=directory, error=e)
        self.notifier = notifier
        return True

    def _changed(self, ignored: Any, path: FilePath, mask: int) -> None:
        if self.notifier is None:
            return
        if self.pending is None:
            self.first = os.fsdecode(path.path)  # inotify's paths are bytes
            self.pending = self.reactor.callLater(self.delay, self._fire)

    def _fire(self) -> None:
        self.pending = None
        path, self.first = self.first or "", None
        self.on_change(path)

    def stop(self) -> None:
        if self.pending is not None and self.pending.active():
            self.pending.cancel()
        self.pending = None
        notifier, self.notifier = self.notifier, None
        if notifier is not None:
            notifier.loseConnection()
