"""``wampnode check``: validate the configuration, then read and judge its TLS material.

The configuration is loaded as at start-up, then every TLS and trust file it
names is read and checked by the builders start-up uses
(:mod:`node.workers.credentials`). Errors (schema, files, settings
OpenSSL refuses) exit 2 as at start-up. The TLS hygiene rules of
:mod:`node.tls.hygiene` print as ``warning:`` lines and leave the exit code 0,
unless ``--strict`` makes them ``error:`` lines and exit 2 (for CI and deploy
scripts); warnings about the config (:mod:`node.config.advisories`) and about
TLS settings served otherwise than written (a too-small ``dhparam``: DHE off)
stay warnings. ``--host`` names the host names clients use, which the certificates'
SANs must cover; ``--cafile`` gives the roots a served chain should end at, to
find a missing intermediate of a private CA.

The arguments are :mod:`node.commands.parsers`'.
"""
from __future__ import annotations

import argparse
import sys

from node.config import load_config
from node.config.advisories import config_warnings
from node.config.model import ProxyWorker
from node.errors import TlsError
from node.tls.pem import load_certificates
from node.workers.credentials import check_files, hygiene_warnings, setting_warnings


def run_check(args: argparse.Namespace) -> int:
    """Validate; print TLS warnings; exit 0, or 2 on errors (and warnings if strict)."""
    config = load_config(args.cbdir, args.config)
    servers = check_files(config).values()  # raises ConfigErrors: every TLS and trust fault
    roots = [cert for path in getattr(args, "cafile", []) for cert in load_certificates("--cafile", path)]
    warnings = hygiene_warnings(servers, hosts=getattr(args, "host", []), roots=roots)
    strict = getattr(args, "strict", False)
    label = "error" if strict else "warning"
    for warning in warnings:
        print(f"{label}: {warning}", file=sys.stderr)
    loose = config_warnings(config) + setting_warnings(config, servers)  # warnings even with --strict
    for warning in loose:
        print(f"warning: {warning}", file=sys.stderr)
    summary = f"{len(config.realms)} realm(s), {len(config.transports)} transport(s)"
    if config.components or config.workers:
        proxies = sum(1 for w in config.workers if isinstance(w, ProxyWorker))
        summary += (f", {len(config.components)} router component(s), "
                    f"{len(config.workers) - proxies} container/guest worker(s)")
        if proxies:
            summary += f", {proxies} proxy worker(s)"
    if strict and warnings:
        print(f"{config.config_file}: {len(warnings)} TLS problem(s) (--strict)", file=sys.stderr)
        return TlsError.exit_code
    extra = f", {len(warnings) + len(loose)} warning(s)" if warnings or loose else ""
    print(f"{config.config_file}: OK ({summary}{extra})")
    return 0
