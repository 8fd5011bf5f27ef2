"""Turn a validated, default-filled config dict into the frozen objects of :mod:`model`."""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Type, TypeVar

from node.config import model
from node.config.build_webapps import WEBAPP_BUILDERS
from node.config.build_workers import build_connecting_endpoint, build_hosting, ignored_worker_keys, router_index
from node.config.environment import json_path
from node.config.validation import definition_defaults

T = TypeVar("T")


def _abspath(cbdir: str, name: str) -> str:
    return os.path.normpath(os.path.join(cbdir, os.path.expanduser(name)))


def build_tls(raw: Dict[str, Any], cbdir: str, where: str) -> model.TlsOptions:
    files = lambda names: tuple(_abspath(cbdir, n) for n in names)  # noqa: E731
    return model.TlsOptions(
        key=_abspath(cbdir, raw["key"]),
        certificate=_abspath(cbdir, raw["certificate"]),
        chain_certificates=files(raw["chain_certificates"]),
        ca_certificates=files(raw["ca_certificates"]),
        dhparam=_abspath(cbdir, raw["dhparam"]) if "dhparam" in raw else None,
        ciphers=raw.get("ciphers"),
        ciphersuites=raw.get("ciphersuites"),
        curve=raw["curve"],
        min_version=raw["min_version"],
        max_version=raw.get("max_version"),
        verify_client=raw["verify_client"],
        alpn=tuple(raw["alpn"]),
        session_tickets=raw["session_tickets"],
        sni={name: model.SniEntry(key=_abspath(cbdir, e["key"]),
                                  certificate=_abspath(cbdir, e["certificate"]),
                                  chain_certificates=files(e["chain_certificates"]))
             for name, e in raw["sni"].items()},
        path=where,
        ocsp_staple=_abspath(cbdir, raw["ocsp_staple"]) if "ocsp_staple" in raw else None,
    )


def build_endpoint(raw: Dict[str, Any], cbdir: str, where: str) -> model.Endpoint:
    tls = build_tls(raw["tls"], cbdir, f"{where}.tls") if "tls" in raw else None
    if raw["type"] == "unix":
        return model.UnixEndpoint(socket_path=_abspath(cbdir, raw["path"]), backlog=raw["backlog"],
                                  tls=tls, path=where)
    return model.TcpEndpoint(port=int(raw["port"]), interface=raw["interface"], version=raw["version"],
                             backlog=raw["backlog"], shared=raw["shared"], tls=tls, path=where)


def _record(cls: Type[T], raw: Mapping[str, Any], **built: Any) -> T:
    """``cls`` from the default-filled schema object ``raw``: each field takes the key
    of its name (or its ``model.schema_key``), lists become tuples, and a key the
    schema gives no default and the config leaves out is None. ``built`` holds the
    fields the caller made itself (nested objects)."""
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in built:
            values[f.name] = built[f.name]
        else:
            value = raw.get(f.metadata.get("key", f.name))
            values[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)  # type: ignore[call-arg]


def _by_name(cls: Type[T], entries: Optional[Mapping[str, Any]]) -> Optional[Dict[str, T]]:
    """``{authid: {...}}`` -> ``{authid: cls}`` (None stays None: the key was left out)."""
    return None if entries is None else {name: _record(cls, entry) for name, entry in entries.items()}


_STATIC_AUTH: Dict[str, Callable[[Mapping[str, Any]], model.AuthSettings]] = {
    "anonymous-proxy": lambda raw: model.AnonymousProxySettings(),
    "cryptosign-proxy": lambda raw: _record(model.CryptosignSettings, raw,
                                            principals=_by_name(model.CryptosignPrincipal, raw["principals"])),
    "anonymous": lambda raw: _record(model.AnonymousSettings, raw),
    "ticket": lambda raw: _record(model.TicketSettings, raw,
                                  principals=_by_name(model.TicketPrincipal, raw["principals"])),
    "wampcra": lambda raw: _record(model.WampCraSettings, raw, users=_by_name(model.WampCraUser, raw["users"])),
    "cryptosign": lambda raw: _record(model.CryptosignSettings, raw,
                                      principals=_by_name(model.CryptosignPrincipal, raw["principals"])),
    "tls": lambda raw: _record(model.TlsSettings, raw,
                               principals=_by_name(model.TlsPrincipal, raw.get("principals"))),
    "cookie": lambda raw: model.CookieAuthSettings(),
    "scram": lambda raw: _record(model.ScramSettings, raw,
                                 principals=_by_name(model.ScramPrincipal, raw["principals"])),
}


