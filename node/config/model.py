"""The parsed configuration: frozen objects built once from the validated JSON.

Code after :mod:`node.config` never reads raw dicts; it receives these objects.
Defaults are *not* repeated here: the schema (``node/config/schema.json``) fills
them in before these objects are built, so the schema stays the single source of
truth for option names and defaults. A field named like a schema key takes that
key's value (``schema_key`` names keys that are no Python names); a key without a
schema default that the config leaves out is None.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple, Union

# the application a node hosts (router components, containers, guests): its own module, re-exported here
from node.config.model_workers import (RESTART_POLICIES, SHUTDOWN_POLICIES, ComponentAuth, describe_target,  # noqa: F401
                                       ConnectingEndpoint, ConnectingTls, ConnectingTransport, ContainerComponent,
                                       ContainerWorker, GuestStdin, GuestWatch, GuestWorker, ProcessEnv,
                                       ProxyConnection, ProxyWorker, RouterComponent, RouterOptions, Worker)
# the HTTP bridge and reverse-proxy web paths: their own module, re-exported here
from node.config.model_web import (BRIDGE_PATHS, BridgeOptions, CallerPath, PublisherPath,  # noqa: F401
                                   LongPollOptions, LongPollPath, ReverseProxyPath, Signing, WebhookPath, WebSocketBackend,
                                   WebSocketReverseProxyPath)
# the json, archive, wsgi and resource web paths: their own module, re-exported here
from node.config.model_webapps import (PYTHON_PATHS, WAP_CONVERTERS, ArchivePath, JsonPath, ResourcePath,  # noqa: F401
                                       WapPath, WapRoute, WsgiPath, wap_route_pattern)

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
class RealmLimits:
    """What a realm keeps for its clients; 0 means no limit.

    These field defaults (no limits) only serve objects built by hand in tests;
    a configuration gets the schema's defaults (``realms[].options.max_*``).
    """

    max_uri_length: int = 0  # UTF-8 octets
    max_subscriptions_per_session: int = 0
    max_registrations_per_session: int = 0
    max_pending_calls_per_session: int = 0
    max_retained_events: int = 0
    max_retained_bytes: int = 0


@dataclass(frozen=True)
class Realm:
    """A realm. ``roles`` empty means: every session may do everything (dev mode)."""

    name: str
    roles: Tuple[Role, ...]
    uri_check: str  # "loose" | "strict"
    enable_meta_api: bool
    event_history: Tuple[EventHistory, ...]
    limits: RealmLimits = RealmLimits()


def schema_key(name: str) -> Any:
    """A field whose schema key is not a Python name (``authenticator-realm``)."""
    return field(metadata={"key": name})


@dataclass(frozen=True)
class DynamicSettings:
    """``"type": "dynamic"`` of any method: a WAMP procedure decides."""

    authenticator: str  # procedure URI
    authenticator_realm: Optional[str] = schema_key("authenticator-realm")  # None: the session's realm
    # proxy workers: the role their call goes through (None: "trusted"); a router calls as itself
    authenticator_role: Optional[str] = field(default=None, metadata={"key": "authenticator-role"})


@dataclass(frozen=True)
class AnonymousProxySettings:
    """``anonymous-proxy`` (static): no keys; whoever connects is trusted as a proxy worker."""


@dataclass(frozen=True)
class AnonymousSettings:
    role: str
    authid: Optional[str] = None  # every session's authid; None: a random one per session (never the HELLO's)


@dataclass(frozen=True)
class TicketPrincipal:
    ticket: str  # may be "${NAME}": read from the environment when compared
    role: str
    realm: Optional[str]  # the only realm this principal may join


@dataclass(frozen=True)
class TicketSettings:
    principals: Dict[str, TicketPrincipal]  # authid -> principal


@dataclass(frozen=True)
class WampCraUser:
    secret: str  # may be "${NAME}"
    role: str
    realm: Optional[str]
    salt: Optional[str]  # set: the key is PBKDF2(secret, salt, iterations, keylen)
    iterations: Optional[int]
    keylen: Optional[int]


@dataclass(frozen=True)
class WampCraSettings:
    users: Dict[str, WampCraUser]  # authid -> user


@dataclass(frozen=True)
class CryptosignPrincipal:
    realm: Optional[str]
    role: str
    authorized_keys: Tuple[str, ...]  # hex Ed25519 public keys


@dataclass(frozen=True)
class CryptosignSettings:
    principals: Dict[str, CryptosignPrincipal]


@dataclass(frozen=True)
class TlsPrincipal:
    certificate_sha256: str = schema_key("certificate-sha256")  # hex, colons allowed
    role: str
    realm: Optional[str]


@dataclass(frozen=True)
class TlsSettings:
    role: Optional[str]  # for any certificate the endpoint's CA accepts (authid: its CN)
    principals: Optional[Dict[str, TlsPrincipal]]  # authid -> principal, by fingerprint or name


@dataclass(frozen=True)
class CookieAuthSettings:
    """``cookie``: no keys; the login bound to the connection's tracking cookie decides."""


