"""Virtual environments the benchmark needs besides the repository's own Python.

- Crossbar.io from PyPI, in its own virtualenv under the cache directory
  (``~/.cache/wampnode-bench/crossbar``): large, so installed once and reused.
- wampnode's dependencies for PyPy (``~/.cache/wampnode-bench/pypy``), made with
  Debian's ``pypy3`` (``apt-get install pypy3 pypy3-venv``); wampnode itself runs
  from this checkout via PYTHONPATH (``targets.wampnode`` builds its C unmasker
  there). ``cryptography`` has no PyPy source build
  that works without a Rust toolchain here, so only its wheels are accepted
  (PyPy 3.9 has them up to 43.0.3, hence pyOpenSSL 25.1 there: see setup.cfg).
"""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

from targets import REPO

CACHE = Path(os.environ.get("WAMPNODE_BENCH_CACHE", Path.home() / ".cache" / "wampnode-bench"))


class InstallError(Exception):
    """A virtualenv could not be made; the message says what failed and how to fix it."""


def _run(command: List[str], what: str) -> None:
    print(f"  {what}: {' '.join(command)}", flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise InstallError(f"{what} failed (exit {result.returncode}):\n{(result.stdout + result.stderr)[-3000:]}")


def _pip(venv: Path, *args: str) -> List[str]:
    return [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q", *args]


def crossbar_venv() -> Path:
    """The Crossbar.io virtualenv, created and filled on first use."""
    venv = CACHE / "crossbar"
    if (venv / "bin" / "crossbar").exists():
        return venv
    print(f"Installing Crossbar.io into {venv} (once; takes a few minutes)", flush=True)
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "venv", str(venv)], "create virtualenv")
    _run(_pip(venv, "crossbar"), "pip install crossbar")
    return venv


def node_requirements() -> List[str]:
    """``install_requires`` of setup.cfg: the single list of wampnode's dependencies."""
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    return [line.strip() for line in parser["options"]["install_requires"].splitlines() if line.strip()]


def pypy_venv() -> Path:
    """A PyPy virtualenv with wampnode's dependencies, created on first use."""
    venv = CACHE / "pypy"
    marker = venv / ".wampnode-deps"
    wanted = "\n".join(node_requirements())
    if marker.exists() and marker.read_text() == wanted:
        return venv
    pypy = shutil.which("pypy3")
    if pypy is None:
        raise InstallError("pypy3 not found. Install it with: apt-get install pypy3 pypy3-venv")
    print(f"Installing wampnode's dependencies for PyPy into {venv} (once)", flush=True)
    if not (venv / "bin" / "python").exists():
        shutil.rmtree(venv, ignore_errors=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        _run([pypy, "-m", "venv", str(venv)], "create PyPy virtualenv")
        _run(_pip(venv, "--upgrade", "pip"), "upgrade pip")
    _run(_pip(venv, "--only-binary", "cryptography", *node_requirements()), "pip install wampnode's dependencies")
    marker.write_text(wanted)
    return venv


def version_of(python: Path, module: str) -> str:
    result = subprocess.run([str(python), "-c", f"import {module}; print({module}.__version__)"],
                            capture_output=True, text=True)
    return result.stdout.strip() or "?"


def interpreter_of(python: Path) -> str:
    """``PyPy 7.3.11 (Python 3.9.16)``-style name of an interpreter."""
    code = ("import platform, sys; v = getattr(sys, 'pypy_version_info', None); "
            "print(platform.python_implementation(), '.'.join(map(str, v[:3])) if v else '', "
            "'(Python ' + platform.python_version() + ')')")
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    return " ".join(result.stdout.split()) or "?"

