"""A virtualenv holding ``crossbarhttp3`` (PyPI), made once and cached, for tests/test_http_bridge.py.

``crossbarhttp3`` is a client of Crossbar.io's HTTP bridge (signed requests
included). It needs the ``future`` package, which wampnode's environment does not
have and need not get: the client runs in a venv of its own, in
``$WAMPNODE_TEST_CACHE/crossbarhttp3`` (default ``~/.cache/wampnode-test/``),
built and cached by tests/cached_venv.py.

``python3 tests/crossbarhttp_venv.py`` makes it ahead of time (tests/run.sh does).
"""
from __future__ import annotations

import sys
from pathlib import Path

from cached_venv import ensure_venv

REQUIREMENT = "crossbarhttp3==1.1"


def ensure_crossbarhttp() -> Path:
    """The Python interpreter of a venv where ``import crossbarhttp`` works; installs it on first use.

    Raises:
        RuntimeError: pip could not install it (its output is in the message).
    """
    return ensure_venv("crossbarhttp3", REQUIREMENT, ["python", "-c", "import crossbarhttp"]) / "bin" / "python"


if __name__ == "__main__":
    print(ensure_crossbarhttp())
    sys.exit(0)
