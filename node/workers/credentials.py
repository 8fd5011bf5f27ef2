"""The TLS objects a node's configuration asks for, each built once from its files.

Loading the configuration (:mod:`node.config`) reads ``config.json`` only. The
files its TLS and ``trust`` blocks name are read by the layer that uses them,
once per start (and once per reload):

- a :class:`~node.tls.context.ServerTls` per endpoint with ``tls``, built here
  for :class:`~node.workers.router.RouterWorker` before anything listens; each key,
  certificate, DH and OCSP file is read once, and the hygiene warnings judge
  what was read (``ServerTls.material``);
- the :class:`~node.trust.ClientTrust` of each ``tcpbridge`` target with
  ``tls``, built (and its CA files read) by the bridge itself when the node
  builds its transports.

``wampnode check`` calls the same builders (:func:`check_files`), so it reports
the same faults as start-up: every one at once, one line each, starting with
the config file as configuration errors do (:func:`node.config.file_errors`),
and the same warnings: the hygiene ones (:func:`hygiene_warnings`), and
settings served otherwise than written (:func:`setting_warnings`), which start
with the config file as :func:`node.config.advisories.config_warnings`' do.
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Sequence, Tuple

from cryptography import x509

from node.config import file_errors
from node.config.model import NodeConfig, ReverseProxyPath, TcpBridgePath
from node.errors import TlsError
from node.tls.context import ServerTls, load_server_tls
from node.tls.hygiene import tls_warnings
from node.trust import ClientTrust

__all__ = ["server_tls_by_transport", "bridge_trust_problems", "check_files", "hygiene_warnings",
           "setting_warnings"]


def server_tls_by_transport(config: NodeConfig) -> Tuple[Dict[str, ServerTls], List[TlsError]]:
    """A ServerTls for each transport with TLS (keyed by the transport's JSON path),
    and every fault of every TLS block."""
    built: Dict[str, ServerTls] = {}
    problems: List[TlsError] = []
    for transport in config.transports:
        if transport.endpoint.tls is None:
            continue
        tls, found = load_server_tls(transport.endpoint.tls)
        problems += found
        if tls is not None:
            built[transport.path] = tls
    return built, problems


def bridge_trust_problems(config: NodeConfig) -> List[TlsError]:
    """Every file fault of the ``trust`` of each ``tcpbridge`` target and ``reverseproxy`` with ``tls``,
    found as the bridge finds them (``ClientTrust(...).check()``)."""
    problems: List[TlsError] = []
    for transport in config.transports:
        for service in (transport.web.paths.values() if transport.web else ()):
            if isinstance(service, TcpBridgePath) and service.target.tls is not None:
                problems += ClientTrust(service.target.tls.trust).check()
            elif isinstance(service, ReverseProxyPath) and service.tls is not None:
                problems += ClientTrust(service.tls.trust).check()
    return problems


def check_files(config: NodeConfig) -> Dict[str, ServerTls]:
    """Read and check every TLS and trust file of ``config``; the ServerTls built.

    @raise ConfigErrors: every fault found (TLS blocks first, then trust blocks).
    """
    built, problems = server_tls_by_transport(config)
    problems += bridge_trust_problems(config)
    if problems:
        raise file_errors(config, problems)
    return built


def hygiene_warnings(servers: Iterable[ServerTls], hosts: Sequence[str] = (),
                     roots: Sequence[x509.Certificate] = ()) -> List[str]:
    """The hygiene warnings of each ServerTls, judging the files as they were read.

    ``hosts`` and ``roots`` are those of :func:`node.tls.hygiene.tls_warnings`.
    """
    return [warning for tls in servers
            for warning in tls_warnings(tls.options, hosts=hosts, roots=roots, material=tls.material)]


def setting_warnings(config: NodeConfig, servers: Iterable[ServerTls]) -> List[str]:
    """Settings each ServerTls serves otherwise than written (a ``dhparam`` OpenSSL refuses as
    too small: DHE is off), one ``<config file>: <json path>: problem. Fix: ...`` line each.

    Like :func:`node.config.advisories.config_warnings` (which cannot judge TLS
    files: node.config sits below node.tls), the node starts regardless and
    ``--strict`` leaves them warnings: nothing weak is served.
    """
    warnings = [warning for tls in servers for warning in tls.warnings]
    return [e.line() for e in file_errors(config, warnings).errors] if warnings else []
