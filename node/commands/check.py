"""``wampnode check``: validate the configuration, then judge its TLS material.

Errors (schema, files, settings OpenSSL refuses) exit 2 as at start-up. The
TLS hygiene rules of :mod:`node.tls.hygiene` print as ``warning:`` lines and
leave the exit code 0, unless ``--strict`` makes them ``error:`` lines and
exit 2 (for CI and deploy scripts). ``--host`` names the host names clients
use, which the certificates' SANs must cover; ``--cafile`` gives the roots a
served chain should end at, to find a missing intermediate of a private CA.
"""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, List

from node.errors import TlsError

if TYPE_CHECKING:  # imported lazily: the CLI parser is built on every start
    from cryptography import x509


def add_check_options(parser: argparse.ArgumentParser) -> None:
    """The TLS options of ``wampnode check``."""
    parser.add_argument("--strict", action="store_true",
                        help="treat TLS hygiene warnings as errors (exit 2)")
    parser.add_argument("--host", nargs="+", action="extend", default=[], metavar="NAME",
                        help="a host name clients use; each TLS certificate served for it "
                             "must cover it (repeatable)")
    parser.add_argument("--cafile", action="append", default=[], metavar="FILE",
                        help="root CA certificate(s) served chains must end at (repeatable)")


def _roots(files: List[str]) -> "List[x509.Certificate]":
    from node.tls.pem import load_certificates

    roots: "List[x509.Certificate]" = []
    for path in files:
        roots += load_certificates("--cafile", path)
    return roots


def run_check(args: argparse.Namespace) -> int:
    """Validate; print TLS warnings; exit 0, or 2 on errors (and warnings if strict)."""
    from node.config import load_config
    from node.tls.hygiene import tls_warnings

    config = load_config(args.cbdir, args.config)
    hosts = getattr(args, "host", [])
    strict = getattr(args, "strict", False)
    roots = _roots(getattr(args, "cafile", []))
    warnings: List[str] = []
    for transport in config.transports:
        if transport.endpoint.tls is not None:
            warnings += tls_warnings(transport.endpoint.tls, hosts=hosts, roots=roots)
    label = "error" if strict else "warning"
    for warning in warnings:
        print(f"{label}: {warning}", file=sys.stderr)
    summary = f"{len(config.realms)} realm(s), {len(config.transports)} transport(s)"
    if config.components or config.workers:
        summary += f", {len(config.components)} router component(s), {len(config.workers)} container/guest worker(s)"
    if strict and warnings:
        print(f"{config.config_file}: {len(warnings)} TLS problem(s) (--strict)", file=sys.stderr)
        return TlsError.exit_code
    extra = f", {len(warnings)} warning(s)" if warnings else ""
    print(f"{config.config_file}: OK ({summary}{extra})")
    return 0