def build_auth_method(method: str, raw: Mapping[str, Any]) -> model.AuthMethod:
    """One entry of an ``auth`` map (the schema names the methods; ``cookie`` may have no ``type``)."""
    kind = raw.get("type", "static")
    settings = _record(model.DynamicSettings, raw) if kind == "dynamic" else _STATIC_AUTH[method](raw)
    return model.AuthMethod(method=method, type=kind, settings=settings)


def build_auth(raw: Dict[str, Any]) -> Tuple[model.AuthMethod, ...]:
    return tuple(build_auth_method(method, cfg) for method, cfg in raw.items())


def build_websocket_options(raw: Mapping[str, Any]) -> model.WebSocketOptions:
    compression = raw.get("compression")
    if compression is not None:
        deflate = compression.get("deflate")
        compression = _record(model.CompressionOptions, compression,
                              deflate=None if deflate is None else _record(model.DeflateOptions, deflate))
    # a frame limit left out follows the message limit: raising only max_message_size
    # must let a message of one frame that large through (clients send one frame)
    frame = raw.get("max_frame_size", raw["max_message_size"])
    return _record(model.WebSocketOptions, raw, compression=compression, max_frame_size=frame,
                   max_outgoing_buffer=outgoing_buffer(raw, raw["max_message_size"]))


OUTGOING_BUFFER = 4 * 1024 * 1024  # max_outgoing_buffer left out, at least
OUTGOING_MESSAGES = 4  # ... or room for this many messages of max_message_size


def outgoing_buffer(options: Mapping[str, Any], max_message_size: int) -> int:
    """``max_outgoing_buffer`` as set, else room for a few of the largest messages: a
    peer that reads, but not as fast as two 16 MiB events come for it, is not one that
    stopped reading."""
    if "max_outgoing_buffer" in options:
        return options["max_outgoing_buffer"]
    return max(OUTGOING_BUFFER, OUTGOING_MESSAGES * max_message_size)


def build_web_options(raw: Mapping[str, Any]) -> model.WebOptions:
    hsts = raw["hsts"]
    return _record(model.WebOptions, raw,
                   hsts=_record(model.HstsOptions, hsts) if isinstance(hsts, Mapping) else hsts)


def build_cookie(raw: Optional[Mapping[str, Any]], cbdir: str, where: str) -> Optional[model.CookieOptions]:
    """A service's ``cookie`` block (None: no cookie tracking); shared by WebSocket and long-poll."""
    if raw is None:
        return None
    store = raw["store"]
    filename = _abspath(cbdir, store["filename"]) if "filename" in store else None
    return _record(model.CookieOptions, raw, path=f"{where}.cookie",
                   store=_record(model.CookieStoreOptions, store, filename=filename))


def build_websocket(raw: Dict[str, Any], where: str, cbdir: str = "") -> model.WampWebSocket:
    return model.WampWebSocket(serializers=tuple(raw["serializers"]),
                               options=build_websocket_options(raw["options"]),
                               auth=build_auth(raw.get("auth", {})), path=where,
                               cookie=build_cookie(raw.get("cookie"), cbdir, where))


def build_rawsocket(raw: Dict[str, Any], where: str) -> model.RawSocketService:
    options = raw["options"]
    size = raw.get("max_message_size", options["max_message_size"])
    return model.RawSocketService(serializers=tuple(raw["serializers"]), max_message_size=size,
                                  max_connections=options["max_connections"],
                                  max_outgoing_buffer=outgoing_buffer(options, size),
                                  open_handshake_timeout=options["open_handshake_timeout"],
                                  hello_timeout=options["hello_timeout"],
                                  auth=build_auth(raw.get("auth", {})), path=where)


def _static_directory(raw: Dict[str, Any], cbdir: str) -> str:
    if "directory" in raw:
        return _abspath(cbdir, raw["directory"])
    from importlib.resources import files

    return str(files(raw["package"]).joinpath(raw["resource"]))


