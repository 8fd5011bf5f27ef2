"""A proxy worker: its transports listen, its sessions are relayed to the router.

:class:`ProxyWorkerRuntime` is the :class:`~node.workers.router.RouterWorker` machinery
(transports, TLS, listening, orderly close) with a
:class:`~node.workers.proxy_router.ProxyRouter` in place of the router. Several proxy
processes share a port through ``"shared": true`` endpoints (SO_REUSEPORT), as the
router processes of ``processes: N`` do. The process around it is
:mod:`node.process.proxy_process`.
"""
from __future__ import annotations

from typing import Any, Optional

from twisted.internet import defer
from twisted.logger import Logger

from node.config.model import NodeConfig, ProxyWorker
from node.workers.node_key import read_node_key
from node.workers.proxy_backend import NodeKey
from node.workers.proxy_router import ProxyRouter
from node.workers.router import RouterWorker

log = Logger()


def worker_config(spec: ProxyWorker, cbdir: str, config_file: str) -> NodeConfig:
    """The node configuration as the proxy's transports see it: its transports, no realm."""
    return NodeConfig(cbdir=cbdir, config_file=config_file, realms=(), transports=spec.transports,
                      router_path=spec.path)


def node_key(spec: ProxyWorker, cbdir: str) -> Optional[NodeKey]:
    """The node key, if a connection signs with it (``cryptosign-proxy``).

    @raise ConfigError: the key file is missing or invalid (the node writes it before starting proxies).
    """
    if not any(c.auth == "cryptosign-proxy" for c in spec.connections.values()):
        return None
    seed, public = read_node_key(cbdir)
    return NodeKey(seed, public)


class ProxyWorkerRuntime:
    """The proxy's transports and router stand-in in this process."""

    def __init__(self, spec: ProxyWorker, cbdir: str, config_file: str, reactor: Any) -> None:
        self.spec = spec
        self.router = ProxyRouter(spec, reactor, node_key(spec, cbdir))
        self.worker = RouterWorker(worker_config(spec, cbdir, config_file), reactor, self.router)

    def start(self) -> defer.Deferred:
        """Listen on every transport (TLS files read first).

        @raise NodeError: (as the Deferred's failure) TLS or listen errors.
        """
        d = self.worker.start()
        d.addCallback(self._listening)
        return d

    def _listening(self, _: Any) -> None:
        routes = "; ".join(f"{realm}: " + ", ".join(f"{role} -> {name}" for role, name in sorted(roles.items()))
                           for realm, roles in sorted(self.spec.routes.items()))
        log.info("Proxy {id} ready: {count} transport(s) listening; routes {routes}", id=self.spec.id,
                 count=len(self.worker.ports), routes=routes or "none")

    def summary(self) -> str:
        return f"{len(self.worker.ports)} transport(s), {self.router.session_count()} session(s)"

    def stop(self) -> defer.Deferred:
        """Stop listening, close the client connections (their router sessions leave), then our own."""
        return self.worker.stop()  # closes the router stand-in too: the proxy's own sessions leave


__all__ = ["ProxyWorkerRuntime", "node_key", "worker_config"]
