"""Publish and subscribe with an autobahn-python Component on Twisted.

Subscribes to ``com.example.pubsub.counter``, publishes COUNT events to it, waits
until every one came back through the router, leaves, and exits 0. Exit 1 when
the node cannot be reached, refuses the session, or the events do not arrive
within --timeout seconds.

Run it against the default node (``wampnode start`` in the repository root)::

    python3 examples/python/pubsub.py
    python3 examples/python/pubsub.py --url rs://localhost:8081     # over RawSocket
    WAMP_URL=ws://127.0.0.1:9000/ws WAMP_REALM=realm1 python3 examples/python/pubsub.py
"""
from __future__ import annotations

import argparse
import os
import sys
from urllib.parse import urlparse

from autobahn.twisted.component import Component
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer, task

TOPIC = "com.example.pubsub.counter"


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("WAMP_URL", "ws://localhost:8080/ws"),
                        help="ws://, wss:// or rs:// (RawSocket) URL of the node (env WAMP_URL)")
    parser.add_argument("--realm", default=os.environ.get("WAMP_REALM", "realm1"),
                        help="realm to join (env WAMP_REALM)")
    parser.add_argument("--ca", default=os.environ.get("WAMP_CA"),
                        help="CA certificate (PEM) to trust for wss:// instead of the system's (env WAMP_CA)")
    parser.add_argument("--count", type=int, default=5, help="events to publish")
    parser.add_argument("--timeout", type=float, default=10.0, help="give up after this many seconds")
    return parser.parse_args(argv)


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


def make_component(args: argparse.Namespace, outcome: dict) -> Component:
    async def main(reactor, session):
        received = []
        all_arrived = defer.Deferred()

        def on_counter(value, sender):
            print(f"received {value} from {sender}")
            received.append(value)
            if len(received) == args.count:
                all_arrived.callback(None)

        await session.subscribe(on_counter, TOPIC)
        print(f"joined realm {session.config.realm!r} as session {session.session_id}; subscribed to {TOPIC}")
        for value in range(1, args.count + 1):
            # acknowledge: wait until the router accepted it; exclude_me=False: we subscribed too
            await session.publish(TOPIC, value, "pubsub.py",
                                  options=PublishOptions(acknowledge=True, exclude_me=False))
        await all_arrived
        outcome["ok"] = received == list(range(1, args.count + 1))
        print(f"received {len(received)} of {args.count} events, in order: {outcome['ok']}")

    component = Component(transports=[transport(args.url, args.ca)], realm=args.realm, main=main)
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
            print(f"pubsub.py: timed out after {args.timeout} s", file=sys.stderr)
        elif not outcome["ok"]:
            reason = outcome.get("error") or getattr(result, "getErrorMessage", lambda: "did not finish")()
            print(f"pubsub.py: failed ({args.url}, realm {args.realm}): {reason}", file=sys.stderr)
        raise SystemExit(0 if outcome["ok"] else 1)

    return done.addBoth(finished)


if __name__ == "__main__":
    task.react(run, (parse_args(sys.argv[1:]),))
