"""The ``wampnode`` command line: every subcommand's arguments, in one parser.

It is built on every ``wampnode`` run, so this module imports nothing but argparse:
``wampnode status`` must not pay for Twisted (not even its logger, which
:mod:`node.log` loads), the router or cryptography, and ``start`` on PyPy executes
itself again (:mod:`node.process.pypy_gc`) before loading any of them. What each
subcommand does is in its own module of this package (:mod:`node.commands.main`
imports it when it runs).
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Sequence

# What --loglevel and --logformat accept; node.log.start_logging understands each.
LEVELS = ("critical", "error", "warn", "info", "debug", "trace")
FORMATS = ("standard", "json")

DEFAULT_CBDIR = ".crossbar"
# The development certificate's names, for the help text: node.tls.devcerts.DEFAULT_HOSTS
# (not imported: it would load cryptography to build the parser).
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
SEND_MESSAGE_SIZE = 1500  # = node.bridge.framing.DEFAULT_SEND_MESSAGE_SIZE (not imported: CLI start-up time)
MAX_SEND_MESSAGE_SIZE = 16777216  # as the tcpbridge path's send_message_size
PIN_HELP = "accept only a server whose key has this base64 SHA-256 SPKI pin (repeatable)"


def _add_node_dir(parser: argparse.ArgumentParser, config: bool = True) -> None:
    parser.add_argument("--cbdir", default=os.environ.get("CROSSBAR_DIR", DEFAULT_CBDIR),
                        help="node directory (default: .crossbar, or $CROSSBAR_DIR)")
    if config:
        parser.add_argument("--config", default=None,
                            help="config file (default: CBDIR/config.json; a relative path is looked up "
                                 "in CBDIR first, as Crossbar.io does)")


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
    upgrade = commands.add_parser("upgrade", help="rewrite a version 1 (Crossbar.io) config as version 2")
    _add_node_dir(upgrade)
    add_cert_parser(commands)
    commands.add_parser("version", help="print versions of wampnode and its stack")
    add_tunnel_parser(commands)  # tunnel, trust
    return parser


def add_check_options(parser: argparse.ArgumentParser) -> None:
    """The TLS options of ``wampnode check``."""
    parser.add_argument("--strict", action="store_true",
                        help="treat TLS hygiene warnings as errors (exit 2)")
    parser.add_argument("--host", nargs="+", action="extend", default=[], metavar="NAME",
                        help="a host name clients use; each TLS certificate served for it "
                             "must cover it (repeatable)")
    parser.add_argument("--cafile", action="append", default=[], metavar="FILE",
                        help="root CA certificate(s) served chains must end at (repeatable)")


def _output_options(parser: argparse.ArgumentParser, name: str, leaf: bool = True,
                    hosts: Sequence[str] = ()) -> None:
    parser.add_argument("--dir", default=".", help="directory to write into (default: .)")
    parser.add_argument("--name", default=name,
                        help=f"file base name: NAME.key, NAME.crt (default: {name})")
    parser.add_argument("--rsa", type=int, nargs="?", const=3072, default=None, metavar="BITS",
                        help="an RSA key (default 3072 bits) instead of ECDSA P-256")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    if leaf:
        default = f" (default: {' '.join(hosts)})" if hosts else ""
        parser.add_argument("--host", nargs="+", action="extend", default=None,
                            required=not hosts, metavar="NAME",
                            help=f"DNS names and IP addresses (subjectAltName){default}")


def add_cert_parser(commands: Any) -> None:
    """Add ``cert`` and its subcommands to the ``wampnode`` subparsers."""
    cert = commands.add_parser("cert", help="make and inspect TLS keys and certificates")
    sub = cert.add_subparsers(dest="cert_command", metavar="ACTION")
    sub.required = True

    selfsigned = sub.add_parser("selfsigned", help="a self-signed development certificate")
    _output_options(selfsigned, "server", hosts=DEFAULT_HOSTS)
    selfsigned.add_argument("--days", type=int, default=90, help="validity (1..397, default 90)")

    ca = sub.add_parser("ca", help="a private root CA (key + self-signed CA certificate)")
    _output_options(ca, "ca", leaf=False)
    ca.add_argument("--cn", default="wampnode private CA", help="the CA's common name")
    ca.add_argument("--days", type=int, default=3650, help="validity (default 3650)")

    issue = sub.add_parser("issue", help="a server (or --client) certificate from a private CA")
    _output_options(issue, "server")
    issue.add_argument("--ca", required=True, metavar="DIR",
                       help="directory of the CA made by `wampnode cert ca`")
    issue.add_argument("--ca-name", default="ca", help="CA file base name in DIR (default: ca)")
    issue.add_argument("--days", type=int, default=90, help="validity (1..397, default 90)")
    issue.add_argument("--client", action="store_true",
                       help="a client certificate (clientAuth; CN = first --host) for mutual TLS")

    csr = sub.add_parser("csr", help="a key and a certificate signing request for a public CA")
    _output_options(csr, "server")

    show = sub.add_parser("show", help="print what PEM certificates, CSRs or keys hold")
    show.add_argument("files", nargs="+", metavar="FILE")


def add_trust_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line form of the ``trust`` block (same names, same defaults)."""
    parser.add_argument("--cafile", help="PEM file of CA certificates to trust in addition")
    parser.add_argument("--capath", help="directory of PEM CA certificates to trust in addition")
    parser.add_argument("--trust-store", dest="store", choices=("system", "certifi", "none", "jit"),
                        help="root CAs: system store (default), certifi's bundle, none, or jit")
    parser.add_argument("--jit-bundle", help="PEM bundle JIT trust looks CAs up in (default: certifi's)")
    parser.add_argument("--pin-sha256", action="append", dest="pins", metavar="B64", help=PIN_HELP)


