"""The parsed configuration: frozen objects built once from the validated JSON.

Code after :mod:`node.config` never reads raw dicts; it receives these objects.
Defaults are *not* repeated here: the schema (``node/config/schema.json``) fills
them in before these objects are built, so the schema stays the single source of
truth for option names and defaults.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple, Union

# --- endpoints -------------------------------------------------------------


@dataclass(frozen=True)
class SniEntry:
    """A certificate served for one SNI host name pattern (exact or ``*.example.com``)."""

    key: str  # absolute path
    certificate: str  # absolute path
    chain_certificates: Tuple[str, ...] = ()


@dataclass(frozen=True)
class TlsOptions:
    """``endpoint.tls``; all file paths are absolute (resolved against the cbdir)."""

    key: str
    certificate: str
    chain_certificates: Tuple[str, ...]
    ca_certificates: Tuple[str, ...]
    dhparam: Optional[str]
    ciphers: Optional[str]  # TLS 1.2 cipher string; None = our default list
    ciphersuites: Optional[str]  # TLS 1.3 suites; None = OpenSSL default
    curve: str  # one curve name or a colon-separated list, e.g. "prime256v1"
    min_version: str  # "TLSv1.2" | "TLSv1.3"
    max_version: Optional[str]
    verify_client: str  # "none" | "optional" | "required"
    alpn: Tuple[str, ...]
    session_tickets: bool
    sni: Dict[str, SniEntry]
    path: str  # JSON path of this block, for error messages
    ocsp_staple: Optional[str]  # absolute path of a DER OCSP response, or None


@dataclass(frozen=True)
class TcpEndpoint:
    port: int
    interface: str  # "" = all interfaces
    version: int  # 4 | 6
    backlog: int
    shared: bool
    tls: Optional[TlsOptions]
    path: str

    def describe(self) -> str:
        host = self.interface or ("::" if self.version == 6 else "0.0.0.0")
        if ":" in host:
            host = f"[{host}]"
        return f"tcp {host}:{self.port}"


@dataclass(frozen=True)
class UnixEndpoint:
    socket_path: str  # absolute
    backlog: int
    tls: Optional[TlsOptions]
    path: str

    def describe(self) -> str:
        return f"unix {self.socket_path}"


Endpoint = Union[TcpEndpoint, UnixEndpoint]

# --- realms, roles, authentication ------------------------------------------


@dataclass(frozen=True)
class Permission:
    """One rule of a role; ``match`` is ``exact``, ``prefix`` or ``wildcard``."""

    uri: str
    match: str
    call: bool
    register: bool
    publish: bool
    subscribe: bool
    disclose_caller: bool
    disclose_publisher: bool
    cache: bool


@dataclass(frozen=True)
class Role:
    name: str
    permissions: Tuple[Permission, ...]
    authorizer: Optional[str]  # URI of a dynamic authorizer procedure, or None


@dataclass(frozen=True)
class EventHistory:
    uri: str
    match: str
    limit: int


@dataclass(frozen=True)
class Realm:
    """A realm. ``roles`` empty means: every session may do everything (dev mode)."""

    name: str
    roles: Tuple[Role, ...]
    uri_check: str  # "loose" | "strict"
    enable_meta_api: bool
    event_history: Tuple[EventHistory, ...]


@dataclass(frozen=True)
class AuthMethod:
    """One entry of a transport's ``auth`` map.

    ``method`` is ``anonymous``, ``ticket``, ``wampcra``, ``cryptosign``,
    ``cryptosign-proxy``... ``type`` is ``static`` or ``dynamic``. ``settings`` keeps
    the method-specific keys (principals, users, role, authenticator ...) exactly
    as validated by the schema; the authentication module interprets them.
    """

    method: str
    type: str
    settings: Dict[str, object] = field(default_factory=dict)


# --- transports ---------------------------------------------------------------


@dataclass(frozen=True)
class WebSocketOptions:
    """WebSocket protocol options in Crossbar's names; times in milliseconds."""

    values: Dict[str, object]  # the validated ``options`` object, with defaults


@dataclass(frozen=True)
class WampWebSocket:
    """A WAMP-over-WebSocket service: a ``websocket`` transport or web path."""

    serializers: Tuple[str, ...]
    options: WebSocketOptions
    auth: Tuple[AuthMethod, ...]
    path: str


@dataclass(frozen=True)
class RawSocketService:
    serializers: Tuple[str, ...]
    max_message_size: int
    max_connections: int  # 0: no limit
    max_outgoing_buffer: int  # bytes; 0: no limit
    open_handshake_timeout: int  # ms; 0: never
    auth: Tuple[AuthMethod, ...]
    path: str


@dataclass(frozen=True)
class StaticPath:
    directory: str  # absolute
    enable_directory_listing: bool
    mime_types: Dict[str, str]
    cache_timeout: Optional[int]
    path: str


