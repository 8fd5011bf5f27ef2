"""``python -m node`` is the ``wampnode`` command; only this module exits.

``start`` on PyPy executes itself once more, with its collector's nursery sized for large
messages (:mod:`node.process.pypy_gc`). Asking before the command's modules load spares
each such start the imports (Twisted's logger among them) that the new process makes again.
"""
from __future__ import annotations

import sys

from node.process.pypy_gc import start_with_pypy_gc


def run() -> int:
    if sys.argv[1:2] == ["start"]:
        start_with_pypy_gc()  # returns at once on CPython, or where the nursery is set already
    from node.commands.main import main
    return main()


if __name__ == "__main__":
    sys.exit(run())
