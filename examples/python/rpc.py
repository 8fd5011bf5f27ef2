"""Remote procedure calls with an autobahn-python Component on Twisted.

Registers ``com.example.rpc.add2``, calls it (2 + 3 = 5), calls it again with a
wrong argument to show how an error travels back to the caller, leaves, and exits
0. Exit 1 when the node cannot be reached, refuses the session or the credentials,
or the calls do not finish within --timeout seconds.

Anonymous against the default node (``wampnode start`` in the repository root)::

    python3 examples/python/rpc.py

With WAMP-CRA authentication, against a node started with examples/configs/wampcra.json
(same port as the default node; its user ``backend1`` takes the secret from the node's
environment)::

    WAMPCRA_SECRET=s3cret wampnode start --config examples/configs/wampcra.json
    WAMP_AUTHID=backend1 WAMP_SECRET=s3cret python3 examples/python/rpc.py
"""
from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlparse

from autobahn.twisted.component import Component
from autobahn.wamp.exception import ApplicationError
from twisted.internet import defer, task

PROCEDURE = "com.example.rpc.add2"
INVALID_ARGUMENT = "com.example.error.invalid_argument"


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("WAMP_URL", "ws://localhost:8080/ws"),
                        help="ws://, wss:// or rs:// (RawSocket) URL of the node (env WAMP_URL)")
    parser.add_argument("--realm", default=os.environ.get("WAMP_REALM", "realm1"),
                        help="realm to join (env WAMP_REALM)")
    parser.add_argument("--ca", default=os.environ.get("WAMP_CA"),
                        help="CA certificate (PEM) to trust for wss:// instead of the system's (env WAMP_CA)")
    parser.add_argument("--authid", default=os.environ.get("WAMP_AUTHID"),
                        help="WAMP-CRA user (env WAMP_AUTHID); without it the session is anonymous")
    parser.add_argument("--secret", default=os.environ.get("WAMP_SECRET"),
                        help="WAMP-CRA secret (env WAMP_SECRET; prefer the environment: "
                             "command lines are visible to other users)")
    parser.add_argument("--timeout", type=float, default=10.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    if bool(args.authid) != bool(args.secret):
        parser.error("WAMP-CRA needs both --authid and --secret (or WAMP_AUTHID and WAMP_SECRET)")
    return args


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


def add2(a, b):
    """The procedure: numbers only; anything else is the caller's mistake, sent back as an error URI."""
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b)):
        raise ApplicationError(INVALID_ARGUMENT, f"add2 adds numbers, got {a!r} and {b!r}")
    return a + b


def make_component(args: argparse.Namespace, outcome: dict) -> Component:
    async def main(reactor, session):
        print(f"joined realm {session.config.realm!r} as {session.authid!r} "
              f"(role {session.authrole!r}, auth {session.authmethod})")
        await session.register(add2, PROCEDURE)
        result = await session.call(PROCEDURE, 2, 3)
        print(f"{PROCEDURE}(2, 3) = {result}")
        try:
            await session.call(PROCEDURE, "two", 3)
            refused = None
        except ApplicationError as error:
            refused = error.error
            print(f"{PROCEDURE}('two', 3) failed as it should: {error.error}: {error.args[0]}")
        outcome["ok"] = result == 5 and refused == INVALID_ARGUMENT

    authentication = {"wampcra": {"authid": args.authid, "secret": args.secret}} if args.authid else None
    component = Component(transports=[transport(args.url, args.ca)], realm=args.realm, main=main,
                          authentication=authentication)
    watch_failures(component, outcome)
    return component


def watch_failures(component: Component, outcome: dict) -> None:
    """Remember why the connection or the session ended badly, to tell the user."""

    @component.on_connectfailure
    def connect_failed(component, error):
        outcome["error"] = f"cannot connect: {error}"

    @component.on_leave
    def left(session, details):
        if details.reason != "wamp.close.normal":
            outcome["error"] = f"session ended: {details.reason} {details.message or ''}".strip()


def run(reactor, args: argparse.Namespace):
    outcome = {"ok": False}
    component = make_component(args, outcome)
    done = component.start(reactor)
    timer = reactor.callLater(args.timeout, done.cancel)

    def finished(result):
        if timer.active():
            timer.cancel()
        if getattr(result, "check", lambda *_: False)(defer.CancelledError):
            print(f"rpc.py: timed out after {args.timeout} s", file=sys.stderr)
        elif not outcome["ok"]:
            reason = outcome.get("error") or getattr(result, "getErrorMessage", lambda: "did not finish")()
            print(f"rpc.py: failed ({args.url}, realm {args.realm}): {reason}", file=sys.stderr)
        raise SystemExit(0 if outcome["ok"] else 1)

    return done.addBoth(finished)


if __name__ == "__main__":
    task.react(run, (parse_args(sys.argv[1:]),))
