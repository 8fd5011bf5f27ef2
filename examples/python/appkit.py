"""What the example apps share: which node to reach, one connection attempt, the exit code.

Not an app itself: pubsub.py and rpc.py import it from this directory (Python puts
a script's own directory first on its import path, so ``python3
examples/python/rpc.py`` finds it from any working directory). To copy an app
elsewhere, copy this file next to it.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable
from urllib.parse import urlparse

from autobahn.twisted.component import Component
from twisted.internet import defer


def argument_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the options every app takes: ``--url``, ``--realm``, ``--ca``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", default=os.environ.get("WAMP_URL", "ws://localhost:8080/ws"),
                        help="ws://, wss:// or rs:// (RawSocket) URL of the node (env WAMP_URL)")
    parser.add_argument("--realm", default=os.environ.get("WAMP_REALM", "realm1"),
                        help="realm to join (env WAMP_REALM)")
    parser.add_argument("--ca", default=os.environ.get("WAMP_CA"),
                        help="CA certificate (PEM) to trust for wss:// instead of the system's (env WAMP_CA)")
    return parser


def transport(url: str, ca: str = None) -> dict:
    """One connection attempt (no retries), so the app fails fast when the node is down.

    ``ca``: a PEM file (private CA, or a self-signed certificate) trusted for wss://
    instead of the system's CA store.
    """
    kind = "rawsocket" if url.startswith(("rs://", "rss://", "tcp://")) else "websocket"
    config = {"type": kind, "url": url, "max_retries": 0}
    if ca:
        parts = urlparse(url)
        config["endpoint"] = {"type": "tcp", "host": parts.hostname, "port": parts.port or 443,
                              "tls": {"hostname": parts.hostname, "trust_root": ca}}
    return config


def watch_failures(component: Component, outcome: dict) -> None:
    """Remember why the connection or the session ended badly, to tell the user."""

    @component.on_connectfailure
    def connect_failed(component, error):
        outcome["error"] = f"cannot connect: {error}"

    @component.on_leave
    def left(session, details):
        if details.reason != "wamp.close.normal":
            outcome["error"] = f"session ended: {details.reason} {details.message or ''}".strip()


def run(reactor, name: str, make_component: Callable[[argparse.Namespace, dict], Component],
        args: argparse.Namespace):
    """Start the app's component and exit 0 when its ``main`` set ``outcome["ok"]``;
    else exit 1 with one line (``name``: why) on stderr, also after ``--timeout`` seconds."""
    outcome = {"ok": False}
    component = make_component(args, outcome)
    done = component.start(reactor)
    timer = reactor.callLater(args.timeout, done.cancel)

    def finished(result):
        if timer.active():
            timer.cancel()
        if getattr(result, "check", lambda *_: False)(defer.CancelledError):
            print(f"{name}: timed out after {args.timeout} s", file=sys.stderr)
        elif not outcome["ok"]:
            reason = outcome.get("error") or getattr(result, "getErrorMessage", lambda: "did not finish")()
            print(f"{name}: failed ({args.url}, realm {args.realm}): {reason}", file=sys.stderr)
        raise SystemExit(0 if outcome["ok"] else 1)

    return done.addBoth(finished)
