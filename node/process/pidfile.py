"""``<cbdir>/node.pid``: one running node per node directory."""
from __future__ import annotations

import os
from typing import Optional

from node.errors import PidFileError

PIDFILE_NAME = "node.pid"


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


def read_pid(cbdir: str) -> Optional[int]:
    """The pid of a live node in ``cbdir``, or None (no pidfile, or a stale one)."""
    try:
        with open(pidfile_path(cbdir)) as f:
            pid = int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if is_alive(pid) else None


def write_pidfile(cbdir: str) -> Optional[str]:
    """Claim ``cbdir`` for this process. Returns a warning when a stale file was replaced.

    @raise PidFileError: a live node already runs there, or the file cannot be written.
    """
    path = pidfile_path(cbdir)
    warning = None
    if os.path.exists(path):
        pid = read_pid(cbdir)
        if pid is not None and pid != os.getpid():
            raise PidFileError(path, f"a node is already running in this node directory (pid {pid})",
                               "Stop it with `wampnode stop`, or use another --cbdir")
        warning = f"Replaced stale pidfile {path} (process gone)"
    try:
        with open(path, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as e:
        raise PidFileError(path, f"cannot write pidfile: {e.strerror}",
                           "Make the node directory writable by the user running the node")
    return warning


def remove_pidfile(cbdir: str) -> None:
    path = pidfile_path(cbdir)
    try:
        with open(path) as f:
            if f.read().strip() != str(os.getpid()):
                return
        os.unlink(path)
    except (FileNotFoundError, ValueError):
        pass
