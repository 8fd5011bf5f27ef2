"""``wampnode upgrade``: rewrite a version 1 config file as version 2, as ``crossbar upgrade`` does.

The node already reads a version 1 config as upgraded (and warns); this makes the
file say so. The new file replaces the old one in one rename (:mod:`node.atomic_file`,
with the old file's mode), so a crash leaves either; JSON as Crossbar.io writes it
(four-space indent, ``version`` first).
"""
from __future__ import annotations

import argparse
import json
import os

from node.atomic_file import replace_file
from node.config import config_file_in, read_json, shown_path
from node.config.version1 import is_version_1, upgrade
from node.errors import ConfigError


def run_upgrade(args: argparse.Namespace) -> int:
    config_file = config_file_in(os.path.abspath(args.cbdir), args.config)
    shown = shown_path(config_file)
    raw = read_json(config_file)
    if not is_version_1(raw):
        print(f"{shown}: already version 2; nothing to upgrade")
        return 0
    text = json.dumps(upgrade(raw), ensure_ascii=False, indent=4) + "\n"
    try:
        replace_file(config_file, lambda out: out.write(text), os.stat(config_file).st_mode & 0o7777)
    except OSError as e:
        raise ConfigError(shown, f"cannot write the upgraded file: {e.strerror}",
                          "Make the file and its directory writable, or copy the file somewhere writable")
    print(f"{shown}: upgraded from version 1 to version 2")
    return 0
