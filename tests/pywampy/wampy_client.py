"""PyPI ``wampy`` against a node: two sessions subscribe/publish/register/call over ws json.

Runs under the interpreter of its own venv (see requirements.txt), not under pytest.
Settings from the environment: WAMP_URL, WAMP_TOPIC, and optionally WAMP_AUTHID with
WAMPYSECRET (wampy's own variable for its WAMP-CRA secret). Prints one JSON line and
exits 0 on success; prints ``FAIL: ...`` to stderr and exits 1 otherwise.
"""
import copy
import json
import os
import sys
import time

from wampy.constants import DEFAULT_ROLES
from wampy.peers.clients import Client
from wampy.roles.callee import callee
from wampy.roles.subscriber import subscribe

URL = os.environ["WAMP_URL"]
TOPIC = os.environ["WAMP_TOPIC"]
AUTHID = os.environ.get("WAMP_AUTHID")
PAYLOAD = {"n": 1, "s": "ünï", "f": 2.5, "list": [1, [2]], "none": None}


def roles():
    details = copy.deepcopy(DEFAULT_ROLES)
    if AUTHID:
        details.update(authmethods=["wampcra"], authid=AUTHID)
    return details


class Callee(Client):
    """Procedures are registered under their method names: that is how wampy works."""

    events = []

    @callee
    def wampy_add(self, a, b):
        return a + b

    @callee
    def wampy_echo(self, *args, **kwargs):
        return {"args": list(args), "kwargs": kwargs}

    @callee
    def wampy_fail(self):
        raise ValueError("it failed")

    @subscribe(topic=TOPIC)
    def on_event(self, *args, **kwargs):
        kwargs.pop("meta", None)
        self.events.append({"args": list(args), "kwargs": kwargs})


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def wait_for(predicate, what, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def error_uri(response):
    """wampy returns an ERROR message object from ``client.call``: [8, 48, request, details, uri, ...]."""
    return response.message[4] if getattr(response, "WAMP_CODE", None) == 8 else None


def scenario():
    with Callee(url=URL, name="callee", roles=roles()) as server, \
            Client(url=URL, name="caller", roles=roles()) as client:
        check(server.session.id != client.session.id, "two distinct sessions")
        wait_for(lambda: len(server.registration_map) == 3 and len(server.subscription_map) == 1,
                 "the callee's registrations and subscription")
        client.publish(topic=TOPIC, message=PAYLOAD)
        client.publish(topic=TOPIC, message="second")
        wait_for(lambda: len(Callee.events) == 2, "two events")
        check(Callee.events == [{"args": [], "kwargs": {"message": PAYLOAD}},
                                {"args": [], "kwargs": {"message": "second"}}], f"events: {Callee.events}")

        check(client.rpc.wampy_add(2, 3) == 5, "wampy_add(2, 3)")
        echoed = client.rpc.wampy_echo(1, "two", k="v")
        check(echoed == {"args": [1, "two"], "kwargs": {"k": "v"}}, f"echo: {echoed}")
        # wampy's callee answers a raising procedure with ERROR (URI = procedure name)
        # and then a YIELD for the same request: the router must drop the stray YIELD
        check(error_uri(client.call("wampy_fail")) == "wampy_fail", "wampy_fail raised")
        check(client.rpc.wampy_add(1, 1) == 2, "the callee survives its stray YIELD")
        check(error_uri(client.call("com.example.missing")) == "wamp.error.no_such_procedure", "missing")
        return {"sessions": [client.session.id, server.session.id], "events": len(Callee.events), "calls": 5}


def main():
    try:
        summary = scenario()
    except BaseException as e:  # report anything, including wampy's own errors, as a failure
        print(f"FAIL: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps(summary))
    sys.exit(0)


if __name__ == "__main__":
    main()
