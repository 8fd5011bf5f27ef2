"""The ``wampnode`` command. Each subcommand returns an exit code; only
``node/__main__.py`` (and the console script wrapper) exits.

Exit codes: 0 success, 1 runtime failure (cannot listen, not running),
2 configuration error.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Dict, Optional, Sequence

from node.errors import NodeError

DEFAULT_CBDIR = ".crossbar"


def _add_node_dir(parser: argparse.ArgumentParser, config: bool = True) -> None:
    parser.add_argument("--cbdir", default=os.environ.get("CROSSBAR_DIR", DEFAULT_CBDIR),
                        help="node directory (default: .crossbar, or $CROSSBAR_DIR)")
    if config:
        parser.add_argument("--config", default=None, help="config file (default: CBDIR/config.json)")


def build_parser() -> argparse.ArgumentParser:
    from node.log import FORMATS, LEVELS

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
    from node.commands.cert import add_cert_parser
    from node.commands.check import add_check_options

    add_check_options(check)
    add_cert_parser(commands)

    commands.add_parser("version", help="print versions of wampnode and its stack")
    from node.commands.tunnel import add_tunnel_parser

    add_tunnel_parser(commands)  # tunnel, trust
    return parser


def _print_error(error: NodeError) -> None:
    for line in error.line().splitlines():
        print(line, file=sys.stderr)


def cmd_init(args: argparse.Namespace) -> int:
    from node.commands.init import init_node

    created = init_node(args.appdir)
    for path in created:
        print(f"created {path}")
    print(f"Start the node with: cd {args.appdir} && wampnode start")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    from node.process.node import serve

    return serve(cbdir=args.cbdir, config_file=args.config, loglevel=args.loglevel,
                 logformat=args.logformat, debug=args.debug)


def cmd_check(args: argparse.Namespace) -> int:
    from node.commands.check import run_check

    return run_check(args)


def cmd_cert(args: argparse.Namespace) -> int:
    from node.commands.cert import run_cert

    return run_cert(args)


def cmd_stop(args: argparse.Namespace) -> int:
    from node.commands.control import stop_node

    return stop_node(args.cbdir, args.timeout)


def cmd_status(args: argparse.Namespace) -> int:
    from node.commands.control import node_status

    return node_status(args.cbdir, args.assert_state)


def cmd_reload(args: argparse.Namespace) -> int:
    from node.commands.control import reload_node

    return reload_node(args.cbdir)


def cmd_version(args: argparse.Namespace) -> int:
    import platform

    import autobahn
    import cryptography
    import OpenSSL
    import twisted
    from OpenSSL import SSL

    from node import __version__

    print(f"wampnode     {__version__}")
    print(f"Python       {platform.python_implementation()} {platform.python_version()}")
    print(f"Twisted      {twisted.__version__}")
    print(f"autobahn     {autobahn.__version__}")
    print(f"pyOpenSSL    {OpenSSL.__version__}")
    print(f"cryptography {cryptography.__version__}")
    print(f"OpenSSL      {SSL.OpenSSL_version(SSL.OPENSSL_VERSION).decode()}")
    return 0


COMMANDS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "init": cmd_init, "start": cmd_start, "check": cmd_check, "stop": cmd_stop,
    "status": cmd_status, "reload": cmd_reload, "version": cmd_version, "cert": cmd_cert,
    "tunnel": lambda args: _tunnel_command("run_tunnel", args),
    "trust": lambda args: _tunnel_command("run_trust", args),
}


def _tunnel_command(name: str, args: argparse.Namespace) -> int:
    from node.commands import tunnel as command

    return getattr(command, name)(args)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one subcommand; user errors print one line per problem, never a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except NodeError as e:
        if args.debug:
            import traceback

            traceback.print_exc()
        _print_error(e)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug: say so in one line; the traceback is for --debug
        if args.debug:
            raise
        print(f"wampnode {args.command}: internal error: {e.__class__.__name__}: {e} "
              f"(run with --debug for the traceback, and please report it)", file=sys.stderr)
        return 1
