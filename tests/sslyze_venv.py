"""A virtualenv holding sslyze, made once and cached, for tests/test_sslyze.py.

sslyze pins an older ``cryptography`` (and ships its own legacy OpenSSL via
nassl), so it cannot share wampnode's environment. The venv lives in
``$WAMPNODE_TEST_CACHE/sslyze`` (default ``~/.cache/wampnode-test/sslyze``) and is
reused while it has the pinned version and its sslyze answers ``--help``
(tests/cached_venv.py builds and caches it).

``python3 tests/sslyze_venv.py`` makes it ahead of time (tests/run.sh does).
"""
from __future__ import annotations

import sys
from pathlib import Path

from cached_venv import ensure_venv

SSLYZE_REQUIREMENT = "sslyze==6.3.1"  # the version the issue-6 figures were measured with


def ensure_sslyze() -> Path:
    """The path of a working ``sslyze`` executable; installs it on first use.

    Raises:
        RuntimeError: pip could not install sslyze (its output is in the message).
    """
    return ensure_venv("sslyze", SSLYZE_REQUIREMENT, ["sslyze", "--help"]) / "bin" / "sslyze"


if __name__ == "__main__":
    print(ensure_sslyze())
    sys.exit(0)
