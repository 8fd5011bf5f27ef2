"""Checks the schema cannot express: directories exist, ports do not clash, one worker.

Each check is a small function returning a list of one-line :class:`ConfigError`;
all of them run, so a user sees every problem at once. The files of TLS blocks
(keys, certificates, DH, OCSP) and of ``trust`` blocks are not read here: the
layers that use them read and check them once, when they build their TLS
objects (:mod:`node.workers.credentials`), and report in the same form.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
from typing import Any, Callable, Dict, List, Optional, Tuple

from node.config import model
from node.config.checks_auth import AUTH_CHECKS
from node.config.checks_proxy import PROXY_CHECKS, proxies
from node.config.checks_web import WEB_CHECKS, check_bridge_realms
from node.config.checks_webapps import WEBAPP_CHECKS, check_wap_realms
from node.config.checks_workers import WORKER_CHECKS
from node.errors import ConfigError

Check = Callable[[model.NodeConfig, Dict[str, Any], str], List[ConfigError]]


def check_one_worker(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    routers = [i for i, w in enumerate(raw["workers"]) if w["type"] == "router"]
    return [ConfigError(f"{where}: workers[{i}]", "wampnode runs a single router worker",
                        f"Move its realms and transports into workers[{routers[0]}]; to use more cores, set "
                        f"`\"processes\": N` in workers[{routers[0]}].options (see \"Using more than one core\")")
            for i in routers[1:]]


def check_unique_names(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    seen: Dict[str, int] = {}
    for i, realm in enumerate(config.realms):
        if realm.name in seen:
            errors.append(ConfigError(f"{where}: {config.router_path}.realms[{i}].name",
                                      f"realm {realm.name!r} is already defined at realms[{seen[realm.name]}]",
                                      "Give each realm a unique name"))
        seen[realm.name] = i
        roles: Dict[str, int] = {}
        for j, role in enumerate(realm.roles):
            if role.name in roles:
                errors.append(ConfigError(f"{where}: {config.router_path}.realms[{i}].roles[{j}].name",
                                          f"role {role.name!r} is already defined in realm {realm.name!r}",
                                          "Merge the two roles' permissions"))
            roles[role.name] = j
    return errors


def _clashes(a: model.TcpEndpoint, b: model.TcpEndpoint) -> bool:
    """Two TCP endpoints clash when they could bind the same address and port."""
    if a.port != b.port or (a.shared and b.shared):
        return False
    return a.interface == b.interface or not a.interface or not b.interface


def check_ports(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    endpoints = [t.endpoint for t in config.transports] + [t.endpoint for w in proxies(config) for t in w.transports]
    for i, a in enumerate(endpoints):
        for b in endpoints[:i]:
            if isinstance(a, model.TcpEndpoint) and isinstance(b, model.TcpEndpoint) and _clashes(a, b):
                errors.append(ConfigError(f"{where}: {a.path}.port",
                                          f"port {a.port} is already used by {b.path}",
                                          "Use another port, or serve both on one `web` or `universal` transport"))
            if isinstance(a, model.UnixEndpoint) and isinstance(b, model.UnixEndpoint) \
                    and a.socket_path == b.socket_path:
                errors.append(ConfigError(f"{where}: {a.path}.path",
                                          f"socket {a.socket_path} is already used by {b.path}",
                                          "Use another socket path"))
    return errors


# RFC 1123 labels; a last label of digits only would be a mistyped IPv4 address (RFC 3696 section 2).
_HOST_NAME = re.compile(r"^(?=.{1,253}\.?$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                        r"(?![0-9]+\.?$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$")


def _interface_problem(endpoint: model.TcpEndpoint) -> Optional[str]:
    """Why ``bind()`` cannot use the interface, or None.

    Crossbar.io (like wampnode) hands ``interface`` to ``bind()``, which also
    resolves host names (``localhost``): both are accepted, as at Crossbar's start.
    A name is resolved for the family ``bind()`` uses: Twisted picks IPv6 only for
    an IPv6 address, a ``shared`` endpoint picks the family of its ``version``.
    """
    interface = endpoint.interface
    if not interface:
        return None
    try:
        ipaddress.ip_address(interface)
        return None
    except ValueError:
        pass
    if not _HOST_NAME.match(interface):
        return f"{interface!r} is not an IPv4/IPv6 address"
    family = socket.AF_INET6 if endpoint.shared and endpoint.version == 6 else socket.AF_INET
    try:
        socket.getaddrinfo(interface, endpoint.port, family, socket.SOCK_STREAM)
        return None
    except (socket.gaierror, UnicodeError) as e:
        reason = e.strerror if isinstance(e, socket.gaierror) else str(e)
        return f"{interface!r} is not an IPv4/IPv6 address, and as a host name it does not resolve ({reason})"


def check_interfaces(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    for t in config.transports:
        if isinstance(t.endpoint, model.TcpEndpoint):
            problem = _interface_problem(t.endpoint)
            if problem:
                errors.append(ConfigError(f"{where}: {t.endpoint.path}.interface", problem,
                                          "Use an address of this machine such as 127.0.0.1 or ::1, "
                                          "or leave `interface` out to listen on all interfaces"))
    return errors


def check_unix_directories(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    return [ConfigError(f"{where}: {t.endpoint.path}.path",
                        f"directory {os.path.dirname(t.endpoint.socket_path)} does not exist",
                        "Create it, or choose a socket path in an existing directory")
            for t in config.transports
            if isinstance(t.endpoint, model.UnixEndpoint) and not os.path.isdir(os.path.dirname(t.endpoint.socket_path))]


def _paths(config: model.NodeConfig) -> List[Tuple[str, object]]:
    return [(key, service) for t in config.transports if t.web for key, service in t.web.paths.items()]


def check_static_directories(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    for _, service in _paths(config):
        if isinstance(service, model.StaticPath):
            # a missing directory is a warning (node.config.advisories): Crossbar.io serves 404s there
            if os.path.exists(service.directory) and not os.path.isdir(service.directory):
                errors.append(ConfigError(f"{where}: {service.path}.directory",
                                          f"{service.directory} is not a directory",
                                          "Name the directory that holds the files (relative paths start at the node directory)"))
    return errors


def check_universal(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    return [ConfigError(f"{where}: {t.path}", "a universal transport needs `rawsocket`, `websocket` or `web`",
                        "Add at least one of them")
            for t in config.transports
            if t.type == "universal" and not (t.rawsocket or t.web or t.websocket_paths)]


def check_processes_share_ports(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """Several processes listen on one port only through SO_REUSEPORT (``shared``);
    a Unix socket cannot be shared that way."""
    if config.cluster is None or config.cluster.processes == 1:
        return []
    count = config.cluster.processes
    errors: List[ConfigError] = []
    for t in config.transports:
        if isinstance(t.endpoint, model.UnixEndpoint):
            errors.append(ConfigError(f"{where}: {t.endpoint.path}",
                                      f"a Unix socket cannot be shared by the {count} router processes",
                                      "Use a TCP endpoint with `\"shared\": true`, or `\"processes\": 1`"))
        elif not t.endpoint.shared:
            errors.append(ConfigError(f"{where}: {t.endpoint.path}.shared",
                                      f"the {count} router processes must all listen on port {t.endpoint.port}",
                                      "Add `\"shared\": true` to this endpoint (SO_REUSEPORT)"))
    return errors


def check_monitoring_paths(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """``allowed_networks`` entries are addresses or networks; a dashboard names who may read it."""
    errors: List[ConfigError] = []
    for _, service in _paths(config):
        if not isinstance(service, (model.MetricsPath, model.DashboardPath)):
            continue
        for i, text in enumerate(service.access.allowed_networks):
            try:
                ipaddress.ip_network(text, strict=False)
            except ValueError:
                errors.append(ConfigError(f"{where}: {service.path}.allowed_networks[{i}]",
                                          f"{text!r} is not an IP address or network",
                                          "Write an address (127.0.0.1, ::1) or a network (10.0.0.0/8, fd00::/8)"))
        access = service.access
        if isinstance(service, model.DashboardPath) and not (access.credentials or access.allowed_networks):
            errors.append(ConfigError(f"{where}: {service.path}",
                                      "a dashboard shows realm names, URIs and load: it needs readers named",
                                      "Add `credentials` (users who may read it) or `allowed_networks`, or both"))
    return errors


ALL_CHECKS: Tuple[Check, ...] = (check_one_worker, check_unique_names, check_ports, check_interfaces,
                                 check_unix_directories, check_static_directories, check_universal,
                                 check_processes_share_ports, check_monitoring_paths) + WORKER_CHECKS + WEB_CHECKS \
    + AUTH_CHECKS + WEBAPP_CHECKS


def run_checks(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    for check in ALL_CHECKS:
        errors += check(config, raw, where)
    return errors


def check_static_serves_node_files(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """A static path must not serve the node directory, the config file or a TLS key
    (``"directory": ".."`` served the node directory, private key included).

    What lies below a dot-named directory is not served unless ``allow_dotfiles`` is
    set, so Crossbar.io's usual layout, ``"directory": ".."`` beside ``.crossbar/``,
    serves the application and never the node directory: that stays allowed."""
    private = [("the node directory", config.cbdir), ("the config file", config.config_file)]
    for t in config.transports:
        if t.endpoint.tls is not None:
            keys = [t.endpoint.tls.key] + [entry.key for entry in t.endpoint.tls.sni.values()]
            private += [("the TLS key", key) for key in keys]
    errors: List[ConfigError] = []
    for _, service in _paths(config):
        if not isinstance(service, model.StaticPath):
            continue
        served = [("directory", service.directory)] + [("options.follow_symlinks_into", d)
                                                      for d in service.follow_symlinks_into]
        for key, directory in served:
            root = os.path.realpath(directory)
            found = [(what, path) for what, path in private
                     if _servable(os.path.realpath(path), root, service.allow_dotfiles)]
            if found:
                what, path = found[0]
                errors.append(ConfigError(f"{where}: {service.path}.{key}",
                                          f"{directory} contains {what} ({path}), which would be served",
                                          "Serve a directory that holds only public files, e.g. \"../web\" "
                                          "beside the node directory"))
    return errors


def _within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _servable(path: str, root: str, allow_dotfiles: bool) -> bool:
    """Would a static path rooted at ``root`` serve ``path``? Not when a directory on the
    way down is dot-named (``.well-known`` excepted), unless dotfiles are allowed."""
    if not _within(path, root):
        return False
    below = [] if path == root else os.path.relpath(path, root).split(os.sep)
    hidden = any(part.startswith(".") and part != ".well-known" for part in below)
    return allow_dotfiles or not hidden


ALL_CHECKS += (check_static_serves_node_files,)


def check_proxy_transports(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """A proxy worker's transports get the checks of the router's that concern a transport
    alone (the router's realms, workers and processes are not theirs)."""
    skipped = {check_one_worker, check_unique_names, check_ports, check_processes_share_ports, check_bridge_realms,
               check_wap_realms, check_proxy_transports, *WORKER_CHECKS, *PROXY_CHECKS}
    errors: List[ConfigError] = []
    for worker in proxies(config):
        view = dataclasses.replace(config, transports=worker.transports, realms=(), cluster=None, components=(),
                                   workers=(), router_path=worker.path)
        for check in ALL_CHECKS:
            if check not in skipped:
                errors += check(view, raw, where)
    return errors


ALL_CHECKS += PROXY_CHECKS + (check_proxy_transports,)
