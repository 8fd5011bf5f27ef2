"""Skip markers for what the installed Python and TLS bindings cannot do.

Debian's PyPy is Python 3.9, where pip resolves cryptography 43 and pyOpenSSL
25.1 (README: PyPy as a deployment option). The node refuses the options these
cannot do with a TLS error naming the option; tests of those options skip there.
On CPython with the versions setup.cfg asks for, none of these markers skips.
"""
from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from typing import Optional

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


def _kosoku_python() -> Optional[str]:
    """The interpreter for the kosoku client (Python 3.10+): this one, else a ``python3``
    on PATH that has kosoku (the node under test still runs on this interpreter)."""
    if sys.version_info >= (3, 10):
        return sys.executable
    other = shutil.which("python3")
    if other and subprocess.run([other, "-c", "import sys, kosoku; sys.exit(sys.version_info < (3, 10))"],
                                capture_output=True).returncode == 0:
        return other
    return None


KOSOKU_PYTHON = _kosoku_python()
needs_kosoku = pytest.mark.skipif(KOSOKU_PYTHON is None,
                                  reason="kosoku needs Python 3.10 or later, and no python3 on PATH has it")
