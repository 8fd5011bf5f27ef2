"""The ``wampnode tunnel`` and ``wampnode trust diagnose`` command lines.

``tunnel --listen 127.0.0.1:2222 wss://host/ssh`` serves local connections until
stopped (each failure is one log line and closes that local connection);
``tunnel --stdio wss://host/ssh`` carries stdin/stdout once, for ssh's
``ProxyCommand``, and exits 1 with the one-line error if the tunnel cannot open.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Mapping, Optional

from node.errors import ConfigError, ConfigErrors, ListenError, NodeError

SEND_MESSAGE_SIZE = 1500  # = node.bridge.framing.DEFAULT_SEND_MESSAGE_SIZE (not imported: CLI start-up time)
MAX_SEND_MESSAGE_SIZE = 16777216  # as the tcpbridge path's send_message_size
PIN_HELP = "accept only a server whose key has this base64 SHA-256 SPKI pin (repeatable)"


def add_trust_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line form of the ``trust`` block (same names, same defaults)."""
    parser.add_argument("--cafile", help="PEM file of CA certificates to trust in addition")
    parser.add_argument("--capath", help="directory of PEM CA certificates to trust in addition")
    parser.add_argument("--trust-store", dest="store", choices=("system", "certifi", "none", "jit"),
                        help="root CAs: system store (default), certifi's bundle, none, or jit")
    parser.add_argument("--jit-bundle", help="PEM bundle JIT trust looks CAs up in (default: certifi's)")
    parser.add_argument("--pin-sha256", action="append", dest="pins", metavar="B64", help=PIN_HELP)


def add_tunnel_parser(commands: Any) -> None:
    tunnel = commands.add_parser("tunnel", help="carry local TCP connections over a WebSocket bridge")
    where = tunnel.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen", metavar="HOST:PORT", help="accept local connections here, e.g. 127.0.0.1:2222")
    where.add_argument("--stdio", action="store_true", help="carry stdin/stdout once (ssh ProxyCommand)")
    tunnel.add_argument("url", help="the bridge's URL, ws://... or wss://...")
    tunnel.add_argument("--base64", action="store_true", help="offer the base64 subprotocol (text frames)")
    tunnel.add_argument("--proxy", help="HTTP proxy URL http://[user:password@]host:port "
                                        "(default: HTTPS_PROXY/HTTP_PROXY unless NO_PROXY matches; '' for none)")
    tunnel.add_argument("--origin", help="Origin header to send")
    tunnel.add_argument("--connect-timeout", type=float, default=10.0, help="seconds for TCP, proxy, TLS and upgrade")
    tunnel.add_argument("--max-message-size", type=int, default=65536,
                        help="largest WebSocket message accepted (octets, default 65536; at least 2026)")
    tunnel.add_argument("--send-message-size", type=int, default=SEND_MESSAGE_SIZE,
                        help=f"largest WebSocket message sent (octets, default {SEND_MESSAGE_SIZE}, what every "
                             "server must accept; raise it for a server known to accept more)")
    tunnel.add_argument("--loglevel", choices=("error", "warn", "info", "debug"), default=None)
    add_trust_arguments(tunnel)

    trust = commands.add_parser("trust", help="outgoing TLS trust tools")
    actions = trust.add_subparsers(dest="trust_command", metavar="ACTION")
    actions.required = True
    diagnose = actions.add_parser("diagnose", help="show a server's chain and whether (and why not) it is trusted")
    diagnose.add_argument("url", help="https://host:port (or wss://)")
    diagnose.add_argument("--timeout", type=float, default=10.0)
    add_trust_arguments(diagnose)


def trust_options(args: argparse.Namespace, where: str) -> Any:
    """A ClientTrust from the trust arguments; file problems raise ConfigErrors."""
    import re

    # Imported here: the parser is built on every `wampnode` run; these load the TLS stack.
    from node.config.build import trust_from_values
    from node.trust import ClientTrust

    errors: List[ConfigError] = []
    for pin in args.pins or ():
        if not re.fullmatch(r"[A-Za-z0-9+/]{43}=", pin):
            errors.append(ConfigError("--pin-sha256", f"{pin!r} is not a base64 SHA-256 (44 characters ending in '=')",
                                      "Compute it with: openssl x509 -pubkey -noout -in CERT | openssl pkey -pubin "
                                      "-outform der | openssl dgst -sha256 -binary | base64"))
    values: Dict[str, Any] = {"cafile": args.cafile, "capath": args.capath, "store": args.store,
                              "jit_bundle": args.jit_bundle, "pin_sha256": args.pins}
    trust = ClientTrust(trust_from_values(values, where), cafile_option="--cafile")
    errors += [ConfigError(e.where.replace("trust.", "--").replace("_", "-"), e.problem, e.fix) for e in trust.check()]
    if errors:
        raise ConfigErrors(errors)
    return trust


