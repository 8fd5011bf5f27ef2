"""A virtualenv holding ``crossbarhttp3`` (PyPI), made once and cached, for tests/test_http_bridge.py.

``crossbarhttp3`` is a client of Crossbar.io's HTTP bridge (signed requests
included). It needs the ``future`` package, which wampnode's environment does not
have and need not get: the client runs in a venv of its own, in
``$WAMPNODE_TEST_CACHE/crossbarhttp3`` (default ``~/.cache/wampnode-test/``), built
under a lock and marked complete last, as tests/sslyze_venv.py does for sslyze.

``python3 tests/crossbarhttp_venv.py`` makes it ahead of time (tests/run.sh does).
"""
from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sslyze_venv import cache_dir  # noqa: E402

REQUIREMENT = "crossbarhttp3==1.1"


def _works(directory: Path) -> bool:
    marker = directory / "installed.txt"
    if not marker.exists() or marker.read_text().strip() != REQUIREMENT:
        return False
    done = subprocess.run([str(directory / "bin" / "python"), "-c", "import crossbarhttp"],
                          capture_output=True, timeout=120)
    return done.returncode == 0


def ensure_crossbarhttp() -> Path:
    """The Python interpreter of a venv where ``import crossbarhttp`` works; installs it on first use.

    Raises:
        RuntimeError: pip could not install it (its output is in the message).
    """
    target = cache_dir() / "crossbarhttp3"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / "crossbarhttp3.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _works(target):
            shutil.rmtree(target, ignore_errors=True)
            venv.EnvBuilder(with_pip=True, clear=True).create(target)
            pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
                   "--disable-pip-version-check", REQUIREMENT]
            done = subprocess.run(pip, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"pip install {REQUIREMENT} failed:\n{done.stdout}{done.stderr}")
            (target / "installed.txt").write_text(REQUIREMENT + "\n")
    return target / "bin" / "python"


if __name__ == "__main__":
    print(ensure_crossbarhttp())
    sys.exit(0)
