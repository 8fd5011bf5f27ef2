"""Virtualenvs for test tools that cannot share wampnode's environment, made once and cached.

Some clients the tests drive pin packages wampnode's own environment must not get
(sslyze pins an older ``cryptography``; crossbarhttp3 needs ``future``). Each gets
a venv of its own in ``$WAMPNODE_TEST_CACHE/<name>`` (default
``~/.cache/wampnode-test/<name>``), reused while it has the pinned version and
still runs. It is built under a lock and marked complete last, so that concurrent
or interrupted runs never use half an install. tests/sslyze_venv.py and
tests/crossbarhttp_venv.py say what goes in theirs.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import venv
from pathlib import Path
from typing import Sequence


def cache_dir() -> Path:
    """Where the test venvs live: ``$WAMPNODE_TEST_CACHE``, else ``~/.cache/wampnode-test``."""
    base = os.environ.get("WAMPNODE_TEST_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "wampnode-test")
    return Path(base)


def ensure_venv(name: str, requirement: str, check: Sequence[str]) -> Path:
    """The directory of venv ``name`` with ``requirement`` installed; installs it on first use.

    ``check`` is a command whose first word is a file in the venv's ``bin`` (e.g.
    ``["python", "-c", "import x"]``): the venv is reused only while it exits 0.

    Raises:
        RuntimeError: pip could not install it (its output is in the message).
    """
    target = cache_dir() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _works(target, requirement, check):
            _install(target, requirement)
    return target


def _works(directory: Path, requirement: str, check: Sequence[str]) -> bool:
    """A finished install (marker written last) of the pinned version that runs."""
    marker = directory / "installed.txt"
    if not marker.exists() or marker.read_text().strip() != requirement:
        return False
    done = subprocess.run([str(directory / "bin" / check[0]), *check[1:]], capture_output=True, timeout=120)
    return done.returncode == 0


def _install(target: Path, requirement: str) -> None:
    # Built in place (a venv's scripts name their interpreter by absolute path,
    # so it cannot be renamed); the marker file written last says it is whole.
    shutil.rmtree(target, ignore_errors=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
           "--disable-pip-version-check", requirement]
    done = subprocess.run(pip, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"pip install {requirement} failed:\n{done.stdout}{done.stderr}")
    (target / "installed.txt").write_text(requirement + "\n")