def parse_listen(text: str) -> tuple:
    """``127.0.0.1:2222``, ``[::1]:2222`` or ``2222`` -> (host, port)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError("--listen", f"{text!r} is not HOST:PORT", "Write it as 127.0.0.1:2222")
    return host, int(port)


def run_tunnel(args: argparse.Namespace, environ: Optional[Mapping[str, str]] = None, reactor: Any = None) -> int:
    from node.log import choose_twisted, start_logging
    from node.tunnel.client import TunnelSettings, parse_websocket_url
    from node.tunnel.proxy import proxy_for

    environ = os.environ if environ is None else environ
    secure, host, port = parse_websocket_url(args.url)
    proxy = proxy_for(secure, host, port, args.proxy, environ)
    trust = trust_options(args, "trust") if secure else None
    if args.max_message_size < 2026:
        raise ConfigError("--max-message-size", f"{args.max_message_size} is below 2026",
                          "1500 octets of data (2026 as base64) must always fit")
    if not SEND_MESSAGE_SIZE <= args.send_message_size <= MAX_SEND_MESSAGE_SIZE:
        raise ConfigError("--send-message-size", f"{args.send_message_size} is not between {SEND_MESSAGE_SIZE} "
                          f"and {MAX_SEND_MESSAGE_SIZE}",
                          f"Every server accepts {SEND_MESSAGE_SIZE}; give more only for one known to accept it")
    settings = TunnelSettings(url=args.url, secure=secure, host=host, port=port, use_base64=args.base64,
                              proxy=proxy, trust=trust, connect_timeout=args.connect_timeout,
                              max_message_size=args.max_message_size, origin=args.origin,
                              send_message_size=args.send_message_size)
    choose_twisted()
    start_logging(args.loglevel or ("warn" if args.stdio else "info"), "standard", stream=sys.stderr)
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    if args.stdio:
        return _run_stdio(reactor, settings)
    return _run_listener(reactor, settings, args.listen)


def _run_listener(reactor: Any, settings: Any, listen: str) -> int:
    from twisted.internet.endpoints import TCP4ServerEndpoint, TCP6ServerEndpoint
    from twisted.internet.protocol import Factory
    from twisted.logger import Logger

    from node.tunnel.client import LocalConnection, Tunnel

    log = Logger()
    host, port = parse_listen(listen)
    tunnel = Tunnel(reactor, settings)
    factory = Factory.forProtocol(lambda: LocalConnection(tunnel))
    factory.noisy = False
    endpoint_class = TCP6ServerEndpoint if ":" in host else TCP4ServerEndpoint
    outcome: Dict[str, Any] = {}

    def listening(port_object: Any) -> None:
        address = port_object.getHost()
        log.info("Tunnel listening on {host}:{port} -> {target}", host=address.host, port=address.port,
                 target=settings.describe())

    def not_listening(failure: Any) -> None:
        outcome["error"] = ListenError("--listen", f"cannot listen on {listen}: {failure.getErrorMessage()}",
                                       "Choose a free port")
        reactor.stop()

    def start() -> None:
        endpoint_class(reactor, port, interface=host).listen(factory).addCallbacks(listening, not_listening)

    reactor.callWhenRunning(start)
    reactor.run()
    if "error" in outcome:
        raise outcome["error"]
    return 0


def _run_stdio(reactor: Any, settings: Any) -> int:
    from twisted.internet import stdio

    from node.tunnel.client import LocalConnection, Tunnel

    class StdioTunnel(Tunnel):
        error: Optional[NodeError] = None

        def failed(self, connection: Any, error: NodeError) -> None:
            self.error = error  # reported by the CLI as its one error line

        def closed(self, connection: Any) -> None:
            if reactor.running:
                reactor.stop()

    tunnel = StdioTunnel(reactor, settings)
    reactor.callWhenRunning(lambda: stdio.StandardIO(LocalConnection(tunnel)))
    reactor.run()
    if tunnel.error is not None:
        raise tunnel.error
    return 0


def run_trust(args: argparse.Namespace) -> int:
    from node.trust.diagnose import diagnose_url

    trust = trust_options(args, "trust")
    report, ok = diagnose_url(args.url, trust, args.timeout)
    print(report)
    return 0 if ok else 1