@dataclass(frozen=True)
class ScramPrincipal:
    """One SCRAM credential: what the router keeps instead of a password (hex values)."""

    kdf: str  # "argon2id-13" | "pbkdf2"
    iterations: int
    memory: Optional[int]  # KiB, argon2id-13 only
    salt: str
    stored_key: str = schema_key("stored-key")
    server_key: str = schema_key("server-key")
    role: str
    realm: Optional[str]  # the only realm this principal may join


@dataclass(frozen=True)
class ScramSettings:
    principals: Dict[str, ScramPrincipal]  # authid -> credential


AuthSettings = Union[DynamicSettings, AnonymousSettings, AnonymousProxySettings, TicketSettings, WampCraSettings,
                     CryptosignSettings, TlsSettings, CookieAuthSettings, ScramSettings]


@dataclass(frozen=True)
class AuthMethod:
    """One entry of a transport's ``auth`` map.

    ``method`` is ``anonymous``, ``ticket``, ``wampcra``, ``cryptosign``, ``tls``, ``cookie`` or ``scram``;
    ``type`` is ``static`` or ``dynamic``. ``settings`` holds the method's keys:
    :class:`DynamicSettings` for every dynamic method, else the method's own class.
    Build one outside a config file with :func:`node.config.fragments.auth_method`.
    """

    method: str
    type: str
    settings: AuthSettings


# --- transports ---------------------------------------------------------------


@dataclass(frozen=True)
class DeflateOptions:
    """``compression.deflate``: permessage-deflate (RFC 7692) parameters."""

    request_no_context_takeover: bool
    request_max_window_bits: int
    no_context_takeover: Optional[bool]
    max_window_bits: Optional[int]
    memory_level: Optional[int]


@dataclass(frozen=True)
class CompressionOptions:
    deflate: Optional[DeflateOptions]  # None: no compression


@dataclass(frozen=True)
class WebSocketOptions:
    """WebSocket protocol options in Crossbar's names (``$defs/websocket_options``);
    times in milliseconds, sizes in bytes, 0 usually meaning "no limit"."""

    allowed_origins: Tuple[str, ...]
    allow_null_origin: bool
    enable_webstatus: bool
    external_port: Optional[int]
    max_frame_size: int
    max_message_size: int
    auto_fragment_size: int
    fail_by_drop: bool
    echo_close_codereason: bool
    open_handshake_timeout: int
    hello_timeout: int  # ms from the WebSocket opening to WELCOME; 0: never
    close_handshake_timeout: int
    tcp_nodelay: bool
    auto_ping_interval: int
    auto_ping_timeout: int
    auto_ping_size: int
    require_masked_client_frames: bool
    validate_utf8: bool
    mask_server_frames: bool
    apply_mask: bool
    show_server_version: bool
    require_websocket_subprotocol: bool
    compression: Optional[CompressionOptions]
    max_connections: int
    max_outgoing_buffer: int
    max_request_head: int  # octets of the opening handshake's request head


@dataclass(frozen=True)
class CookieStoreOptions:
    """``cookie.store``: ``memory``, or ``file`` kept in ``filename`` (absolute)."""

    type: str
    filename: Optional[str]
    max_cookies: int
    purge_on_startup: bool


@dataclass(frozen=True)
class CookieOptions:
    """``cookie``: cookie tracking of a WebSocket (or long-poll) service."""

    name: str
    length: int
    max_age: int  # seconds
    store: CookieStoreOptions
    same_site: str  # "Strict" | "Lax" | "None"
    secure: Optional[bool]  # None: exactly when the transport uses TLS
    http_strict: bool  # HttpOnly
    path: str  # JSON path of this block, for messages


@dataclass(frozen=True)
class WampWebSocket:
    """A WAMP-over-WebSocket service: a ``websocket`` transport or web path."""

    serializers: Tuple[str, ...]
    options: WebSocketOptions
    auth: Tuple[AuthMethod, ...]
    path: str
    cookie: Optional[CookieOptions] = None  # None: no cookie tracking


