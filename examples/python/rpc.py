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

from autobahn.twisted.component import Component
from autobahn.wamp.exception import ApplicationError
from twisted.internet import task

from appkit import argument_parser, run, transport, watch_failures

PROCEDURE = "com.example.rpc.add2"
INVALID_ARGUMENT = "com.example.error.invalid_argument"


def parse_args(argv: list) -> argparse.Namespace:
    parser = argument_parser(__doc__.split("\n\n")[0])
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


if __name__ == "__main__":
    task.react(run, ("rpc.py", make_component, parse_args(sys.argv[1:])))
