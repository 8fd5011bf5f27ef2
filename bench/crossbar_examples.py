"""Run ``wampnode check`` on every node config of an extracted crossbar-examples copy.

    git -C crossbar-examples archive HEAD | tar -x -C /tmp/cbx
    python bench/crossbar_examples.py /tmp/cbx            # table, then a summary line
    python bench/crossbar_examples.py /tmp/cbx --refused  # only the refused configs

Each ``.crossbar/config*.json`` below the given directory is checked as its node
would be started: ``--cbdir`` is the ``.crossbar`` directory holding it, so its
relative paths resolve as they do in Crossbar.io. One line per config: its path
(relative to the root), ``ok`` or ``refused``, and the first error line. The
summary counts both and groups the refusals by their error with the JSON path
and values taken out, so that one missing feature shows as one group.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections import Counter
from typing import List, Tuple

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_configs(root: str) -> List[str]:
    """``.crossbar/config*.json`` files below ``root``, sorted (symlinks included)."""
    found = []
    for directory, _, files in os.walk(root):
        if os.path.basename(directory) == ".crossbar":
            found += [os.path.join(directory, f) for f in files
                      if f.startswith("config") and f.endswith(".json")]
    return sorted(found)


def check(config: str, timeout: float = 60.0) -> Tuple[bool, str]:
    """(accepted, first error line) of ``wampnode check`` for one config file."""
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "node", "check", "--cbdir", os.path.dirname(config), "--config", config]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env,
                                cwd=os.path.dirname(config))
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f} s"
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    return result.returncode == 0, (lines[0] if lines else "")


def reason(line: str) -> str:
    """The error without the file, JSON path indices and quoted values: one feature, one group."""
    head, _, rest = line.partition(": ")
    text = rest if head.endswith(".json") else line
    text = re.sub(r"\[\d+\]", "[]", text)
    text = re.sub(r"'[^']*' is not one of", "X is not one of", text)
    return text


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="an extracted copy of crossbario/crossbar-examples")
    parser.add_argument("--refused", action="store_true", help="list only the refused configs")
    args = parser.parse_args(argv)
    configs = find_configs(args.root)
    refused: Counter = Counter()
    accepted = 0
    print("| config | result | first error |\n| --- | --- | --- |")
    for config in configs:
        ok, line = check(config)
        accepted += ok
        if not ok:
            refused[reason(line)] += 1
        if not (ok and args.refused):
            print(f"| {os.path.relpath(config, args.root)} | {'ok' if ok else 'refused'} | {line.replace('|', '/')} |",
                  flush=True)
    print(f"\n{accepted} of {len(configs)} configs pass `wampnode check`; {len(configs) - accepted} refused.\n")
    print("| refusals | reason |\n| --- | --- |")
    for text, count in refused.most_common():
        print(f"| {count} | {text.replace('|', '/')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