def build_trust(raw: Dict[str, Any], cbdir: str, where: str) -> model.TrustOptions:
    bundle = raw["jit_bundle"]
    return model.TrustOptions(
        store=raw["store"],
        cafile=_abspath(cbdir, raw["cafile"]) if "cafile" in raw else None,
        capath=_abspath(cbdir, raw["capath"]) if "capath" in raw else None,
        pin_sha256=tuple(raw.get("pin_sha256", ())),
        jit_bundle=bundle if bundle == "certifi" else _abspath(cbdir, bundle),
        jit_ttl=raw["jit_ttl"], jit_cache_size=raw["jit_cache_size"], path=where)


def trust_from_values(values: Dict[str, Any], where: str = "trust") -> model.TrustOptions:
    """A ``TrustOptions`` from command-line values (``wampnode tunnel``, ``trust diagnose``).

    ``values`` uses the config's key names, None for unset; unset keys get the
    schema's defaults, and relative paths start at the current directory.
    """
    raw = definition_defaults("trust")
    raw.update({name: value for name, value in values.items() if value})
    return build_trust(raw, os.getcwd(), where)


def build_bridge_target(raw: Dict[str, Any], cbdir: str, where: str) -> model.BridgeTarget:
    if raw["type"] == "unix":
        return model.BridgeTarget(type="unix", host=None, port=None, socket_path=_abspath(cbdir, raw["path"]),
                                  tls=None, path=where)
    tls = None
    if "tls" in raw:
        tls = model.ClientTlsOptions(hostname=raw["tls"].get("hostname"),
                                     trust=build_trust(raw["tls"]["trust"], cbdir, f"{where}.tls.trust"),
                                     path=f"{where}.tls")
    return model.BridgeTarget(type="tcp", host=raw["host"], port=int(raw["port"]), socket_path=None,
                              tls=tls, path=where)


def build_path(raw: Dict[str, Any], cbdir: str, where: str) -> object:
    kind = raw["type"]
    if kind == "static":
        options = raw["options"]
        return model.StaticPath(directory=_static_directory(raw, cbdir),
                                enable_directory_listing=options["enable_directory_listing"],
                                mime_types=dict(options["mime_types"]),
                                cache_timeout=options["cache_timeout"],
                                allow_dotfiles=options["allow_dotfiles"],
                                follow_symlinks_into=tuple(_abspath(cbdir, d) for d in options["follow_symlinks_into"]),
                                max_ranges=options["max_ranges"], path=where)
    if kind == "websocket":
        return model.WebSocketPath(service=build_websocket(raw, where, cbdir), path=where)
    if kind == "websocket-testee":
        return model.WebSocketTesteePath(options=build_websocket_options(raw["options"]), path=where)
    if kind == "redirect":
        return model.RedirectPath(url=raw["url"], path=where)
    if kind in WEBAPP_BUILDERS:
        return WEBAPP_BUILDERS[kind](raw, cbdir, where, build_trust)
    if kind == "tcpbridge":
        return model.TcpBridgePath(target=build_bridge_target(raw["target"], cbdir, f"{where}.target"),
                                   max_message_size=raw["max_message_size"],
                                   send_message_size=raw["send_message_size"],
                                   allowed_origins=tuple(raw["allowed_origins"]),
                                   connect_timeout=float(raw["connect_timeout"]), path=where)
    if kind in ("metrics", "dashboard"):
        access = model.PathAccess(allowed_networks=tuple(raw["allowed_networks"]),
                                  credentials=tuple(sorted(raw.get("credentials", {}).items())))
        if kind == "metrics":
            return model.MetricsPath(access=access, gather_timeout=float(raw["gather_timeout"]), path=where)
        return model.DashboardPath(access=access, gather_timeout=float(raw["gather_timeout"]),
                                   interval=float(raw["interval"]), history=int(raw["history"]), path=where)
    if kind in _BRIDGE_BUILDERS:
        return _BRIDGE_BUILDERS[kind](raw, where)
    if kind == "reverseproxy":
        return build_reverse_proxy(raw, cbdir, where)
    if kind == "websocket-reverseproxy":
        backend = raw["backend"]
        return model.WebSocketReverseProxyPath(
            options=build_websocket_options(raw["options"]), path=where,
            backend=model.WebSocketBackend(
                endpoint=build_connecting_endpoint(backend["endpoint"], cbdir, f"{where}.backend.endpoint"),
                url=backend["url"], options=build_websocket_options(backend["options"]), path=f"{where}.backend"))
    if kind == "longpoll":
        return build_longpoll(raw, where, cbdir)
    return model.NodeInfoPath(path=where)


