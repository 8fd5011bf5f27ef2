"""A virtualenv holding sslyze, made once and cached, for tests/test_sslyze.py.

sslyze pins an older ``cryptography`` (and ships its own legacy OpenSSL via
nassl), so it cannot share wampnode's environment. The venv lives in
``$WAMPNODE_TEST_CACHE/sslyze`` (default ``~/.cache/wampnode-test/sslyze``) and is
reused while it has the pinned version and its sslyze answers ``--help``; it is
built under a lock and marked complete last, so that concurrent or interrupted
runs never use half an install.

``python3 tests/sslyze_venv.py`` makes it ahead of time (tests/run.sh does).
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

SSLYZE_REQUIREMENT = "sslyze==6.3.1"  # the version the issue-6 figures were measured with


def cache_dir() -> Path:
    base = os.environ.get("WAMPNODE_TEST_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "wampnode-test")
    return Path(base)


def _works(directory: Path) -> bool:
    """A finished install (marker written last) of the pinned version that runs."""
    marker = directory / "installed.txt"
    binary = directory / "bin" / "sslyze"
    if not marker.exists() or marker.read_text().strip() != SSLYZE_REQUIREMENT:
        return False
    done = subprocess.run([str(binary), "--help"], capture_output=True, timeout=120)
    return done.returncode == 0


def ensure_sslyze() -> Path:
    """The path of a working ``sslyze`` executable; installs it on first use.

    Raises:
        RuntimeError: pip could not install sslyze (its output is in the message).
    """
    target = cache_dir() / "sslyze"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / "sslyze.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _works(target):
            _install(target)
    return target / "bin" / "sslyze"


def _install(target: Path) -> None:
    # Built in place (a venv's scripts name their interpreter by absolute path,
    # so it cannot be renamed); the marker file written last says it is whole.
    shutil.rmtree(target, ignore_errors=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check", SSLYZE_REQUIREMENT]
    done = subprocess.run(pip, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"pip install {SSLYZE_REQUIREMENT} failed:\n{done.stdout}{done.stderr}")
    (target / "installed.txt").write_text(SSLYZE_REQUIREMENT + "\n")


if __name__ == "__main__":
    print(ensure_sslyze())
    sys.exit(0)
