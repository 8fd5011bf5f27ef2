"""Build the objects of the application a node hosts: router components, container
and guest workers (a validated, default-filled config in, frozen :mod:`model` objects out).

Ids and paths follow Crossbar.io's node (``crossbar/node/node.py``,
``node/controller.py``): a worker without ``id`` is ``worker001``, ``worker002``...
counting the id-less workers in config order; a component without ``id`` is
``component001``... counting the id-less components across the node. Relative
paths (``pythonpath``, ``workdir``, ``watch`` directories, Unix sockets, TLS files)
start at the node directory.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional, Tuple

from node.config import model
from node.config.environment import json_path

# node.config.build's builders of WebSocket options and of listening transports, handed in
# (that module imports this one)
OptionsBuilder = Callable[[Mapping[str, Any]], model.WebSocketOptions]
TransportBuilder = Callable[[Dict[str, Any], str, str, int], model.Transport]


def _abspath(cbdir: str, name: str) -> str:
    return os.path.normpath(os.path.join(cbdir, os.path.expanduser(name)))


def router_index(raw: Dict[str, Any]) -> Optional[int]:
    """Index of the (first) router worker in ``workers``, or None."""
    return next((i for i, w in enumerate(raw["workers"]) if w["type"] == "router"), None)


class _Ids:
    """Crossbar.io's default names, handed out in config order."""

    def __init__(self) -> None:
        self.workers = 0
        self.components = 0

    def worker(self, raw: Dict[str, Any]) -> str:
        if "id" in raw:
            return raw["id"]
        self.workers += 1
        return f"worker{self.workers:03d}"

    def component(self, raw: Dict[str, Any]) -> str:
        if "id" in raw:
            return raw["id"]
        self.components += 1
        return f"component{self.components:03d}"


def build_process_env(raw: Dict[str, Any], where: str) -> model.ProcessEnv:
    inherit = raw["inherit"]
    return model.ProcessEnv(inherit=inherit if isinstance(inherit, bool) else tuple(inherit),
                            vars=dict(raw["vars"]), path=where)


def build_router_options(raw: Dict[str, Any], cbdir: str, where: str) -> model.RouterOptions:
    return model.RouterOptions(pythonpath=tuple(_abspath(cbdir, p) for p in raw["pythonpath"]),
                               env=build_process_env(raw["env"], f"{where}.env"))


def build_router_component(raw: Dict[str, Any], component_id: str, where: str) -> model.RouterComponent:
    return model.RouterComponent(id=component_id, type=raw["type"], realm=raw["realm"], role=raw["role"],
                                 extra=dict(raw["extra"]), classname=raw.get("classname"),
                                 callbacks=dict(raw.get("callbacks", {})),
                                 references=tuple(raw.get("references", ())), path=where)


def build_connecting_endpoint(raw: Dict[str, Any], cbdir: str, where: str) -> model.ConnectingEndpoint:
    if raw["type"] == "unix":
        return model.ConnectingEndpoint(type="unix", host=None, port=None, version=4,
                                        socket_path=_abspath(cbdir, raw["path"]),
                                        timeout=float(raw["timeout"]), tls=None, path=where)
    tls = None
    if "tls" in raw:
        t = raw["tls"]
        tls = model.ConnectingTls(
            hostname=t["hostname"], ca_certificates=tuple(_abspath(cbdir, c) for c in t["ca_certificates"]),
            certificate=_abspath(cbdir, t["certificate"]) if "certificate" in t else None,
            key=_abspath(cbdir, t["key"]) if "key" in t else None, path=f"{where}.tls")
    return model.ConnectingEndpoint(type="tcp", host=raw["host"], port=int(raw["port"]), version=raw["version"],
                                    socket_path=None, timeout=float(raw["timeout"]), tls=tls, path=where)