def build_longpoll(raw: Dict[str, Any], where: str, cbdir: str = "") -> model.LongPollPath:
    return model.LongPollPath(options=_record(model.LongPollOptions, raw["options"]),
                              auth=build_auth(raw.get("auth", {})), path=where,
                              cookie=build_cookie(raw.get("cookie"), cbdir, where))


def _bridge_checks(options: Mapping[str, Any]) -> model.BridgeOptions:
    return _record(model.BridgeOptions, options)


def _signing(options: Mapping[str, Any]) -> Optional[model.Signing]:
    return model.Signing(key=options["key"], secret=options["secret"]) if "key" in options else None


_BRIDGE_BUILDERS: Dict[str, Callable[[Dict[str, Any], str], object]] = {
    "publisher": lambda raw, where: model.PublisherPath(
        realm=raw["realm"], role=raw["role"], checks=_bridge_checks(raw["options"]),
        signing=_signing(raw["options"]), timestamp_delta_limit=raw["options"]["timestamp_delta_limit"],
        max_nonces=raw["options"]["max_nonces"], path=where),
    "caller": lambda raw, where: model.CallerPath(
        realm=raw["realm"], role=raw["role"], checks=_bridge_checks(raw["options"]),
        signing=_signing(raw["options"]), timestamp_delta_limit=raw["options"]["timestamp_delta_limit"],
        max_nonces=raw["options"]["max_nonces"], call_timeout=float(raw["options"]["call_timeout"]), path=where),
    "webhook": lambda raw, where: _record(model.WebhookPath, raw["options"], realm=raw["realm"], role=raw["role"],
                                          checks=_bridge_checks(raw["options"]), path=where),
}


def build_reverse_proxy(raw: Dict[str, Any], cbdir: str, where: str) -> model.ReverseProxyPath:
    tls = None
    if "tls" in raw:
        tls = model.ClientTlsOptions(hostname=raw["tls"].get("hostname"),
                                     trust=build_trust(raw["tls"]["trust"], cbdir, f"{where}.tls.trust"),
                                     path=f"{where}.tls")
    forwarded_port = raw.get("forwarded_port")
    return model.ReverseProxyPath(
        host=raw["host"], port=int(raw["port"]), base_path=raw["path"].rstrip("/"),
        forwarded_port=None if forwarded_port is None else int(forwarded_port),
        forwarded_proto=raw.get("forwarded_proto"), tls=tls, connect_timeout=float(raw["connect_timeout"]),
        timeout=float(raw["timeout"]), max_idle_connections=raw["max_idle_connections"],
        websocket=raw["websocket"], path=where)


def build_web(raw: Dict[str, Any], cbdir: str, where: str) -> model.WebService:
    return model.WebService(
        paths={key: build_path(value, cbdir, f"{where}.paths.{key}") for key, value in raw["paths"].items()},
        options=build_web_options(raw["options"]), path=where)


def build_transport(raw: Dict[str, Any], cbdir: str, where: str, index: int) -> model.Transport:
    kind = raw["type"]
    websocket = build_websocket(raw, where, cbdir) if kind == "websocket" else None
    if kind == "websocket.testee":  # echo only: options matter, no serializers or auth
        websocket = model.WampWebSocket(serializers=(), auth=(), path=where,
                                        options=build_websocket_options(raw["options"]))
    web = None
    rawsocket = None
    ws_paths: Dict[str, model.WampWebSocket] = {}
    if kind == "web":
        web = build_web(raw, cbdir, where)
    elif kind == "rawsocket":
        rawsocket = build_rawsocket(raw, where)
    elif kind == "universal":
        if "web" in raw:
            web = build_web(raw["web"], cbdir, f"{where}.web")
        if "rawsocket" in raw:
            rawsocket = build_rawsocket(raw["rawsocket"], f"{where}.rawsocket")
        ws_paths = {p: build_websocket(v, f"{where}.websocket.{p}", cbdir) for p, v in raw.get("websocket", {}).items()}
    http_options = web.options if web is not None else None
    if kind == "universal" and web is None:  # its websocket paths are served by a site all the same
        http_options = build_web_options(definition_defaults("web_options"))
    return model.Transport(type=kind, id=raw.get("id", f"transport{index:03d}"),
                           endpoint=build_endpoint(raw["endpoint"], cbdir, f"{where}.endpoint"),
                           websocket=websocket, web=web, rawsocket=rawsocket,
                           websocket_paths=ws_paths, path=where, http_options=http_options)


