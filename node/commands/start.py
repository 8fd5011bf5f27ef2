"""``wampnode start``: check the configuration, claim the node directory, run.

Order matters: configuration errors are reported before anything listens or any
pidfile is written; the pidfile is claimed before ports are opened, so two nodes
in one directory never fight over ports.
"""
from __future__ import annotations

import argparse
import os
from typing import Any, Optional

from twisted.logger import Logger

from node.config import load_config
from node.config.advisories import config_warnings
from node.fastpath.reactor import install as install_node_reactor
from node.fastpath.write_coalescing import FLUSHER
from node.log import start_logging
from node.process.malloc import tune_malloc
from node.process.node import NodeProcess
from node.process.pidfile import remove_pidfile, write_pidfile

log = Logger()


def run_start(args: argparse.Namespace) -> int:
    return serve(cbdir=args.cbdir, config_file=args.config, loglevel=args.loglevel,
                 logformat=args.logformat, debug=args.debug)


def serve(cbdir: str, config_file: Optional[str], loglevel: str, logformat: str, debug: bool,
          reactor: Any = None) -> int:
    """Run the node until a signal stops it. Returns the process exit code.

    @raise ConfigErrors: the configuration is invalid (reported by the command).
    """
    cbdir = os.path.abspath(cbdir)
    config = load_config(cbdir, config_file)
    if config.cluster is not None and config.cluster.processes > 1:
        # node.tls and node.trust load only here: a node without TLS need not pay ~30 ms for them
        from node.workers.credentials import check_files

        check_files(config)  # the router processes build their own TLS: refuse bad files before any starts
    start_logging(loglevel, logformat)
    tune_malloc()  # large messages without page-fault storms (see node/process/malloc.py)
    for warning in config_warnings(config):
        log.warn("{warning}", warning=warning)
    warning = write_pidfile(cbdir)
    if warning:
        log.warn("{warning}", warning=warning)
    try:
        if config.cluster is not None and config.cluster.processes > 1:
            # imported here: a single-process node never loads node.cluster nor nats-py
            from node.process.supervisor import supervise

            return supervise(config, loglevel, logformat, debug)
        return _run_here(config, reactor, debug, loglevel)
    finally:
        remove_pidfile(cbdir)


def _run_here(config: Any, reactor: Any, debug: bool, loglevel: str) -> int:
    if reactor is None and config.cluster is not None:
        # imported here: nats-py needs asyncio's loop, installed before any reactor import
        from node.cluster.backplane import install_asyncio_reactor

        reactor = install_asyncio_reactor()
    if reactor is None:
        reactor = install_node_reactor()
    FLUSHER.attach(reactor)  # replies leave before the next poll, not after it
    return NodeProcess(config, reactor, debug, loglevel=loglevel).run()
