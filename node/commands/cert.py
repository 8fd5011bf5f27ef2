"""``wampnode cert``: make and inspect keys and certificates, no openssl needed.

::

    wampnode cert selfsigned --host localhost 127.0.0.1   # dev: server.key + server.crt
    wampnode cert ca --dir ca                              # a private root CA: ca/ca.key + ca/ca.crt
    wampnode cert issue --ca ca --host node.example.com    # a leaf from it
    wampnode cert issue --ca ca --host alice --client      # a client certificate (mTLS)
    wampnode cert csr --host example.com www.example.com   # key + CSR for a public CA
    wampnode cert show server.crt                          # what is in a PEM file

This module holds the command line, which is built on every ``wampnode`` run;
the actions are :mod:`node.commands.cert_actions`, imported when one runs.
"""
from __future__ import annotations

import argparse
from typing import Any, Sequence

# The development certificate's names, for the help text: node.tls.devcerts.DEFAULT_HOSTS
# (not imported: it would load cryptography to build the parser).
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")

__all__ = ["add_cert_parser", "run_cert", "DEFAULT_HOSTS"]


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


def run_cert(args: argparse.Namespace) -> int:
    """Run one ``wampnode cert`` action; errors are TlsErrors the CLI prints in one line."""
    # Imported here: the actions need cryptography (~35 ms), which `wampnode stop`,
    # `status` and `reload` would otherwise load just to build their parser.
    from node.commands.cert_actions import ACTIONS

    return ACTIONS[args.cert_command](args)