def build_realm(raw: Dict[str, Any]) -> model.Realm:
    roles = tuple(
        model.Role(
            name=role["name"],
            permissions=tuple(
                model.Permission(uri=p["uri"], match=p["match"], call=p["allow"]["call"],
                                 register=p["allow"]["register"], publish=p["allow"]["publish"],
                                 subscribe=p["allow"]["subscribe"],
                                 disclose_caller=p["disclose"]["caller"],
                                 disclose_publisher=p["disclose"]["publisher"], cache=p["cache"])
                for p in role["permissions"]),
            authorizer=role.get("authorizer"))
        for role in raw["roles"])
    store = raw.get("store", {})
    history = tuple(model.EventHistory(uri=h["uri"], match=h["match"], limit=h.get("limit", store["limit"]))
                    for h in store.get("event-history", []))
    options = raw["options"]
    limits = model.RealmLimits(
        max_uri_length=options["max_uri_length"],
        max_subscriptions_per_session=options["max_subscriptions_per_session"],
        max_registrations_per_session=options["max_registrations_per_session"],
        max_pending_calls_per_session=options["max_pending_calls_per_session"],
        max_retained_events=options["max_retained_events"], max_retained_bytes=options["max_retained_bytes"])
    return model.Realm(name=raw["name"], roles=roles, uri_check=options["uri_check"],
                       enable_meta_api=options["enable_meta_api"], event_history=history, limits=limits)


def build_node(raw: Dict[str, Any], cbdir: str, config_file: str) -> model.NodeConfig:
    """The node; its router is the (first) worker of type ``router``, if any: containers and
    guests may connect to a router elsewhere."""
    index = router_index(raw)
    hosting = build_hosting(raw, cbdir, build_websocket_options, build_transport)
    if index is None:
        return model.NodeConfig(cbdir=cbdir, config_file=config_file, realms=(), transports=(),
                                ignored=ignored_keys(raw), workers=hosting.workers, router_path=None)
    worker = raw["workers"][index]
    transports: List[model.Transport] = [
        build_transport(t, cbdir, json_path(("workers", index, "transports", i)), i)
        for i, t in enumerate(worker["transports"])]
    return model.NodeConfig(cbdir=cbdir, config_file=config_file,
                            realms=tuple(build_realm(r) for r in worker["realms"]),
                            transports=tuple(transports), ignored=ignored_keys(raw),
                            cluster=build_cluster(worker["options"], json_path(("workers", index))),
                            auth_failures=build_auth_failures(worker["options"]["auth_failures"]),
                            components=hosting.components, router_options=hosting.router_options,
                            workers=hosting.workers, router_id=hosting.router_id,
                            router_path=json_path(("workers", index)))


def build_auth_failures(raw: Mapping[str, Any]) -> model.AuthFailureOptions:
    return _record(model.AuthFailureOptions, raw)


def build_cluster(options: Dict[str, Any], where: str = "workers[0]") -> Optional[model.Cluster]:
    """None for a plain single-process node (nothing of node.cluster is imported then)."""
    raw = options.get("backplane")
    backplane = None if raw is None else model.Backplane(
        type=raw["type"], url=raw.get("url"), subject_prefix=raw["subject_prefix"],
        path=f"{where}.options.backplane")
    if options["processes"] == 1 and backplane is None:
        return None
    return model.Cluster(processes=options["processes"], backplane=backplane)


def ignored_keys(raw: Dict[str, Any]) -> tuple:
    """JSON paths of Crossbar.io keys that are accepted for compatibility but unused,
    so the node can say so at start-up instead of silently dropping them."""
    paths = [f"controller.{key}" for key in raw.get("controller", {})]
    index = router_index(raw)
    if index is not None:
        paths += [f"workers[{index}].options.{key}" for key in raw["workers"][index].get("options", {})
                  if key not in ("processes", "backplane", "auth_failures", "pythonpath", "env")]
    paths += ignored_worker_keys(raw)
    return tuple(paths)
