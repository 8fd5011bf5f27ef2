"""Skip markers for what the installed Python and TLS bindings cannot do.

Debian's PyPy is Python 3.9, where pip resolves cryptography 43 and pyOpenSSL
25.1 (README: PyPy as a deployment option). The node refuses the options these
cannot do with a TLS error naming the option; tests of those options skip there.
On CPython with the versions setup.cfg asks for, none of these markers skips.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest
from OpenSSL import SSL

from node.tls.openssl import can_set_group_lists, can_set_tls13_ciphersuites

PYPY = platform.python_implementation() == "PyPy"

needs_group_lists = pytest.mark.skipif(
    not can_set_group_lists(),
    reason="cryptography < 44 binds no group list: no curve lists, no dhparam group beside the curve")
needs_ciphersuites = pytest.mark.skipif(
    not can_set_tls13_ciphersuites(), reason="pyOpenSSL < 25.2 cannot set TLS 1.3 cipher suites")
needs_group_name = pytest.mark.skipif(
    not hasattr(SSL.Connection, "get_group_name"), reason="pyOpenSSL < 25.2 cannot report the negotiated group")


# Interpreter names tried for kosoku, newest first, after the ones named below.
_PYTHON_NAMES = ["python3.14", "python3.13", "python3.12", "python3.11", "python3.10", "python3"]


def _kosoku_candidates() -> List[str]:
    """Interpreters that may run kosoku, in the order tried: ``$WAMPNODE_KOSOKU_PYTHON``,
    the CPython venv ``.venv`` of this checkout (tests/run.sh installs kosoku there),
    the system's ``/usr/bin/python3``, then the ``python3.1x``/``python3`` names on PATH.
    Each is checked, so the first ``python3`` on PATH (a pyenv shim, PyPy's venv, a
    Python 3.9) hides none of the others."""
    repo = Path(__file__).resolve().parent.parent
    found = [os.environ.get("WAMPNODE_KOSOKU_PYTHON", ""), str(repo / ".venv" / "bin" / "python"),
             "/usr/bin/python3", "/usr/local/bin/python3"]
    found += [shutil.which(name) or "" for name in _PYTHON_NAMES]
    return list(dict.fromkeys(path for path in found if path and os.access(path, os.X_OK)))


def _runs_kosoku(python: str) -> bool:
    """Whether ``python`` is Python 3.10+ and imports kosoku."""
    try:
        return subprocess.run([python, "-c", "import sys, kosoku; sys.exit(sys.version_info < (3, 10))"],
                              capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _kosoku_python() -> Optional[str]:
    """The interpreter for the kosoku client (Python 3.10+): this one, else the first of
    ``_kosoku_candidates`` that imports kosoku (the node under test still runs on this
    interpreter, e.g. PyPy 3.9)."""
    if sys.version_info >= (3, 10):
        return sys.executable
    return next((python for python in _kosoku_candidates() if _runs_kosoku(python)), None)


KOSOKU_PYTHON = _kosoku_python()
needs_kosoku = pytest.mark.skipif(
    KOSOKU_PYTHON is None,
    reason="kosoku needs Python 3.10 or later and none of these imports it: "
           + (", ".join(_kosoku_candidates()) or "(no interpreter found)")
           + "; set WAMPNODE_KOSOKU_PYTHON to one that does")