def build_connecting_transport(raw: Dict[str, Any], cbdir: str, where: str,
                               websocket_options: OptionsBuilder) -> model.ConnectingTransport:
    endpoint = build_connecting_endpoint(raw["endpoint"], cbdir, f"{where}.endpoint")
    if raw["type"] == "websocket":
        return model.ConnectingTransport(type="websocket", endpoint=endpoint, url=raw["url"],
                                         serializers=tuple(raw["serializers"]),
                                         websocket_options=websocket_options(raw["options"]),
                                         max_message_size=raw["options"]["max_message_size"], path=where)
    serializers = (raw["serializer"],) if "serializer" in raw else tuple(raw["serializers"])
    return model.ConnectingTransport(type="rawsocket", endpoint=endpoint, url=raw.get("url"),
                                     serializers=serializers, websocket_options=None,
                                     max_message_size=raw["options"]["max_message_size"], path=where)


def build_component_auth(raw: Dict[str, Any], where: str) -> Tuple[model.ComponentAuth, ...]:
    return tuple(model.ComponentAuth(method=method, authid=cfg.get("authid"), authrole=cfg.get("authrole"),
                                     authextra=dict(cfg.get("authextra", {})), ticket=cfg.get("ticket"),
                                     secret=cfg.get("secret"), privkey=cfg.get("privkey"),
                                     path=f"{where}.{method}")
                 for method, cfg in raw.items())


def build_container_component(raw: Dict[str, Any], component_id: str, cbdir: str, where: str,
                              websocket_options: OptionsBuilder) -> model.ContainerComponent:
    return model.ContainerComponent(
        id=component_id, type=raw["type"], realm=raw["realm"],
        transport=build_connecting_transport(raw["transport"], cbdir, f"{where}.transport", websocket_options),
        auth=build_component_auth(raw.get("auth", {}), f"{where}.auth"), extra=dict(raw["extra"]),
        classname=raw.get("classname"), callbacks=dict(raw.get("callbacks", {})), path=where)


def _disabled(value: Any) -> bool:
    """Crossbar.io: ``true``, or any non-empty string (typically from an environment variable)."""
    return value is True or (isinstance(value, str) and value != "")


def build_container(raw: Dict[str, Any], worker_id: str, ids: _Ids, cbdir: str, where: str,
                    websocket_options: OptionsBuilder) -> model.ContainerWorker:
    options = raw["options"]
    components = tuple(build_container_component(c, ids.component(c), cbdir, f"{where}.components[{i}]",
                                                 websocket_options)
                       for i, c in enumerate(raw["components"]))
    return model.ContainerWorker(
        id=worker_id, components=components, pythonpath=tuple(_abspath(cbdir, p) for p in options["pythonpath"]),
        env=build_process_env(options["env"], f"{where}.options.env"), restart=options["restart"],
        shutdown=options["shutdown"], stop_timeout=float(options["stop_timeout"]),
        disabled=_disabled(options["disabled"]), path=where)


def build_guest_stdin(raw: Any) -> Optional[model.GuestStdin]:
    if raw is None:
        return None
    if raw == "close":
        return model.GuestStdin(type="close", value=None, close=True)
    return model.GuestStdin(type=raw["type"], value=raw["value"], close=raw["close"])


def build_guest(raw: Dict[str, Any], worker_id: str, cbdir: str, where: str) -> model.GuestWorker:
    options = raw["options"]
    watch = None
    if "watch" in options:
        w = options["watch"]
        watch = model.GuestWatch(directories=tuple(_abspath(cbdir, d) for d in w["directories"]),
                                 action=w["action"], delay=float(w["timeout"]), path=f"{where}.options.watch")
    return model.GuestWorker(
        id=worker_id, executable=raw["executable"], arguments=tuple(raw["arguments"]),
        workdir=_abspath(cbdir, options["workdir"]), env=build_process_env(options["env"], f"{where}.options.env"),
        stdin=build_guest_stdin(options.get("stdin")), stdout=options["stdout"], stderr=options["stderr"],
        watch=watch, restart=options["restart"], stop_timeout=float(options["stop_timeout"]), path=where)


