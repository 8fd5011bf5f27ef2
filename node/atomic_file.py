"""Replacing a file so that a reader, or a crash, finds the old contents or the new, never a mix.

The new contents go to a temporary file in the same directory (the same file system,
so the rename is atomic), created with the final mode from the start and exclusively
(``mkstemp``: never through a link somebody left at its name), then renamed over the
old file. ``durable`` also fsyncs the file before the rename and the directory after
it, so that the rename itself survives a power cut (the cookie store's logins); a file
rewritten on every state change (the status file) need not wait for the disk.

Used by the status file, the cookie store's compaction and ``wampnode upgrade``.
"""
from __future__ import annotations

import os
import tempfile
from typing import Callable, TextIO


def replace_file(path: str, write: Callable[[TextIO], None], mode: int = 0o600, durable: bool = False) -> None:
    """Replace ``path`` by what ``write`` writes to the text file it is given (UTF-8).

    Raises ``OSError`` (the temporary file removed) if it could not be done; the old
    file is then unchanged."""
    directory = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    if durable:
        fsync_directory(directory)


def fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (POSIX); a platform without directory
    fsync just skips it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
