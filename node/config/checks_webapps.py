"""Checks of the ``archive``, ``wsgi`` and ``resource`` web paths and the realm store
that the schema cannot express.

- An ``archive`` is a ZIP file that exists, or one that ``download`` will fetch
  from ``origin`` at start-up; when ``hashes`` are given, an existing file
  matches one of them.
- A ``wsgi`` module and a ``resource`` class's module are *found* where the router
  will look (its ``options.pythonpath``, then the node's Python path), not imported:
  ``wampnode check`` runs no application code (as for components). A wrong object
  or class name is reported, in one line, when the node starts.
- ``call-queue`` of a realm store is refused: Crossbar.io queues a call only while
  every callee of a registration made with the ``concurrency`` option is busy
  (``crossbar/router/dealer.py`` ``_call``, ``realmstore.py`` ``maybe_queue_call``,
  which never reads the entries' ``uri``/``limit``), and wampnode's dealer does not
  implement ``concurrency``: there would be nothing to queue.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import zipfile
from typing import Any, Callable, Dict, List, Tuple

from node.config import model
from node.config.checks_web import session_realm_errors
from node.config.checks_workers import find_module
from node.errors import ConfigError

Check = Callable[[model.NodeConfig, Dict[str, Any], str], List[ConfigError]]


def _paths(config: model.NodeConfig, kinds: Any) -> List[Any]:
    return [service for t in config.transports if t.web for service in t.web.paths.values()
            if isinstance(service, kinds)]


def sha256_file(filename: str) -> str:
    digest = hashlib.sha256()
    with open(filename, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def archive_problem(service: model.ArchivePath) -> Tuple[str, str]:
    """(problem, fix) of the archive file as it is now; ("", "") when it can be served."""
    name = service.archive
    if not os.path.exists(name):
        if service.download and service.origin:
            return "", ""
        fix = ("Set `download: true` to fetch it from `origin`" if service.origin else
               "Put the ZIP file there, or set `origin` and `download: true` to fetch it at start-up")
        return f"{name} does not exist", fix
    if not os.path.isfile(name):
        return f"{name} is not a file", "Name a ZIP file"
    if not zipfile.is_zipfile(name):
        return f"{name} is not a ZIP archive", "Name a ZIP file (the `archive` path serves ZIP archives only)"
    if service.hashes:
        found = sha256_file(name)
        if found not in service.hashes:
            return (f"{name} has SHA-256 {found}, none of `hashes`",
                    "Replace the file with the right one, or add its fingerprint to `hashes`")
    return "", ""


def check_archives(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    for service in _paths(config, model.ArchivePath):
        if service.download and not service.origin and not os.path.exists(service.archive):
            errors.append(ConfigError(f"{where}: {service.path}.origin", "`download` is true but there is no `origin`",
                                      "Add the URL to fetch the archive from"))
            continue
        problem, fix = archive_problem(service)
        if problem:
            errors.append(ConfigError(f"{where}: {service.path}.archive", problem, fix))
    return errors


def check_python_paths(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """The module of each ``wsgi`` and ``resource`` path is found where the router looks."""
    pythonpath = config.router_options.pythonpath if config.router_options is not None else ()
    search = list(pythonpath) + [p for p in sys.path if p]
    errors: List[ConfigError] = []
    for service in _paths(config, model.PYTHON_PATHS):
        key, module = (("module", service.module) if isinstance(service, model.WsgiPath)
                       else ("classname", service.classname.rpartition(".")[0]))
        if find_module(module, search) is None:
            errors.append(ConfigError(
                f"{where}: {service.path}.{key}",
                f"module {module!r} is not found in pythonpath {list(pythonpath)} nor on the node's Python path",
                f"Fix the name, or add the directory holding it to {config.router_path}.options.pythonpath "
                f"(relative to the node directory)"))
    return errors


def check_call_queues(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    if config.router_path is None:
        return []
    worker = next(w for i, w in enumerate(raw.get("workers", [])) if f"workers[{i}]" == config.router_path)
    return [ConfigError(f"{where}: {config.router_path}.realms[{i}].store.call-queue",
                        "`call-queue` is not supported: Crossbar.io queues calls only for callees registered "
                        "with `concurrency`, which wampnode's dealer does not implement",
                        "Remove it (calls go to a callee at once; several callees with `invoke: roundrobin` "
                        "share the load)")
            for i, realm in enumerate(worker.get("realms", [])) if "call-queue" in realm.get("store", {})]


def check_wap_paths(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """Jinja2 is installed, the templates directory and each route's template exist, and
    each route's placeholders are Werkzeug's."""
    errors: List[ConfigError] = []
    services = _paths(config, model.WapPath)
    if services and importlib.util.find_spec("jinja2") is None:
        errors.append(ConfigError(f"{where}: {services[0].path}", "`wap` paths render with Jinja2, which is not "
                                  "installed", "Install it (`pip install 'wampnode[wap]'`, or `pip install jinja2`) "
                                  "or remove the path"))
    for service in services:
        directory = service.templates
        if directory is None:
            spec = find_module(service.package or "", [p for p in sys.path if p])
            if spec is None or not spec.submodule_search_locations:
                errors.append(ConfigError(f"{where}: {service.path}.templates.package",
                                          f"package {service.package!r} is not found on the node's Python path",
                                          "Fix the name, or name a directory instead"))
                continue
            directory = os.path.join(list(spec.submodule_search_locations)[0], service.resource or "")
        if not os.path.isdir(directory):
            errors.append(ConfigError(f"{where}: {service.path}.templates", f"{directory} is not a directory",
                                      "Name the directory holding the templates (relative to the node directory)"))
            continue
        for route in service.routes:
            try:
                model.wap_route_pattern(route.pattern)
            except ValueError as e:
                errors.append(ConfigError(f"{where}: {route.path}.path", str(e),
                                          "Use <name>, <int:name>, <float:name> or <path:name>"))
            if not os.path.isfile(os.path.join(directory, route.render)):
                errors.append(ConfigError(f"{where}: {route.path}.render",
                                          f"template {route.render!r} is not in {directory}",
                                          "Fix the name or add the template"))
    return errors


def check_wap_realms(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    """A router's ``wap`` session joins a realm of this router under a role that realm has."""
    return session_realm_errors(config, where, ((f"{s.path}.wamp.realm", f"{s.path}.wamp.authrole", s.realm, s.role,
                                                 "the page's session") for s in _paths(config, model.WapPath)))


WEBAPP_CHECKS: Tuple[Check, ...] = (check_archives, check_python_paths, check_call_queues, check_wap_paths,
                                    check_wap_realms)
