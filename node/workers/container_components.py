"""A container component, as autobahn wants it: its session class, transport and authentication.

Turns a :class:`~node.config.model.ContainerComponent` into the arguments of
autobahn's Twisted ``Component``: the session factory (the ``classname`` class, or a
plain session calling the ``callbacks``), one transport (a Twisted client endpoint
built here, TLS included, plus the URL, serializers and protocol options) and the
authenticators of its ``auth`` methods. The user's module is imported only here, when the
component starts, in the container process.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, List

from autobahn.twisted.wamp import ApplicationSession, Session
from autobahn.wamp.auth import create_authenticator
from autobahn.wamp.protocol import ApplicationSession as BaseSession
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP6ClientEndpoint, UNIXClientEndpoint, wrapClientTLS
from autobahn.wamp.types import ComponentConfig

from node.config.checks_web import REST_COMPONENTS
from node.config.model import ConnectingEndpoint, ConnectingTls, ConnectingTransport, ContainerComponent
from node.errors import NodeError

SessionFactory = Callable[[ComponentConfig], ApplicationSession]

# autobahn retries the connection while the router is unreachable: 0.5 s, doubling to 30 s
# (its first retry waits initial * growth), as every restart of the node does
RETRY = {"max_retries": -1, "initial_retry_delay": 0.25, "retry_delay_growth": 2.0, "max_retry_delay": 30.0,
         "retry_delay_jitter": 0.1}

# Crossbar.io's WebSocket option -> autobahn's client option, and the factor from ms to s
_WEBSOCKET_OPTIONS = {
    "max_frame_size": ("maxFramePayloadSize", None),
    "auto_fragment_size": ("autoFragmentSize", None),
    "fail_by_drop": ("failByDrop", None),
    "open_handshake_timeout": ("openHandshakeTimeout", 0.001),
    "close_handshake_timeout": ("closeHandshakeTimeout", 0.001),
    "tcp_nodelay": ("tcpNoDelay", None),
    "auto_ping_interval": ("autoPingInterval", 0.001),
    "auto_ping_timeout": ("autoPingTimeout", 0.001),
    "auto_ping_size": ("autoPingSize", None),
    "validate_utf8": ("utf8validateIncoming", None),
    "apply_mask": ("applyMask", None),
}


class ComponentLoadError(NodeError):
    """A component's class or callback cannot be imported, or is not what it must be."""


def load_object(name: str, where: str) -> Any:
    """``package.module.name`` imported; one line naming it and the error when that fails."""
    module, _, attribute = REST_COMPONENTS.get(name, name).rpartition(".")  # Crossbar.io's HTTP bridge classes
    try:
        return getattr(importlib.import_module(module), attribute)
    except Exception as e:  # the user's module: any error in it stops this component only
        raise ComponentLoadError(where, f"cannot load {name!r}: {type(e).__name__}: {e}",
                                 "Fix the module (wampnode check finds it, but does not import it)") from e


def session_factory(spec: ContainerComponent) -> SessionFactory:
    """``type: class``: the class itself; ``type: function``: a session calling the callbacks.

    @raise ComponentLoadError: the class or a callback cannot be imported.
    """
    if spec.type == "class":
        assert spec.classname is not None  # the schema requires it
        cls = load_object(spec.classname, f"{spec.path}.classname")
        if not (isinstance(cls, type) and issubclass(cls, ApplicationSession)):
            raise ComponentLoadError(f"{spec.path}.classname", f"{spec.classname!r} is not an autobahn "
                                     f"ApplicationSession subclass", "Name the session class of the component")
        return cls
    callbacks = {event: load_object(name, f"{spec.path}.callbacks.{event}") for event, name in spec.callbacks.items()}

    def make(config: ComponentConfig) -> ApplicationSession:
        session = Session(config)
        for event, fn in callbacks.items():
            session.on(event, fn)  # fn(session, details), as autobahn's Component and Crossbar.io call it
        return session

    return make


def client_tls(tls: ConnectingTls) -> Any:
    """The client TLS of a component's connection: the router's name checked against ``ca_certificates``
    (the system's trust store when empty), and a client certificate when given.

    @raise TlsError: a file cannot be read or holds no certificate or key.
    """
    # node.tls and Twisted's TLS: only for a component that connects with TLS
    from cryptography.hazmat.primitives.serialization import Encoding
    from twisted.internet import ssl

    from node.tls.pem import load_certificates, read_file

    trust = None
    if tls.ca_certificates:
        found = [cert for name in tls.ca_certificates
                 for cert in load_certificates(f"{tls.path}.ca_certificates", name)]
        trust = ssl.trustRootFromCertificates([ssl.Certificate.loadPEM(c.public_bytes(Encoding.PEM)) for c in found])
    client = None
    if tls.certificate and tls.key:
        pem = read_file(f"{tls.path}.certificate", tls.certificate) + b"\n" + read_file(f"{tls.path}.key", tls.key)
        client = ssl.PrivateCertificate.loadPEM(pem)
    return ssl.optionsForClientTLS(tls.hostname, trustRoot=trust, clientCertificate=client)


