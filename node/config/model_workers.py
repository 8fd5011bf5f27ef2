"""The application a node hosts, as frozen objects: router components, container
and guest workers (``type: container`` / ``guest``), their transports and options.

Part of :mod:`node.config.model` (which re-exports every name); built by
:mod:`node.config.build_workers`, checked by :mod:`node.config.checks_workers`.
Defaults come from the schema, as everywhere in the model. Paths are absolute
(resolved against the node directory as Crossbar.io resolves them); ``path``
fields are JSON paths (``workers[1].components[0]``) for messages.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, Mapping, Optional, Tuple, Union

if TYPE_CHECKING:  # annotations only: node.config.model imports this module
    from node.config.model import Transport, WebSocketOptions

RESTART_POLICIES = ("restart-never", "restart-on-failed", "restart-always")
SHUTDOWN_POLICIES = ("shutdown-manual", "shutdown-on-last-component-stopped",
                     "shutdown-on-any-component-failed", "shutdown-on-any-component-stopped")


def describe_target(kind: str, host: Optional[str], port: Optional[int], socket_path: Optional[str],
                    tls: bool) -> str:
    """An outgoing connection's target as log lines name it: ``tls host:port``, ``unix /path``."""
    if kind == "unix":
        return f"unix {socket_path}"
    shown = f"[{host}]" if host and ":" in host else host
    return f"{'tls' if tls else 'tcp'} {shown}:{port}"


@dataclass(frozen=True)
class ProcessEnv:
    """``options.env``: the environment of a worker process (Crossbar.io's rules)."""

    inherit: Union[bool, Tuple[str, ...]]  # True: all of the parent's; False: none; names: only those
    vars: Dict[str, str]
    path: str

    def compute(self, parent: Mapping[str, str]) -> Dict[str, str]:
        """The child's environment, given the parent's (``os.environ`` of the node).

        As Crossbar.io's ``create_process_env``: the inherited variables, ``vars``
        over them, and ``PYTHONUNBUFFERED=1`` unless one of those set it.
        """
        if self.inherit is True:
            env = dict(parent)
        elif self.inherit is False:
            env = {}
        else:
            env = {name: parent[name] for name in self.inherit if name in parent}
        env.update(self.vars)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env


@dataclass(frozen=True)
class RouterOptions:
    """The router worker's ``options`` that concern its components."""

    pythonpath: Tuple[str, ...]  # absolute, in front of sys.path
    env: ProcessEnv


@dataclass(frozen=True)
class RouterComponent:
    """A component run inside the router process; it joins ``realm`` as ``role`` (trusted)."""

    id: str
    type: str  # "class" | "function"
    realm: str
    role: str  # default "anonymous", as Crossbar.io
    extra: Dict[str, object]
    classname: Optional[str]  # type class: "package.module.Class"
    callbacks: Dict[str, str]  # type function: "join"|"leave"|"connect"|"disconnect" -> "package.module.fn"
    references: Tuple[str, ...]  # Crossbar.io "connection:<id>" references (none resolves here)
    path: str


@dataclass(frozen=True)
class ConnectingTls:
    """TLS on a component's outgoing connection (Crossbar.io's keys)."""

    hostname: str  # SNI and the name the router's certificate must carry
    ca_certificates: Tuple[str, ...]  # absolute; empty: the system's trust store
    certificate: Optional[str]  # absolute client certificate (with key), or None
    key: Optional[str]
    path: str


@dataclass(frozen=True)
class ConnectingEndpoint:
    """Where a container component connects: TCP (optionally TLS) or a Unix socket."""

    type: str  # "tcp" | "unix"
    host: Optional[str]  # tcp
    port: Optional[int]  # tcp
    version: int  # 4 | 6 (tcp)
    socket_path: Optional[str]  # unix, absolute
    timeout: float  # seconds to wait for the connection
    tls: Optional[ConnectingTls]
    path: str

    def describe(self) -> str:
        return describe_target(self.type, self.host, self.port, self.socket_path, self.tls is not None)


@dataclass(frozen=True)
class ConnectingTransport:
    """A container component's transport to its router."""

    type: str  # "websocket" | "rawsocket"
    endpoint: ConnectingEndpoint
    url: Optional[str]  # websocket: the URL of the opening handshake; rawsocket: unused
    serializers: Tuple[str, ...]  # in preference order; rawsocket uses the first
    websocket_options: Optional[WebSocketOptions]  # websocket
    max_message_size: int  # largest message accepted from the router, bytes (websocket: 0 = no limit)
    path: str


@dataclass(frozen=True)
class ComponentAuth:
    """One method of a container component's ``auth`` (autobahn's ``authentication``)."""

    method: str  # "anonymous" | "ticket" | "wampcra" | "cryptosign"
    authid: Optional[str]
    authrole: Optional[str]
    authextra: Dict[str, object]
    ticket: Optional[str]  # ticket
    secret: Optional[str]  # wampcra
    privkey: Optional[str]  # cryptosign: 64 hex digits
    path: str

    def authenticator_options(self) -> Dict[str, object]:
        """Keyword arguments of ``autobahn.wamp.auth.create_authenticator(method, ...)``."""
        options: Dict[str, object] = {}
        for name in ("authid", "authrole", "ticket", "secret", "privkey"):
            if getattr(self, name) is not None:
                options[name] = getattr(self, name)
        if self.authextra:
            options["authextra"] = dict(self.authextra)
        return options


