"""``wampnode stop|status|reload``: act on a node through its pidfile.

``status`` also lists the node's container and guest workers from the status file the
node keeps current (:mod:`node.process.statusfile`).
"""
from __future__ import annotations

import argparse
import os
import signal
import time
from typing import Any, Dict, List, Optional

from node.process.pidfile import is_alive, pidfile_path, read_pid
from node.process.statusfile import read_status


def _describe_uptime(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return (f"{days}d " if days else "") + f"{hours:02d}:{minutes:02d}:{secs:02d}"


def _worker_lines(workers: List[Dict[str, Any]]) -> List[str]:
    """One line per container or guest worker: id, type, state, pid, uptime, restarts, detail."""
    lines = []
    for w in workers:
        started = w.get("started")
        uptime = _describe_uptime(time.time() - started) if isinstance(started, (int, float)) else "-"
        pid = w.get("pid") or "-"
        detail = f" ({w['detail']})" if w.get("detail") else ""
        lines.append(f"  {w.get('type', 'worker')} {w.get('id')}: {w.get('state')}, pid {pid}, uptime {uptime}, "
                     f"restarts {w.get('restarts', 0)}{detail}")
    if lines:
        lines.insert(0, "workers:")
    return lines


def node_status(cbdir: str, assert_state: Optional[str] = None) -> int:
    pid = read_pid(cbdir)
    if pid is None:
        print(f"not running (node directory {os.path.abspath(cbdir)})")
        running = False
    else:
        uptime = time.time() - os.stat(pidfile_path(cbdir)).st_mtime
        print(f"running (pid {pid}, uptime {_describe_uptime(uptime)})")
        for line in _worker_lines(read_status(cbdir, pid) or []):
            print(line)
        running = True
    if assert_state is not None:
        return 0 if running == (assert_state == "running") else 1
    return 0 if running else 1


def stop_node(cbdir: str, timeout: float) -> int:
    pid = read_pid(cbdir)
    if pid is None:
        print(f"not running (node directory {os.path.abspath(cbdir)})")
        return 1
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(pid):
            print(f"stopped (pid {pid})")
            return 0
        time.sleep(0.05)
    print(f"node (pid {pid}) did not exit within {timeout:g} s; it may still be closing connections")
    return 1


def reload_node(cbdir: str) -> int:
    pid = read_pid(cbdir)
    if pid is None:
        print(f"not running (node directory {os.path.abspath(cbdir)})")
        return 1
    os.kill(pid, signal.SIGHUP)
    print(f"reload requested (pid {pid}); see the node's log for the result")
    return 0


def run_stop(args: argparse.Namespace) -> int:
    return stop_node(args.cbdir, args.timeout)


def run_status(args: argparse.Namespace) -> int:
    return node_status(args.cbdir, args.assert_state)


def run_reload(args: argparse.Namespace) -> int:
    return reload_node(args.cbdir)