def client_endpoint(reactor: Any, endpoint: ConnectingEndpoint) -> Any:
    """The Twisted client endpoint the component connects with."""
    if endpoint.type == "unix":
        return UNIXClientEndpoint(reactor, endpoint.socket_path, timeout=endpoint.timeout)
    tcp_class = TCP6ClientEndpoint if endpoint.version == 6 else TCP4ClientEndpoint
    tcp = tcp_class(reactor, endpoint.host, endpoint.port, timeout=endpoint.timeout)
    return tcp if endpoint.tls is None else wrapClientTLS(client_tls(endpoint.tls), tcp)


def protocol_options(transport: ConnectingTransport) -> Dict[str, Any]:
    """autobahn's protocol options of the transport (its ``setProtocolOptions`` names, times in s)."""
    options: Dict[str, Any] = {"maxMessagePayloadSize": transport.max_message_size}
    values = transport.websocket_options
    if transport.type == "websocket" and values is not None:
        for name, (target, scale) in _WEBSOCKET_OPTIONS.items():
            value = getattr(values, name)
            options[target] = value * scale if scale else value
    return options


def transport_config(reactor: Any, transport: ConnectingTransport) -> Dict[str, Any]:
    """One entry of autobahn's ``Component(transports=[...])``."""
    config: Dict[str, Any] = {"type": transport.type, "endpoint": client_endpoint(reactor, transport.endpoint),
                              "options": protocol_options(transport), **RETRY}
    if transport.type == "websocket":
        config["url"] = transport.url
        config["serializers"] = list(transport.serializers)
    else:
        config["serializer"] = transport.serializers[0]
    return config


def authenticators(spec: ContainerComponent) -> Dict[str, Any]:
    """autobahn's authenticator for each method of ``auth`` (empty: anonymous, as autobahn joins).

    @raise ComponentLoadError: a method cannot be set up (cryptosign without PyNaCl, a bad key).
    """
    found: Dict[str, Any] = {}
    for auth in spec.auth:
        try:
            found[auth.method] = create_authenticator(auth.method, **auth.authenticator_options())
        except Exception as e:  # autobahn's optional cryptography (PyNaCl) or a refused option
            raise ComponentLoadError(auth.path, f"cannot set up {auth.method} authentication: "
                                     f"{type(e).__name__}: {e}",
                                     "For cryptosign install PyNaCl (`pip install pynacl`)") from e
    return found


def authenticate(session: Any, found: Dict[str, Any]) -> None:
    """Have ``session`` join with ``found``'s methods and answer their challenges.

    autobahn's ``Component`` adds authenticators with ``Session.add_authenticator``,
    which an ``ApplicationSession`` subclass (Crossbar.io's component classes) lacks;
    there the default ``onConnect``/``onChallenge``/``onWelcome`` are replaced the same
    way, and a class that defines its own keeps them.
    """
    if not found:
        return
    if hasattr(session, "add_authenticator"):
        for authenticator in found.values():
            session.add_authenticator(authenticator)
        return
    cls = type(session)
    first = list(found.values())
    authid = next((a._args["authid"] for a in first if a._args.get("authid")), None)
    authrole = next((a._args["authrole"] for a in first if a._args.get("authrole")), None)
    authextra: Dict[str, Any] = {}
    for authenticator in first:
        authextra.update(authenticator.authextra or {})

    if cls.onConnect is BaseSession.onConnect:
        session.onConnect = lambda: session.join(session.config.realm, authmethods=list(found), authid=authid,
                                                 authrole=authrole, authextra=authextra or None)
    if cls.onChallenge is BaseSession.onChallenge:
        session.onChallenge = lambda challenge: found[challenge.method].on_challenge(session, challenge)
    if cls.onWelcome is BaseSession.onWelcome:
        def on_welcome(welcome: Any) -> Any:
            authenticator = found.get(welcome.authmethod) if welcome.authmethod else None
            return authenticator.on_welcome(session, welcome.authextra) if authenticator else None

        session.onWelcome = on_welcome


def component_extra(spec: ContainerComponent, cbdir: str) -> Dict[str, Any]:
    """``config.extra`` of the session: the component's ``extra`` plus ``cbdir`` (as Crossbar.io adds it)."""
    extra: Dict[str, Any] = dict(spec.extra)
    extra.setdefault("cbdir", cbdir)
    return extra


def describe(spec: ContainerComponent) -> str:
    """``class hello.AppSession`` or ``function join=app.on_join``, for log lines."""
    if spec.type == "class":
        return f"class {spec.classname}"
    names: List[str] = [f"{event}={name}" for event, name in spec.callbacks.items()]
    return "function " + (", ".join(names) or "(no callbacks)")
