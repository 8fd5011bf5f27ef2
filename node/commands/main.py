"""The ``wampnode`` command: parse the arguments, run one subcommand, return its
exit code. Only ``node/__main__.py`` (and the console script wrapper) exits.

Each subcommand lives in its own module of this package and exposes
``run_<name>(args) -> int``. Exit codes: 0 success, 1 runtime failure (cannot
listen, not running), 2 configuration error.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from typing import Dict, Optional, Sequence, Tuple

from node.commands.parsers import build_parser
from node.errors import NodeError
from node.process.pypy_gc import start_with_pypy_gc

# command -> (module of node.commands, function). Modules are imported on demand:
# `wampnode status` or `stop` then starts in a fraction of the time `start` needs,
# since it never loads Twisted's web stack, autobahn or the router.
COMMANDS: Dict[str, Tuple[str, str]] = {
    "init": ("init", "run_init"),
    "start": ("start", "run_start"),
    "check": ("check", "run_check"),
    "upgrade": ("upgrade", "run_upgrade"),
    "stop": ("control", "run_stop"),
    "status": ("control", "run_status"),
    "reload": ("control", "run_reload"),
    "version": ("version", "run_version"),
    "cert": ("cert", "run_cert"),
    "tunnel": ("tunnel", "run_tunnel"),
    "trust": ("tunnel", "run_trust"),
}


def run_command(args: argparse.Namespace) -> int:
    module_name, function_name = COMMANDS[args.command]
    module = importlib.import_module(f"node.commands.{module_name}")
    return getattr(module, function_name)(args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one subcommand; user errors print one line per problem, never a traceback.

    ``argv`` None: this is the process's command line (``python -m node``, the console
    script), and ``start`` on PyPy may execute itself again with its collector's
    nursery sized for large messages (:mod:`node.process.pypy_gc`)."""
    args = build_parser().parse_args(argv)
    if argv is None and args.command == "start":
        start_with_pypy_gc()
    try:
        return run_command(args)
    except NodeError as e:
        if args.debug:
            traceback.print_exc()
        for line in e.line().splitlines():
            print(line, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug: say so in one line; the traceback is for --debug
        if args.debug:
            raise
        print(f"wampnode {args.command}: internal error: {e.__class__.__name__}: {e} "
              f"(run with --debug for the traceback, and please report it)", file=sys.stderr)
        return 1