def add_tunnel_parser(commands: Any) -> None:
    tunnel = commands.add_parser("tunnel", help="carry local TCP connections over a WebSocket bridge")
    where = tunnel.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen", metavar="HOST:PORT", help="accept local connections here, e.g. 127.0.0.1:2222")
    where.add_argument("--stdio", action="store_true", help="carry stdin/stdout once (ssh ProxyCommand)")
    tunnel.add_argument("url", help="the bridge's URL, ws://... or wss://...")
    tunnel.add_argument("--base64", action="store_true", help="offer the base64 subprotocol (text frames)")
    tunnel.add_argument("--proxy", help="HTTP proxy URL http://[user:password@]host:port "
                                        "(default: HTTPS_PROXY/HTTP_PROXY unless NO_PROXY matches; '' for none)")
    tunnel.add_argument("--origin", help="Origin header to send")
    tunnel.add_argument("--connect-timeout", type=float, default=10.0, help="seconds for TCP, proxy, TLS and upgrade")
    tunnel.add_argument("--max-message-size", type=int, default=65536,
                        help="largest WebSocket message accepted (octets, default 65536; at least 2026)")
    tunnel.add_argument("--send-message-size", type=int, default=SEND_MESSAGE_SIZE,
                        help=f"largest WebSocket message sent (octets, default {SEND_MESSAGE_SIZE}, what every "
                             "server must accept; raise it for a server known to accept more)")
    tunnel.add_argument("--loglevel", choices=("error", "warn", "info", "debug"), default=None)
    add_trust_arguments(tunnel)

    trust = commands.add_parser("trust", help="outgoing TLS trust tools")
    actions = trust.add_subparsers(dest="trust_command", metavar="ACTION")
    actions.required = True
    diagnose = actions.add_parser("diagnose", help="show a server's chain and whether (and why not) it is trusted")
    diagnose.add_argument("url", help="https://host:port (or wss://)")
    diagnose.add_argument("--timeout", type=float, default=10.0)
    add_trust_arguments(diagnose)
