"""Checks of the application a node hosts that the schema cannot express.

Like :mod:`node.config.checks`: small functions, each returning one-line
:class:`ConfigError` s (``path: problem. fix.``), all run. They look at the disk
(executables, directories, component modules) but never run user code: a
component module is *found* (``importlib.machinery.PathFinder``, one package
level at a time), not imported, so neither its code nor its packages'
``__init__`` runs during ``wampnode check``.
"""
from __future__ import annotations

import os
import sys
from importlib.machinery import ModuleSpec, PathFinder
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from node.config import model
from node.config.checks_web import REST_COMPONENTS, session_realm_errors
from node.errors import ConfigError

Check = Callable[[model.NodeConfig, Dict[str, Any], str], List[ConfigError]]
Component = Union[model.RouterComponent, model.ContainerComponent]

# Crossbar.io's check_container_options: a restart policy that fights the shutdown policy
IMPOSSIBLE_POLICIES = (("restart-always", "shutdown-on-any-component-stopped"),
                       ("restart-always", "shutdown-on-any-component-failed"),
                       ("restart-always", "shutdown-on-last-component-stopped"),
                       ("restart-on-failed", "shutdown-on-any-component-failed"))


def find_module(name: str, search_path: Sequence[str]) -> Optional[ModuleSpec]:
    """The spec of module ``name`` on ``search_path`` (then nothing else), without importing it
    nor its parent packages; None when it, or a parent package, is not there."""
    path: List[str] = list(search_path)
    spec = None
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        spec = PathFinder.find_spec(".".join(parts[:depth]), path)
        if spec is None:
            return None
        if depth < len(parts):
            if spec.submodule_search_locations is None:  # a module, not a package
                return None
            path = list(spec.submodule_search_locations)
    return spec


def _containers(config: model.NodeConfig) -> List[model.ContainerWorker]:
    return [w for w in config.workers if isinstance(w, model.ContainerWorker)]


def _guests(config: model.NodeConfig) -> List[model.GuestWorker]:
    return [w for w in config.workers if isinstance(w, model.GuestWorker)]