@dataclass(frozen=True)
class NodeInfoPath:
    path: str


@dataclass(frozen=True)
class RedirectPath:
    url: str
    path: str


@dataclass(frozen=True)
class TrustOptions:
    """``trust``: whom outgoing TLS connections trust (see :mod:`node.trust`)."""

    store: str  # "system" | "certifi" | "none" | "jit"
    cafile: Optional[str]  # absolute
    capath: Optional[str]  # absolute
    pin_sha256: Tuple[str, ...]  # base64 SHA-256 of SubjectPublicKeyInfo
    jit_bundle: str  # "certifi" or an absolute PEM path
    jit_ttl: int  # seconds
    jit_cache_size: int  # hosts
    path: str


@dataclass(frozen=True)
class ClientTlsOptions:
    """TLS on an outgoing connection: the name to verify and the trust."""

    hostname: Optional[str]  # None: the target host
    trust: TrustOptions
    path: str


@dataclass(frozen=True)
class BridgeTarget:
    """Where a ``tcpbridge`` path connects: TCP (optionally TLS) or a Unix socket."""

    type: str  # "tcp" | "unix"
    host: Optional[str]
    port: Optional[int]
    socket_path: Optional[str]  # absolute
    tls: Optional[ClientTlsOptions]
    path: str

    def describe(self) -> str:
        if self.type == "unix":
            return f"unix {self.socket_path}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{'tls' if self.tls else 'tcp'} {host}:{self.port}"


@dataclass(frozen=True)
class TcpBridgePath:
    """A ``tcpbridge`` web path: each WebSocket carries one TCP connection to ``target``."""

    target: BridgeTarget
    max_message_size: int
    allowed_origins: Tuple[str, ...]
    connect_timeout: float
    path: str


@dataclass(frozen=True)
class WebSocketPath:
    service: WampWebSocket
    path: str


@dataclass(frozen=True)
class WebSocketTesteePath:
    """An echoing WebSocket service for conformance test suites (no WAMP)."""

    options: WebSocketOptions
    path: str


@dataclass(frozen=True)
class WebService:
    """A ``web`` transport's path tree: URL path segment -> path service."""

    paths: Dict[str, object]  # "/" and other keys -> one of the *Path objects
    options: Dict[str, object]
    path: str


@dataclass(frozen=True)
class Transport:
    """One listening transport. Exactly the services of its ``type`` are set."""

    type: str  # websocket | web | rawsocket | universal | websocket.testee (echo, options only)
    id: str
    endpoint: Endpoint
    websocket: Optional[WampWebSocket]  # type websocket
    web: Optional[WebService]  # type web, or universal's web part
    rawsocket: Optional[RawSocketService]  # type rawsocket, or universal's part
    websocket_paths: Dict[str, WampWebSocket]  # universal's websocket map
    path: str


@dataclass(frozen=True)
class Backplane:
    """``workers[0].options.backplane``: the NATS server joining router processes."""

    type: str  # "nats"
    url: Optional[str]  # None: the node starts its own nats-server on 127.0.0.1
    subject_prefix: str
    path: str


@dataclass(frozen=True)
class Cluster:
    """Several router processes (``options.processes``) and/or nodes acting as one router."""

    processes: int
    backplane: Optional[Backplane]  # None only with processes > 1: a local nats-server


# --- hosting the application: router components, containers, guests ---------
#
# Paths are absolute (resolved against the node directory as Crossbar.io resolves
# them); ``path`` fields are JSON paths (``workers[1].components[0]``) for messages.

RESTART_POLICIES = ("restart-never", "restart-on-failed", "restart-always")
SHUTDOWN_POLICIES = ("shutdown-manual", "shutdown-on-last-component-stopped",
                     "shutdown-on-any-component-failed", "shutdown-on-any-component-stopped")


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
        if self.type == "unix":
            return f"unix {self.socket_path}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{'tls' if self.tls else 'tcp'} {host}:{self.port}"


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


Worker = Union[ContainerWorker, GuestWorker]


@dataclass(frozen=True)
class NodeConfig:
    cbdir: str
    config_file: str
    realms: Tuple[Realm, ...]
    transports: Tuple[Transport, ...]
    ignored: Tuple[str, ...] = ()  # Crossbar.io keys accepted but not used (JSON paths)
    cluster: Optional[Cluster] = None  # None: one process, no backplane (node.cluster unused)
    components: Tuple[RouterComponent, ...] = ()  # run inside the router process
    router_options: Optional[RouterOptions] = None  # None: no router worker
    workers: Tuple[Worker, ...] = ()  # containers and guests, in config order
    router_id: Optional[str] = None  # the router worker's id; None: no router worker
    router_path: Optional[str] = "workers[0]"  # JSON path of the router worker; None: no router worker
