"""Router components for ``bench/components.py``, measuring their own CPU time.

Each counts the calls it completed and the CPU time spent in its own Python code:
the time inside ``onMessage`` (autobahn's client side, the procedure, the Deferred
callbacks that make the next call) minus the time inside ``send``, which with the
in-memory transport is the router's work on the message the component sends.
SIGUSR1 makes it write both to ``stats.json`` in the node directory, so the
benchmark can read them at the edges of its measurement window.
"""
import json
import os
import signal
import time

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import RegisterOptions
from twisted.internet import reactor

ECHO = "bench.echo"
STATS = "stats.json"


class Measured(ApplicationSession):
    """The counters and the SIGUSR1 dump shared by both components."""

    def __init__(self, config):
        super().__init__(config)
        self.calls = 0
        self.own = 0.0
        self.inner = 0.0
        self.dumps = 0
        signal.signal(signal.SIGUSR1, lambda *_: self.dump())

    def onOpen(self, transport):
        send = transport.send

        def timed_send(msg):
            started = time.thread_time()
            try:
                send(msg)
            finally:
                self.inner += time.thread_time() - started

        transport.send = timed_send  # the in-memory transport's side object: an instance attribute
        super().onOpen(transport)

    def onMessage(self, msg):
        started, inner = time.thread_time(), self.inner
        try:
            super().onMessage(msg)
        finally:
            self.own += time.thread_time() - started - (self.inner - inner)

    def dump(self):
        self.dumps += 1
        path = os.path.join(self.config.extra["cbdir"], STATS)
        with open(path + ".tmp", "w") as f:
            json.dump({"seq": self.dumps, "calls": self.calls, "own_cpu": self.own}, f)
        os.replace(path + ".tmp", path)


class Echo(Measured):
    """Registers ``bench.echo`` as the benchmark's ws callee does."""

    def onJoin(self, details):
        return self.register(self.echo, ECHO, options=RegisterOptions(invoke="roundrobin"))

    def echo(self, *args):
        self.calls += 1
        return args[0] if len(args) == 1 else list(args)


class Caller(Measured):
    """Calls ``bench.echo`` (served by a ws client) with ``extra.outstanding`` calls in flight,
    from when it is registered until the node stops."""

    def onJoin(self, details):
        self.payload = "x" * self.config.extra.get("size", 32)
        for _ in range(self.config.extra.get("outstanding", 16)):
            self.one()

    def one(self):
        d = self.call(ECHO, self.payload)
        d.addCallbacks(self.answered, self.failed)

    def answered(self, result):
        self.calls += 1
        self.one()

    def failed(self, failure):
        if failure.check(ApplicationError) and failure.value.error == "wamp.error.no_such_procedure":
            reactor.callLater(0.05, self.one)  # the ws callee has not registered yet
        elif self.is_attached():
            self.log.error("bench call failed: {error}", error=failure.getErrorMessage())
