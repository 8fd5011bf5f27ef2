"""Web paths that reach beyond the node's own files, as frozen objects: the HTTP bridge
(``publisher``, ``caller``, ``webhook``), the reverse proxies (``reverseproxy``,
``websocket-reverseproxy``) and WAMP over HTTP long-poll (``longpoll``).

Part of :mod:`node.config.model` (which re-exports every name); built by
:mod:`node.config.build_web`. Defaults come from the schema, as everywhere in the
model; ``path`` fields are JSON paths for messages.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple

if TYPE_CHECKING:  # annotations only: node.config.model imports this module
    from node.config.model import AuthMethod, ClientTlsOptions, CookieOptions, WebSocketOptions
    from node.config.model_workers import ConnectingEndpoint


@dataclass(frozen=True)
class BridgeOptions:
    """What every HTTP bridge path checks before it publishes or calls."""

    post_body_limit: int  # octets; 0: the web transport's max_request_body
    require_ip: Optional[Tuple[str, ...]]  # networks as written; None: any client
    require_tls: bool
    allowed_origins: Tuple[str, ...]  # cross-origin browsers allowed (CORS)
    debug: bool


@dataclass(frozen=True)
class Signing:
    """Signed requests of a ``publisher`` or ``caller`` (``key`` and ``secret`` both set)."""

    key: str
    secret: str


@dataclass(frozen=True)
class PublisherPath:
    """``publisher``: a POSTed ``{"topic", "args", "kwargs", "options"}`` becomes a publication."""

    realm: str
    role: str
    checks: BridgeOptions
    signing: Optional[Signing]
    timestamp_delta_limit: int  # seconds; 0: any
    max_nonces: int
    path: str


@dataclass(frozen=True)
class CallerPath:
    """``caller``: a POSTed ``{"procedure", "args", "kwargs"}`` becomes a call; its result the answer."""

    realm: str
    role: str
    checks: BridgeOptions
    signing: Optional[Signing]
    timestamp_delta_limit: int
    max_nonces: int
    call_timeout: float  # seconds; then 504
    path: str


@dataclass(frozen=True)
class WebhookPath:
    """``webhook``: any POST becomes an event on ``topic`` carrying its headers and body."""

    realm: str
    role: str
    checks: BridgeOptions
    topic: str
    success_response: str
    error_response: str
    github_secret: Optional[str]
    path: str


@dataclass(frozen=True)
class ReverseProxyPath:
    """``reverseproxy``: requests below this path go to another web server."""

    host: str
    port: int
    base_path: str  # "" or "/x/y": prefixed to the rest of the request path
    forwarded_port: Optional[int]  # None: the port the request came in on
    forwarded_proto: Optional[str]  # None: https on TLS transports, else http
    tls: Optional["ClientTlsOptions"]
    connect_timeout: float  # seconds; then 502
    timeout: float  # seconds for the response head; then 504
    max_idle_connections: int
    websocket: bool  # pass Upgrade: websocket through
    path: str

    def describe(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{shown}:{self.port}{self.base_path}"


@dataclass(frozen=True)
class WebSocketBackend:
    """The WebSocket server a ``websocket-reverseproxy`` connects each client to."""

    endpoint: "ConnectingEndpoint"
    url: str
    options: "WebSocketOptions"
    path: str


@dataclass(frozen=True)
class WebSocketReverseProxyPath:
    """``websocket-reverseproxy``: each client WebSocket gets one backend WebSocket."""

    options: "WebSocketOptions"  # of the client connections
    backend: WebSocketBackend
    path: str


BRIDGE_PATHS = (PublisherPath, CallerPath, WebhookPath)


@dataclass(frozen=True)
class LongPollOptions:
    """``longpoll_options``: Crossbar.io's names; times in seconds (``hello_timeout`` in ms)."""

    request_timeout: int  # 0: a receive waits until a message comes
    session_timeout: int  # 0: an idle client is never dropped
    queue_limit_bytes: int  # 0: no limit
    queue_limit_messages: int  # 0: no limit
    debug: bool
    debug_transport_id: Optional[str]
    hello_timeout: int
    max_transports: int
    allowed_origins: Tuple[str, ...]


@dataclass(frozen=True)
class LongPollPath:
    """``longpoll``: WAMP sessions over HTTP long-poll, authenticated with ``auth`` as a WebSocket path
    (``cookie``: tracking cookies set on the ``open`` request, as on a WebSocket's opening handshake)."""

    options: LongPollOptions
    auth: Tuple["AuthMethod", ...]
    path: str
    cookie: Optional["CookieOptions"] = None  # None: no cookie tracking