@dataclass(frozen=True)
class RawSocketService:
    serializers: Tuple[str, ...]
    max_message_size: int
    max_connections: int  # 0: no limit
    max_outgoing_buffer: int  # bytes; 0: no limit
    open_handshake_timeout: int  # ms; 0: never
    hello_timeout: int  # ms from the handshake to WELCOME; 0: never
    auth: Tuple[AuthMethod, ...]
    path: str


@dataclass(frozen=True)
class StaticPath:
    directory: str  # absolute
    enable_directory_listing: bool
    mime_types: Dict[str, str]
    cache_timeout: Optional[int]
    allow_dotfiles: bool
    follow_symlinks_into: Tuple[str, ...]  # absolute
    max_ranges: int
    path: str


@dataclass(frozen=True)
class NodeInfoPath:
    path: str


@dataclass(frozen=True)
class PathAccess:
    """Who may read a ``metrics`` or ``dashboard`` path (README: Monitoring)."""

    allowed_networks: Tuple[str, ...]  # as written (checked by node.config.checks); (): any address
    credentials: Tuple[Tuple[str, str], ...]  # (user, password) for HTTP basic auth; (): no login


@dataclass(frozen=True)
class MetricsPath:
    """Prometheus metrics of the node (``type: metrics``)."""

    access: PathAccess
    gather_timeout: float  # seconds to wait for the other processes (processes: N)
    path: str


@dataclass(frozen=True)
class DashboardPath:
    """A live page of the node's numbers (``type: dashboard``)."""

    access: PathAccess
    gather_timeout: float
    interval: float  # seconds between the page's reads
    history: int  # seconds the charts show
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
        return describe_target(self.type, self.host, self.port, self.socket_path, self.tls is not None)


@dataclass(frozen=True)
class TcpBridgePath:
    """A ``tcpbridge`` web path: each WebSocket carries one TCP connection to ``target``."""

    target: BridgeTarget
    max_message_size: int
    send_message_size: int
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
class HstsOptions:
    """The object form of ``hsts``."""

    max_age: int  # seconds
    include_subdomains: bool


@dataclass(frozen=True)
class WebOptions:
    """A web transport's ``options`` (``$defs/web_options``); times in seconds."""

    access_log: bool
    display_tracebacks: bool
    hsts: Union[bool, HstsOptions]
    hsts_max_age: int  # used when hsts is true
    client_timeout: Optional[int]  # None: never
    request_head_timeout: Optional[int]  # None: no limit
    max_connections: int  # 0: no limit
    max_request_head: int  # octets of a request line and headers
    max_request_body: int  # octets; the fallback of paths that take a body


@dataclass(frozen=True)
class WebService:
    """A ``web`` transport's path tree: URL path segment -> path service."""

    paths: Dict[str, object]  # "/" and other keys -> one of the *Path objects
    options: WebOptions
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
    # the HTTP site's options: web.options, or the schema's defaults for a universal
    # transport without ``web``; None for transports without HTTP (websocket, rawsocket)
    http_options: Optional[WebOptions] = None


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


@dataclass(frozen=True)
class AuthFailureOptions:
    """``workers[0].options.auth_failures``: how failed logins are slowed down (seconds)."""

    free: int  # failures from one address answered at once
    window: float  # an address's count is forgotten this long after its last failure
    delay: float  # the first late answer's wait; doubles per further failure
    max_delay: float
    max_addresses: int  # addresses tracked; the least recently failing one goes first


@dataclass(frozen=True)
class NodeConfig:
    cbdir: str
    config_file: str
    realms: Tuple[Realm, ...]
    transports: Tuple[Transport, ...]
    ignored: Tuple[str, ...] = ()  # Crossbar.io keys accepted but not used (JSON paths)
    cluster: Optional[Cluster] = None  # None: one process, no backplane (node.cluster unused)
    auth_failures: Optional[AuthFailureOptions] = None  # None: the schema's defaults
    components: Tuple[RouterComponent, ...] = ()  # run inside the router process
    router_options: Optional[RouterOptions] = None  # None: no router worker
    workers: Tuple[Worker, ...] = ()  # containers, guests and proxies, in config order
    router_id: Optional[str] = None  # the router worker's id; None: no router worker
    router_path: Optional[str] = "workers[0]"  # JSON path of the router worker; None: no router worker
    read_as_version_1: bool = False  # a version 1 config, read as upgraded (node.config.version1)
