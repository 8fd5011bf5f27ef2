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
import sys

from autobahn.twisted.component import Component
from autobahn.wamp.types import PublishOptions
from twisted.internet import defer, task

from appkit import argument_parser, run, transport, watch_failures

TOPIC = "com.example.pubsub.counter"


def parse_args(argv: list) -> argparse.Namespace:
    parser = argument_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5, help="events to publish")
    parser.add_argument("--timeout", type=float, default=10.0, help="give up after this many seconds")
    return parser.parse_args(argv)


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


if __name__ == "__main__":
    task.react(run, ("pubsub.py", make_component, parse_args(sys.argv[1:])))
