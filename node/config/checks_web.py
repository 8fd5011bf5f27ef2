"""Checks of the HTTP bridge and reverse-proxy web paths that the schema cannot express.

- A bridge path's session joins a realm of this router under a role that realm
  has (as a router component's must): else every request would fail at run time.
- ``require_ip`` entries are addresses or networks (``192.168.1.1/255.255.255.0``,
  as Crossbar.io's examples write them, means that address's network).
- Crossbar.io's HTTP subscriber and callee are container components
  (``crossbar.bridge.rest.MessageForwarder`` / ``RESTCallee``, formerly under
  ``crossbar.adapter.rest``): those names load wampnode's classes
  (:mod:`node.workers.rest_components`), and their ``extra`` is checked here.
- A ``websocket-reverseproxy`` backend with ``tls`` is refused (not implemented).
- A ``longpoll`` path needs ``processes: 1`` (its transports live in one process).
"""
from __future__ import annotations

import ipaddress
from typing import Any, Callable, Dict, Iterable, List, Tuple

from node.config import model
from node.errors import ConfigError

Check = Callable[[model.NodeConfig, Dict[str, Any], str], List[ConfigError]]

# Crossbar.io's classes of the HTTP bridge that run as container components -> wampnode's (node.workers)
REST_COMPONENTS = {
    f"crossbar.{package}.rest.{name}": f"node.workers.rest_components.{name}"
    for package in ("bridge", "adapter") for name in ("MessageForwarder", "RESTCallee")
}


def _bridge_paths(config: model.NodeConfig) -> List[Any]:
    return [service for t in config.transports if t.web for service in t.web.paths.values()
            if isinstance(service, model.BRIDGE_PATHS)]


def session_realm_errors(config: model.NodeConfig, where: str,
                         sessions: Iterable[Tuple[str, str, str, str, str]]) -> List[ConfigError]:
    """Sessions the node opens itself (router components, bridge and wap paths) join a
    realm of this router under a role that realm has. ``sessions``: for each, the JSON
    paths of its realm and role, the realm, the role, and whose session it is."""
    realms = {r.name: r for r in config.realms}
    errors: List[ConfigError] = []
    for realm_path, role_path, name, role, whose in sessions:
        realm = realms.get(name)
        if realm is None:
            errors.append(ConfigError(f"{where}: {realm_path}", f"realm {name!r} is not a realm of this router",
                                      f"Use one of {sorted(realms)} or add the realm to {config.router_path}.realms"))
        elif realm.roles and role not in {r.name for r in realm.roles}:
            names = sorted(r.name for r in realm.roles)
            errors.append(ConfigError(f"{where}: {role_path}", f"realm {name!r} has no role {role!r} "
                                      f"({whose} could not join)",
                                      f"Use one of {names}, or add a role {role!r} to the realm"))
    return errors


def check_bridge_realms(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    return session_realm_errors(config, where, ((f"{s.path}.realm", f"{s.path}.role", s.realm, s.role,
                                                 "the bridge's session") for s in _bridge_paths(config)))


def ip_network(entry: str) -> Any:
    """``entry`` as a network (an address is a network of one); ValueError if it is neither."""
    return ipaddress.ip_network(entry.strip(), strict=False)


def check_require_ip(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    for service in _bridge_paths(config):
        for i, entry in enumerate(service.checks.require_ip or ()):
            try:
                ip_network(entry)
            except ValueError as e:
                errors.append(ConfigError(f"{where}: {service.path}.options.require_ip[{i}]",
                                          f"{entry!r} is not an IP address or network ({e})",
                                          "Write an address (`127.0.0.1`, `::1`) or a network "
                                          "(`10.0.0.0/8`, `192.168.1.0/255.255.255.0`)"))
    return errors


def _extra_problems(classname: str, extra: Dict[str, Any]) -> List[Tuple[str, str]]:
    """(key, problem) of an HTTP subscriber's or callee's ``extra``, as its class reads it."""
    if classname.endswith("RESTCallee"):
        return [(key, f"needs `{key}` (a string)") for key in ("procedure", "baseurl")
                if not isinstance(extra.get(key), str)]
    subscriptions = extra.get("subscriptions")
    if not isinstance(subscriptions, list) or not subscriptions:
        return [("subscriptions", "needs `subscriptions`: a list of {\"topic\", \"url\"}")]
    return [(f"subscriptions[{i}]", "needs `topic` and `url` (strings)") for i, s in enumerate(subscriptions)
            if not (isinstance(s, dict) and isinstance(s.get("topic"), str) and isinstance(s.get("url"), str))]


def check_rest_components(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """Crossbar.io's HTTP subscriber and callee components get the ``extra`` they read."""
    errors: List[ConfigError] = []
    for worker in config.workers:
        for component in getattr(worker, "components", ()):
            if (component.classname or "") in REST_COMPONENTS:
                errors += [ConfigError(f"{where}: {component.path}.extra.{key}", f"{component.classname}: {problem}",
                                       "See the README's HTTP bridge section")
                           for key, problem in _extra_problems(component.classname, dict(component.extra or {}))]
    return errors


def check_websocket_backend_tls(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """TLS to a ``websocket-reverseproxy`` backend is not implemented: refused, never plain text instead."""
    return [ConfigError(f"{where}: {service.backend.endpoint.path}.tls",
                        "TLS to a websocket-reverseproxy backend is not supported yet",
                        "Use a `reverseproxy` path with `tls` (it passes WebSocket upgrades through), or a plain "
                        "backend on 127.0.0.1")
            for t in config.transports if t.web for service in t.web.paths.values()
            if isinstance(service, model.WebSocketReverseProxyPath) and service.backend.endpoint.tls is not None]


WEB_CHECKS: Tuple[Check, ...] = (check_bridge_realms, check_require_ip, check_rest_components,
                                 check_websocket_backend_tls)




def check_longpoll_processes(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """A long-poll transport lives in the process that opened it; with several router processes
    sharing the port, its next request would reach another process (404)."""
    if config.cluster is None or config.cluster.processes == 1:
        return []
    return [ConfigError(f"{where}: {service.path}",
                        f"a long-poll client's requests must all reach one process, and "
                        f"{config.cluster.processes} router processes share this port",
                        "Serve long-poll from a node with `\"processes\": 1` (a cluster of such nodes works), "
                        "or remove this path")
            for t in config.transports if t.web for service in t.web.paths.values()
            if isinstance(service, model.LongPollPath)]


WEB_CHECKS += (check_longpoll_processes,)
