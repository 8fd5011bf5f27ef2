"""node.atomic_file: a file replaced whole or not at all, with its mode from the start."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from node.atomic_file import replace_file


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_replaces_the_file_with_its_mode_and_leaves_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    os.chmod(path, 0o644)
    inode = path.stat().st_ino
    replace_file(str(path), lambda f: f.write("néw"))
    assert path.read_text(encoding="utf-8") == "néw"
    assert path.stat().st_ino != inode  # renamed over, not rewritten in place
    assert mode_of(path) == 0o600
    replace_file(str(path), lambda f: f.write("again"), mode=0o640, durable=True)
    assert path.read_text() == "again" and mode_of(path) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")

    def half_then_fail(f: object) -> None:
        f.write("half")  # type: ignore[attr-defined]
        raise ValueError("cannot encode")

    with pytest.raises(ValueError):
        replace_file(str(path), half_then_fail)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_missing_directory_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        replace_file(str(tmp_path / "absent" / "state.json"), lambda f: f.write("x"))
