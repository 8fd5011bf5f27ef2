"""Router components for tests/test_router_components.py (run inside the node's router process)."""
import os

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import PublishOptions
from twisted.internet import reactor, task
from twisted.internet.defer import inlineCallbacks, returnValue


class Backend(ApplicationSession):
    """Registers procedures, publishes on request, calls a procedure a client serves."""

    @inlineCallbacks
    def onJoin(self, details):
        self.details = details
        self.received = []
        yield self.register(lambda a, b: a + b, "com.test.add2")
        yield self.register(self.fail, "com.test.fail")
        yield self.register(self.refuse, "com.test.refuse")
        yield self.register(self.publish_some, "com.test.publish")
        yield self.register(self.ask_client, "com.test.ask_client")
        yield self.register(self.whoami, "com.test.whoami")
        yield self.register(self.self_calls, "com.test.self_calls")
        yield self.register(lambda: self.received, "com.test.received")
        yield self.subscribe(self.received.append, "com.test.to_component")
        yield self.subscribe(self.explode, "com.test.explode")

    def explode(self, text):
        raise ValueError(f"event handler failed on purpose: {text}")

    def fail(self):
        raise ValueError("procedure failed on purpose")

    def refuse(self):
        raise ApplicationError("com.test.refused", "refused on purpose")

    def publish_some(self, count):
        for i in range(count):
            self.publish("com.test.event", i, text=f"event {i}", options=PublishOptions(exclude_me=False))
        return count

    @inlineCallbacks
    def ask_client(self, who):
        name = yield self.call("com.test.client.name", who)
        returnValue(f"hello {name}")

    def whoami(self):
        d = self.details
        return {"session": d.session, "authid": d.authid, "authrole": d.authrole, "authmethod": d.authmethod,
                "authprovider": d.authprovider, "realm": d.realm, "extra": self.config.extra,
                "env": os.environ.get("RC_TEST_VAR"), "home": os.environ.get("HOME"),
                "transport": d.transport.channel_type if d.transport else None}

    @inlineCallbacks
    def self_calls(self, count):
        """Calls its own procedure `count` times in a row: in-memory delivery must not recurse."""
        total = 0
        for i in range(count):
            total = yield self.call("com.test.add2", total, 1)
        returnValue(total)


class SlowJoin(ApplicationSession):
    """Takes a second in onJoin before it registers."""

    @inlineCallbacks
    def onJoin(self, details):
        yield task.deferLater(reactor, 1.0, lambda: None)
        yield self.register(lambda: "slow but there", "com.test.slow")


class FailingJoin(ApplicationSession):
    def onJoin(self, details):
        raise RuntimeError("join failed on purpose")


class FailingInit(ApplicationSession):
    def __init__(self, config):
        raise RuntimeError("constructor failed on purpose")


class NotASession:
    pass


class Leaver(ApplicationSession):
    """Leaves the realm when asked."""

    @inlineCallbacks
    def onJoin(self, details):
        yield self.register(self.leave_later, "com.test.leave_now")

    def leave_later(self):
        reactor.callLater(0, self.leave, "com.test.bye", "asked to leave")
        return "leaving"


class Unserializable(ApplicationSession):
    """Returns and publishes values no serializer can encode."""

    @inlineCallbacks
    def onJoin(self, details):
        yield self.register(lambda: {1, 2}, "com.test.a_set")
        yield self.register(lambda: self.publish("com.test.event", object()), "com.test.publish_object")
        yield self.register(lambda: self.publish("com.test.event", "text"), "com.test.publish_text")
        yield self.register(self.call_client_with_a_set, "com.test.call_client_with_a_set")

    @inlineCallbacks
    def call_client_with_a_set(self):
        try:
            yield self.call("com.test.client.echo", {1, 2})
        except Exception as e:
            returnValue(f"{type(e).__name__}: {e}")
        returnValue("no error")
