"""``<cbdir>/node.pid``: one running node per node directory.

The pidfile alone proves nothing: anyone who can write the node directory can put
another process's pid in it, and ``wampnode stop`` would then signal that process.
So the node holds an exclusive ``flock`` on its pidfile for as long as it runs, and
:func:`read_pid` believes a pid only while that lock is held, taking the pid of the
lock's holder from ``/proc/locks`` where the kernel names it. The file is created
with ``O_EXCL | O_NOFOLLOW``: a symlink planted as ``node.pid`` is removed, never
written through.
"""
from __future__ import annotations

import errno
import fcntl
import os
from typing import Dict, Optional

from node.errors import PidFileError

PIDFILE_NAME = "node.pid"
PIDFILE_MODE = 0o644

_held: Dict[str, int] = {}  # pidfile path -> the descriptor whose flock claims it


def pidfile_path(cbdir: str) -> str:
    return os.path.join(cbdir, PIDFILE_NAME)


def is_alive(pid: int) -> bool:
    """True while ``pid`` runs; an exited but unreaped process (zombie) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def lock_holder(fd: int, proc_locks: str = "/proc/locks") -> Optional[int]:
    """The pid the kernel lists as holding a flock on the file open as ``fd``, if it says."""
    st = os.fstat(fd)
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        with open(proc_locks) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == inode:
                    return int(fields[4])
    except (OSError, ValueError):
        pass
    return None


def read_pid(cbdir: str) -> Optional[int]:
    """The pid of the live node holding ``cbdir``, or None (no pidfile, a stale one, or
    one no node holds: a pid planted there is never believed)."""
    try:
        fd = os.open(pidfile_path(cbdir), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:  # missing, a symlink (ELOOP), unreadable
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = lock_holder(fd)
            if holder is None:
                holder = _pid_in(fd)
            return holder if holder is not None and is_alive(holder) else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # nobody holds it: no node runs here, whatever pid the file names
    finally:
        os.close(fd)


def _pid_in(fd: int) -> Optional[int]:
    try:
        return int(os.pread(fd, 64, 0).decode("ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def write_pidfile(cbdir: str) -> Optional[str]:
    """Claim ``cbdir`` for this process until :func:`remove_pidfile` (or exit).

    Returns a warning when a stale file (or a symlink) was replaced.

    @raise PidFileError: a live node already runs there, or the file cannot be written.
    """
    path = pidfile_path(cbdir)
    warning = None
    if os.path.lexists(path):
        pid = read_pid(cbdir)
        if pid is not None and pid != os.getpid():
            raise PidFileError(path, f"a node is already running in this node directory (pid {pid})",
                               "Stop it with `wampnode stop`, or use another --cbdir")
        kind = "symlink" if os.path.islink(path) else "pidfile"
        warning = f"Replaced stale {kind} {path} (no node holds it)"
        try:
            os.unlink(path)  # a symlink itself goes, never its target
        except FileNotFoundError:
            pass
        except OSError as e:
            raise _cannot_write(path, e)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PIDFILE_MODE)
    except OSError as e:
        if e.errno == errno.EEXIST:  # another node claimed it between our check and now
            raise PidFileError(path, "another node claimed this node directory while this one started",
                               "Stop it with `wampnode stop`, or use another --cbdir")
        raise _cannot_write(path, e)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else can hold it yet
    os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    _held[path] = fd
    return warning


def _cannot_write(path: str, e: OSError) -> PidFileError:
    return PidFileError(path, f"cannot write pidfile: {e.strerror}",
                        "Make the node directory writable by the user running the node")


def remove_pidfile(cbdir: str) -> None:
    """Give up this process's claim on ``cbdir``: remove the file it holds, then unlock."""
    path = pidfile_path(cbdir)
    fd = _held.pop(path, None)
    if fd is None:
        return
    try:
        if os.path.samestat(os.fstat(fd), os.lstat(path)):
            os.unlink(path)
    except OSError:
        pass
    finally:
        os.close(fd)