def check_restart_shutdown(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    return [ConfigError(f"{where}: {w.path}.options",
                        f"restart {w.restart!r} cannot work with shutdown {w.shutdown!r} (the container would "
                        f"restart the component it shuts down for; Crossbar.io refuses the pair too)",
                        "Keep the restart policy with \"shutdown\": \"shutdown-manual\", or the shutdown "
                        "policy with \"restart\": \"restart-never\"")
            for w in _containers(config) if (w.restart, w.shutdown) in IMPOSSIBLE_POLICIES]


def check_worker_ids(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    seen: Dict[str, str] = {config.router_id: str(config.router_path)} if config.router_id else {}
    for w in config.workers:
        if w.id in seen:
            errors.append(ConfigError(f"{where}: {w.path}.id", f"worker id {w.id!r} is already used by {seen[w.id]}",
                                      "Give each worker its own id"))
        seen.setdefault(w.id, w.path)
    return errors


def check_component_ids(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """Unique in their worker, as Crossbar.io's router and container workers require."""
    groups: List[Sequence[Component]] = [config.components] + [w.components for w in _containers(config)]
    errors: List[ConfigError] = []
    for components in groups:
        seen: Dict[str, str] = {}
        for c in components:
            if c.id in seen:
                errors.append(ConfigError(f"{where}: {c.path}.id",
                                          f"component id {c.id!r} is already used by {seen[c.id]}",
                                          "Give each component of a worker its own id"))
            seen.setdefault(c.id, c.path)
    return errors


def check_router_component_realms(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """A router component joins a realm of this router, under a role that realm has."""
    return session_realm_errors(config, where, ((f"{c.path}.realm", f"{c.path}.role", c.realm, c.role,
                                                 "a session with it") for c in config.components))


def check_component_references(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    return [ConfigError(f"{where}: {c.path}.references[{i}]",
                        f"{ref!r} cannot be resolved: wampnode has no router `connections`", "Remove the reference")
            for c in config.components for i, ref in enumerate(c.references)]


def _modules(component: Component) -> List[Tuple[str, str]]:
    """(JSON path of the name, dotted name) of each module a component needs."""
    if component.classname is not None:
        return [(f"{component.path}.classname", component.classname)]
    return [(f"{component.path}.callbacks.{event}", name) for event, name in component.callbacks.items()]


def _module_errors(components: Sequence[Component], pythonpath: Tuple[str, ...], owner: str,
                   where: str) -> List[ConfigError]:
    search = list(pythonpath) + [p for p in sys.path if p]
    errors: List[ConfigError] = []
    for component in components:
        if component.classname in REST_COMPONENTS:  # Crossbar.io's HTTP bridge classes: wampnode's own
            continue
        for path, name in _modules(component):
            module = name.rpartition(".")[0]
            if find_module(module, search) is None:
                errors.append(ConfigError(
                    f"{where}: {path}", f"module {module!r} (of {name!r}) is not found in pythonpath "
                    f"{list(pythonpath)} nor on the node's Python path",
                    f"Add the directory holding it to {owner}.options.pythonpath (relative to the node directory)"))
    return errors


def check_component_modules(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """Each class or callback module is found (not imported) where its worker will look."""
    errors: List[ConfigError] = []
    if config.router_options is not None:
        errors += _module_errors(config.components, config.router_options.pythonpath,
                                 str(config.router_path), where)
    for w in _containers(config):
        if not w.disabled:
            errors += _module_errors(w.components, w.pythonpath, w.path, where)
    return errors


def _directory_problem(path: str) -> Optional[str]:
    if os.path.isdir(path):
        return None
    return f"{path} {'is not a directory' if os.path.exists(path) else 'does not exist'}"


def check_guest_directories(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """``workdir`` and the ``watch`` directories exist (relative paths start at the node directory)."""
    errors: List[ConfigError] = []
    for g in _guests(config):
        problem = _directory_problem(g.workdir)
        if problem:
            errors.append(ConfigError(f"{where}: {g.path}.options.workdir", problem,
                                      "Create it or fix the path (relative to the node directory)"))
        watch = g.watch
        for i, directory in enumerate(watch.directories if watch else ()):
            problem = _directory_problem(directory)
            if problem and watch:
                errors.append(ConfigError(f"{where}: {watch.path}.directories[{i}]", problem,
                                          "Create it or fix the path (relative to the node directory, "
                                          "not to workdir)"))
    return errors


def check_guest_executables(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """Found as Crossbar.io finds it: relative to ``workdir`` (or absolute), then on the node's PATH."""
    errors: List[ConfigError] = []
    for g in _guests(config):
        if os.path.isdir(g.workdir) and g.find_executable(os.environ.get("PATH")) is None:
            joined = os.path.normpath(os.path.join(g.workdir, g.executable))
            elsewhere = "" if os.sep in g.executable else ", nor a program on PATH"
            errors.append(ConfigError(f"{where}: {g.path}.executable",
                                      f"{g.executable!r} is not an executable file: {joined} is not one{elsewhere}",
                                      "Install the program, or give its absolute path or a path relative to "
                                      "options.workdir"))
    return errors


def check_connecting_tls_files(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    endpoints = [c.transport.endpoint for w in _containers(config) for c in w.components]
    endpoints += [c.transport.endpoint for w in config.workers if isinstance(w, model.ProxyWorker)
                  for c in w.connections.values()]
    for endpoint in endpoints:
        tls = endpoint.tls
        if tls is None:
            continue
        files = [(f"ca_certificates[{i}]", f) for i, f in enumerate(tls.ca_certificates)]
        files += [(key, getattr(tls, key)) for key in ("certificate", "key") if getattr(tls, key)]
        errors += [ConfigError(f"{where}: {tls.path}.{key}", f"{name} does not exist",
                               "Fix the path (relative paths start at the node directory)")
                   for key, name in files if not os.path.isfile(name)]
    return errors


WORKER_CHECKS: Tuple[Check, ...] = (check_restart_shutdown, check_worker_ids, check_component_ids,
                                    check_router_component_realms, check_component_references,
                                    check_component_modules, check_guest_directories, check_guest_executables,
                                    check_connecting_tls_files)
