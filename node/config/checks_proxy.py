"""Checks of proxy workers and of the router's proxy authentication that the schema cannot express.

- Every route names a connection of its worker, and a proxy has at least one route.
- ``anonymous-proxy`` trusts whoever connects: the router offers it only on a Unix socket, and a
  proxy uses it only over one (Crossbar.io's proxy refuses it over TCP too).
- A proxy's own transports authenticate clients: ``anonymous-proxy`` / ``cryptosign-proxy``
  there would let a client name any identity.
- The sessions a proxy opens for itself (the HTTP bridge's ``caller``, ``publisher`` and
  ``webhook`` and ``wap`` paths, dynamic authenticators) need a route for their realm and role.

The checks of the proxy's transports that a router's transports get too (directories,
archives, interfaces...) run from :mod:`node.config.checks` on a view of the config.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Tuple

from node.config import model
from node.errors import ConfigError

Check = Callable[[model.NodeConfig, Dict[str, Any], str], List[ConfigError]]

PROXY_METHODS = ("anonymous-proxy", "cryptosign-proxy")
SERVICE_ROLE = "trusted"  # the role of a proxy's dynamic authenticator call when none is configured


def proxies(config: model.NodeConfig) -> List[model.ProxyWorker]:
    return [w for w in config.workers if isinstance(w, model.ProxyWorker)]


def transport_auth(transport: model.Transport) -> Iterator[Tuple[str, Tuple[model.AuthMethod, ...]]]:
    """(JSON path of the ``auth``, its methods) of every WAMP service of a transport."""
    if transport.websocket is not None:
        yield f"{transport.path}.auth", transport.websocket.auth
    if transport.rawsocket is not None:
        yield f"{transport.rawsocket.path}.auth", transport.rawsocket.auth
    for service in transport.websocket_paths.values():
        yield f"{service.path}.auth", service.auth
    if transport.web is not None:
        for service in transport.web.paths.values():
            inner = getattr(service, "service", None)
            auth = getattr(inner, "auth", None) if inner is not None else getattr(service, "auth", None)
            if auth is not None:
                yield f"{getattr(inner, 'path', None) or service.path}.auth", auth


def check_proxy_routes(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    for worker in proxies(config):
        if not worker.routes:
            errors.append(ConfigError(f"{where}: {worker.path}.routes", "a proxy worker without routes refuses "
                                      "every session", "Add `\"routes\": {\"realm1\": {\"anonymous\": \"conn1\"}}`"))
        for realm, roles in worker.routes.items():
            for role, name in roles.items():
                if name not in worker.connections:
                    errors.append(ConfigError(f"{where}: {worker.path}.routes.{realm}.{role}",
                                              f"connection {name!r} is not defined",
                                              f"Use one of {sorted(worker.connections)} or add it to "
                                              f"{worker.path}.connections"))
    return errors


def check_anonymous_proxy_unix(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    for transport in config.transports:
        for at, methods in transport_auth(transport):
            if any(m.method == "anonymous-proxy" for m in methods) \
                    and not isinstance(transport.endpoint, model.UnixEndpoint):
                errors.append(ConfigError(f"{where}: {at}.anonymous-proxy",
                                          "anonymous-proxy trusts any peer that connects: only on a Unix socket",
                                          "Serve it on a transport with a `unix` endpoint, or use "
                                          "`cryptosign-proxy` over TCP"))
    for worker in proxies(config):
        for name, conn in worker.connections.items():
            if conn.auth == "anonymous-proxy" and conn.transport.endpoint.type != "unix":
                errors.append(ConfigError(f"{where}: {conn.path}.auth",
                                          "anonymous-proxy is used only over a Unix socket (Crossbar.io's rule)",
                                          "Connect over a `unix` endpoint, or use "
                                          "`\"auth\": {\"cryptosign-proxy\": {\"type\": \"static\"}}`"))
    return errors


def check_proxy_frontend_auth(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    for worker in proxies(config):
        for transport in worker.transports:
            for at, methods in transport_auth(transport):
                for method in methods:
                    if method.method in PROXY_METHODS:
                        errors.append(ConfigError(f"{where}: {at}.{method.method}",
                                                  f"{method.method} authenticates a proxy at a router, not a "
                                                  f"client at a proxy", "Remove it from the proxy's transport"))
    return errors


def service_routes(worker: model.ProxyWorker) -> Iterator[Tuple[str, str, str, str]]:
    """(JSON path, realm, role, what) of every session the proxy opens for itself; realm
    None in a dynamic authenticator means: the realm of the session being authenticated."""
    for transport in worker.transports:
        if transport.web is not None:
            for service in transport.web.paths.values():
                if isinstance(service, model.BRIDGE_PATHS):
                    yield service.path, service.realm, service.role, "the bridge path's session"
                elif isinstance(service, model.WapPath):
                    yield f"{service.path}.wamp", service.realm, service.role, "the wap path's session"
        for at, methods in transport_auth(transport):
            for method in methods:
                settings = method.settings
                if method.type == "dynamic" and isinstance(settings, model.DynamicSettings):
                    realm = settings.authenticator_realm or ""
                    role = settings.authenticator_role or SERVICE_ROLE
                    yield f"{at}.{method.method}", realm, role, "the authenticator's call"


def check_proxy_service_routes(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    for worker in proxies(config):
        for at, realm, role, what in service_routes(worker):
            realms = [realm] if realm else sorted(worker.routes)
            missing = [r for r in realms if worker.connection_for(r, role) is None]
            for name in missing:
                errors.append(ConfigError(f"{where}: {at}",
                                          f"{what} joins realm {name!r} as role {role!r}, which has no route",
                                          f"Add `{role!r}: <connection>` to {worker.path}.routes.{name}"))
    return errors


PROXY_CHECKS: Tuple[Check, ...] = (check_proxy_routes, check_anonymous_proxy_unix, check_proxy_frontend_auth,
                                   check_proxy_service_routes)
