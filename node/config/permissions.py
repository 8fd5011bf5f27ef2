"""Warnings about a node directory or config file that others may write.

Whoever can write the node directory or ``config.json`` decides what the node
serves, which keys it uses and who may log in. ``wampnode start`` logs and
``wampnode check`` prints one warning line for each that is group- or
world-writable (a warning, not an error: a shared deployment group can be
intended).
"""
from __future__ import annotations

import os
import stat
from typing import List


def writable_warnings(cbdir: str, config_file: str) -> List[str]:
    """One ``path: problem. fix`` line per group- or world-writable node directory or config file."""
    warnings: List[str] = []
    for what, path in (("node directory", cbdir), ("config file", config_file)):
        try:
            mode = os.stat(path).st_mode
        except OSError:
            continue
        others = [name for bit, name in ((stat.S_IWGRP, "its group"), (stat.S_IWOTH, "all users")) if mode & bit]
        if others:
            warnings.append(f"{path}: the {what} is writable by {' and '.join(others)} "
                            f"(mode {stat.S_IMODE(mode):04o}), who could change what the node serves and trusts. "
                            f"Fix: chmod go-w {path}")
    return warnings