def build_proxy(raw: Dict[str, Any], worker_id: str, cbdir: str, index: int, node_id: Optional[str],
                websocket_options: OptionsBuilder, transport: TransportBuilder) -> model.ProxyWorker:
    where = json_path(("workers", index))
    options = raw["options"]
    connections = {}
    for name, conn in raw["connections"].items():
        at = f"{where}.connections.{name}"
        connections[name] = model.ProxyConnection(
            name=name, transport=build_connecting_transport(conn["transport"], cbdir, f"{at}.transport",
                                                            websocket_options),
            auth=next(iter(conn.get("auth", {})), "anonymous-proxy"), path=at)
    transports = tuple(transport(t, cbdir, json_path(("workers", index, "transports", i)), i)
                       for i, t in enumerate(raw["transports"]))
    return model.ProxyWorker(
        id=worker_id, connections=connections,
        routes={realm: dict(roles) for realm, roles in raw["routes"].items()}, transports=transports,
        backend_timeout=float(options["backend_timeout"]), node_id=node_id,
        env=build_process_env(options["env"], f"{where}.options.env"), restart=options["restart"],
        stop_timeout=float(options["stop_timeout"]), path=where)


class Hosting(NamedTuple):
    """What :func:`build_hosting` found: the router's id, options and components, and the other workers."""

    router_id: Optional[str]
    router_options: Optional[model.RouterOptions]
    components: Tuple[model.RouterComponent, ...]
    workers: Tuple[model.Worker, ...]


def build_hosting(raw: Dict[str, Any], cbdir: str, websocket_options: OptionsBuilder,
                  transport: TransportBuilder) -> Hosting:
    """Router components and options, and the container, guest and proxy workers, in config order."""
    ids = _Ids()
    first_router = router_index(raw)
    router_id: Optional[str] = None
    router_options: Optional[model.RouterOptions] = None
    components: Tuple[model.RouterComponent, ...] = ()
    workers: List[model.Worker] = []
    for i, worker in enumerate(raw["workers"]):
        where = json_path(("workers", i))
        worker_id = ids.worker(worker)
        if worker["type"] == "container":
            workers.append(build_container(worker, worker_id, ids, cbdir, where, websocket_options))
        elif worker["type"] == "guest":
            workers.append(build_guest(worker, worker_id, cbdir, where))
        elif worker["type"] == "proxy":
            node_id = raw.get("controller", {}).get("id")
            workers.append(build_proxy(worker, worker_id, cbdir, i, node_id, websocket_options, transport))
        elif i == first_router:
            router_id = worker_id
            router_options = build_router_options(worker["options"], cbdir, f"{where}.options")
            components = tuple(build_router_component(c, ids.component(c), f"{where}.components[{j}]")
                               for j, c in enumerate(worker["components"]))
    return Hosting(router_id, router_options, components, tuple(workers))


def ignored_worker_keys(raw: Dict[str, Any]) -> Iterator[str]:
    """JSON paths of the container and component keys accepted for Crossbar.io but unused."""
    unused_options = ("title", "python", "cpu_affinity", "reactor", "extra", "expose_controller", "expose_shared")
    for i, worker in enumerate(raw["workers"]):
        where = json_path(("workers", i))
        if worker["type"] == "proxy":
            yield from (f"{where}.options.{key}" for key in worker["options"] if key in unused_options)
            for name, conn in worker["connections"].items():
                if conn["transport"]["type"] == "rawsocket" and "url" in conn["transport"]:
                    yield f"{where}.connections.{name}.transport.url"
        if worker["type"] != "container":
            continue
        yield from (f"{where}.options.{key}" for key in worker["options"] if key in unused_options)
        for j, component in enumerate(worker["components"]):
            transport = component["transport"]
            yield from (f"{where}.components[{j}].transport.{key}" for key in ("id", "debug")
                        if key in transport)
            if transport["type"] == "rawsocket" and "url" in transport:
                yield f"{where}.components[{j}].transport.url"