@dataclass(frozen=True)
class ContainerComponent:
    """A component run in a container process, connecting over ``transport``."""

    id: str
    type: str  # "class" | "function"
    realm: str
    transport: ConnectingTransport
    auth: Tuple[ComponentAuth, ...]  # empty: anonymous
    extra: Dict[str, object]
    classname: Optional[str]
    callbacks: Dict[str, str]
    path: str


@dataclass(frozen=True)
class ContainerWorker:
    """A child process running Python components (``type: container``)."""

    id: str
    components: Tuple[ContainerComponent, ...]
    pythonpath: Tuple[str, ...]  # absolute
    env: ProcessEnv
    restart: str  # one of RESTART_POLICIES
    shutdown: str  # one of SHUTDOWN_POLICIES
    stop_timeout: float  # seconds from SIGTERM to SIGKILL
    disabled: bool  # True: not started
    path: str  # "workers[1]"


@dataclass(frozen=True)
class GuestStdin:
    """``options.stdin``: what a guest's stdin gets at start.

    ``"close"`` is ``type`` "close" (nothing written, closed); an object is a
    ``value`` written as ``json`` or ``msgpack``, then closed if ``close``.
    """

    type: str  # "close" | "json" | "msgpack"
    value: object
    close: bool  # close stdin after writing

    def encode(self) -> bytes:
        """The bytes written: UTF-8 JSON without a newline (as Crossbar.io), msgpack, or none."""
        if self.type == "close":
            return b""
        if self.type == "msgpack":
            import msgpack  # here: loaded only for a guest fed msgpack, not by every config load

            return msgpack.packb(self.value, use_bin_type=True)
        return json.dumps(self.value, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class GuestWatch:
    """``options.watch``: restart the guest when a file under ``directories`` changes."""

    directories: Tuple[str, ...]  # absolute
    action: str  # "restart"
    delay: float  # Crossbar.io's ``timeout``: seconds from the first change to the restart
    path: str


@dataclass(frozen=True)
class GuestWorker:
    """Any program run as a child process (``type: guest``)."""

    id: str
    executable: str  # as written; see find_executable()
    arguments: Tuple[str, ...]
    workdir: str  # absolute (default: the node directory)
    env: ProcessEnv
    stdin: Optional[GuestStdin]  # None: stdin stays open, nothing written (Crossbar.io)
    stdout: str  # "log" | "drop" | "close"
    stderr: str
    watch: Optional[GuestWatch]
    restart: str  # one of RESTART_POLICIES
    stop_timeout: float  # seconds from SIGTERM to SIGKILL
    path: str

    def find_executable(self, search_path: Optional[str]) -> Optional[str]:
        """The program's absolute path, found as Crossbar.io finds it, or None.

        ``executable`` joined to ``workdir`` (an absolute one stays as it is), then a
        plain name (no ``/``) looked up with ``shutil.which`` on ``search_path`` (the
        node's ``PATH``). Either must be an executable file. Unlike Crossbar.io, a
        relative path such as ``../bin/app`` is not tried against the current
        directory too: where the node was started from does not change the result.
        """
        def usable(name: str) -> bool:
            return os.path.isfile(name) and os.access(name, os.X_OK)

        candidate = os.path.abspath(os.path.join(self.workdir, self.executable))
        if usable(candidate):
            return candidate
        if os.sep in self.executable or (os.altsep and os.altsep in self.executable):
            return None
        found = shutil.which(self.executable, path=search_path)
        return os.path.abspath(found) if found and usable(found) else None


@dataclass(frozen=True)
class ProxyConnection:
    """A proxy worker's connection to the router (``connections.<name>``)."""

    name: str
    transport: ConnectingTransport
    auth: str  # "anonymous-proxy" | "cryptosign-proxy"
    path: str


@dataclass(frozen=True)
class ProxyWorker:
    """A process terminating client connections and relaying each session to the router
    (``type: proxy``, Crossbar.io's proxy worker)."""

    id: str
    connections: Dict[str, ProxyConnection]
    routes: Dict[str, Dict[str, str]]  # realm -> role -> connection name
    transports: Tuple["Transport", ...]
    backend_timeout: float  # seconds for a backend session to connect and join
    node_id: Optional[str]  # controller.id: the authid the proxy announces with cryptosign-proxy
    env: ProcessEnv
    restart: str  # one of RESTART_POLICIES
    stop_timeout: float
    path: str
    disabled: bool = False  # (containers may be disabled; proxies are always started)

    def connection_for(self, realm: Optional[str], role: Optional[str]) -> Optional[ProxyConnection]:
        """The connection ``routes`` gives a session of ``realm`` and ``role``, or None."""
        name = self.routes.get(realm or "", {}).get(role or "")
        return self.connections.get(name) if name is not None else None


Worker = Union[ContainerWorker, GuestWorker, ProxyWorker]
