"""``<cbdir>/node.status.json``: what ``wampnode status`` shows of a running node's workers.

The node rewrites it whenever one of its container or guest workers changes state
(started, ready, ended, restarting, stopped), so the file is current without any
timer. ``wampnode status`` reads it rather than asking the node over the network:
it needs no web transport, no port and no credentials, and works as the pidfile
does, for the user who may read the node directory. A file written by another pid
than the node now holding the pidfile is stale and ignored.

Written to a temporary file in the same directory, then renamed over the old one
(:mod:`node.atomic_file`: a reader never sees half a file), mode 0600 (pids and
states are the operator's).
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Optional

from node.atomic_file import replace_file

STATUS_NAME = "node.status.json"
STATUS_MODE = 0o600


def status_path(cbdir: str) -> str:
    return os.path.join(cbdir, STATUS_NAME)


def write_status(cbdir: str, workers: List[Dict[str, Any]], pid: Optional[int] = None) -> Optional[str]:
    """Replace the status file; returns the problem as text if it could not be written."""
    path = status_path(cbdir)
    record = {"pid": pid or os.getpid(), "written": time.time(), "workers": workers}
    try:
        replace_file(path, lambda f: json.dump(record, f, indent=1), STATUS_MODE)
    except OSError as e:
        return f"cannot write {path}: {e.strerror}"
    return None


def read_status(cbdir: str, pid: int) -> Optional[List[Dict[str, Any]]]:
    """The workers the node ``pid`` last wrote, or None (no file, unreadable, or another node's)."""
    try:
        with open(status_path(cbdir)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("pid") != pid or not isinstance(record.get("workers"), list):
        return None
    return [w for w in record["workers"] if isinstance(w, dict)]


def remove_status(cbdir: str) -> None:
    try:
        os.unlink(status_path(cbdir))
    except OSError:
        pass
