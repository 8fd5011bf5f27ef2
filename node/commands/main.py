"""The ``wampnode`` command: parse the arguments, run one subcommand, return its
exit code. Only ``node/__main__.py`` (and the console script wrapper) exits.

Each subcommand lives in its own module of this package and exposes
``run_<name>(args) -> int``. Exit codes: 0 success, 1 runtime failure (cannot
listen, not running), 2 configuration error.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import Dict, Optional, Sequence, Tuple

from node.commands.cert import add_cert_parser
from node.commands.check import add_check_options
from node.commands.tunnel import add_tunnel_parser
from node.errors import NodeError
from node.log import FORMATS, LEVELS

DEFAULT_CBDIR = ".crossbar"

# command -> (module of node.commands, function). Modules are imported on demand:
# `wampnode status` or `stop` then starts in a fraction of the time `start` needs,
# since it never loads Twisted's web stack, autobahn or the router.
COMMANDS: Dict[str, Tuple[str, str]] = {
    "init": ("init", "run_init"),
    "start": ("start", "run_start"),
    "check": ("check", "run_check"),
    "stop": ("control", "run_stop"),
    "status": ("control", "run_status"),
    "reload": ("control", "run_reload"),
    "version": ("version", "run_version"),
    "cert": ("cert", "run_cert"),
    "tunnel": ("tunnel", "run_tunnel"),
    "trust": ("tunnel", "run_trust"),
}


def _add_node_dir(parser: argparse.ArgumentParser, config: bool = True) -> None:
    parser.add_argument("--cbdir", default=os.environ.get("CROSSBAR_DIR", DEFAULT_CBDIR),
                        help="node directory (default: .crossbar, or $CROSSBAR_DIR)")
    if config:
        parser.add_argument("--config", default=None, help="config file (default: CBDIR/config.json)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wampnode", description="A WAMP router node configured by one JSON file.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    init = commands.add_parser("init", help="create a node directory with a working config")
    init.add_argument("--appdir", default=".", help="application directory (default: current directory)")

    start = commands.add_parser("start", help="run the node in the foreground")
    _add_node_dir(start)
    start.add_argument("--loglevel", choices=LEVELS, default="info")
    start.add_argument("--logformat", choices=FORMATS, default="standard")

    for name, text in (("stop", "stop the node running in the node directory"),
                       ("status", "say whether a node runs in the node directory"),
                       ("reload", "re-read TLS certificates and keys (SIGHUP)")):
        sub = commands.add_parser(name, help=text)
        _add_node_dir(sub, config=False)
    commands.choices["status"].add_argument("--assert", dest="assert_state", choices=("running", "stopped"),
                                            help="exit 0 only if the node is in this state")
    commands.choices["stop"].add_argument("--timeout", type=float, default=10.0,
                                          help="seconds to wait for the node to exit")

    check = commands.add_parser("check", help="validate the configuration and exit")
    _add_node_dir(check)
    add_check_options(check)
    add_cert_parser(commands)
    commands.add_parser("version", help="print versions of wampnode and its stack")
    add_tunnel_parser(commands)  # tunnel, trust
    return parser


def run_command(args: argparse.Namespace) -> int:
    module_name, function_name = COMMANDS[args.command]
    module = importlib.import_module(f"node.commands.{module_name}")
    return getattr(module, function_name)(args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one subcommand; user errors print one line per problem, never a traceback."""
    args = build_parser().parse_args(argv)
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
