"""A child of the node never outlives it: a parent-death signal and a process group.

Two guarantees, for every process the node starts:

- **The node is killed** (even with SIGKILL, when no handler runs): Linux's
  ``prctl(PR_SET_PDEATHSIG)`` has the kernel signal the child when its parent dies.
  Router processes and containers (our Python) get SIGTERM and stop in order;
  guests (any program) get SIGKILL, which no program can ignore. The setting
  survives ``execve`` (not of set-user-ID programs), so a guest is started through
  this file run as a script, which sets it and then becomes the program::

      python -I -S lifeline.py PARENT_PID SIGNAL PROGRAM [ARG...]

- **The node stops a child**: each container and guest leads a process group of
  its own, and the node signals the group, so what the program started itself
  (a shell's children, a Node.js cluster) stops with it. In its own group it is
  also out of reach of the terminal's Ctrl-C, which the node handles.

Run as a script it imports the standard library only (no ``node`` package, no
site-packages): the guest's environment is the guest's, not the node's.
"""
from __future__ import annotations

import os
import pickle
import signal
import sys
from typing import Any, List, Optional, Sequence

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, signum: int = signal.SIGTERM) -> None:
    """Have the kernel send ``signum`` to this process when ``parent`` ends (Linux);
    exit at once if it already has."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
    except Exception:
        pass  # elsewhere the parent's SIGTERM at its stop is the only one
    if os.getppid() != parent:
        sys.exit(1)


def lead_process_group() -> None:
    """Make this process the leader of a new process group (the parent signals the group)."""
    try:
        os.setpgid(0, 0)
    except OSError:
        pass  # already a group (or session) leader


def become_worker(parent: int) -> Any:
    """What a Python worker process (container, proxy) does first: lead its own process
    group, die with the node, and read its spec, which the node pickles to its stdin and
    then closes; stdin is /dev/null from then on."""
    lead_process_group()
    die_with_parent(parent, signal.SIGTERM)
    spec = pickle.loads(sys.stdin.buffer.read())
    with open(os.devnull, "rb") as null:
        os.dup2(null.fileno(), 0)
    return spec


def exec_args(parent: int, signum: int, program: str, arguments: Sequence[str]) -> List[str]:
    """The command line that runs ``program`` through this file (``python -I -S lifeline.py ...``)."""
    return [sys.executable, "-I", "-S", os.path.abspath(__file__), str(parent), str(int(signum)), program,
            *arguments]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``lifeline.py PARENT SIGNAL PROGRAM [ARG...]``: becomes PROGRAM (``argv[0]`` is PROGRAM)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or not args[0].isdigit() or not args[1].isdigit():
        sys.stderr.write("usage: lifeline.py PARENT_PID SIGNAL PROGRAM [ARG...]\n")
        return 2
    lead_process_group()
    die_with_parent(int(args[0]), int(args[1]))
    program = args[2]
    try:
        os.execv(program, [program, *args[3:]])
    except OSError as e:
        sys.stderr.write(f"cannot run {program}: {e.strerror}\n")
    return 127


if __name__ == "__main__":
    sys.exit(main())
