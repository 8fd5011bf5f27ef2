"""The package as `pip install .` builds it (the README's start command) carries its data files."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_contains_schema_and_console_script(tmp_path):
    """A built wheel holds node/config/schema.json (the config checker) and the `wampnode` script."""
    source = tmp_path / "src"  # build from a copy: building writes build/ and *.egg-info
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "node_modules", "test-artifacts", "__pycache__", "*.egg-info", "build"))
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                             str(source)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "dist").glob("wampnode-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(archive.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "node/config/schema.json" in names
    assert "wampnode = node.commands.main:main" in entry_points
