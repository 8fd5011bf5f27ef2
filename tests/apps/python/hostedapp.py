"""Components the hosting tests run in a container (our own code, in the shape of
Crossbar.io's hello example: a procedure, a counter topic, and a call back to a
procedure the client serves), plus what the fault tests need.

Every URI starts with ``config.extra["prefix"]`` (default ``app``), so one config
can run two of them.
"""
from __future__ import annotations

import os

from autobahn.twisted.util import sleep
from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import LoopingCall
from twisted.logger import Logger


class Backend(ApplicationSession):
    """``type: class``: registers ``<prefix>.add2``, ``.whoami``, ``.fail``, ``.leave``; publishes
    ``<prefix>.oncounter`` every 0.2 s and calls ``<prefix>.mul2`` (the client's), publishing each
    result on ``<prefix>.onmul2``."""

    log = Logger()

    @inlineCallbacks
    def onJoin(self, details):
        self.prefix = self.config.extra.get("prefix", "app")
        self.counter = 0
        yield self.register(lambda x, y: x + y, f"{self.prefix}.add2")
        yield self.register(lambda: {"pid": os.getpid(), "session": details.session, "authid": details.authid,
                                     "authrole": details.authrole, "extra": self.config.extra,
                                     "cwd": os.getcwd(), "flag": os.environ.get("HOSTED_FLAG")},
                            f"{self.prefix}.whoami")
        yield self.register(self.fail, f"{self.prefix}.fail")
        yield self.register(self.leave_soon, f"{self.prefix}.leave")
        self.ticker = LoopingCall(self.tick)
        self.ticker.start(0.2)
        self.log.info("backend {prefix} ready", prefix=self.prefix)
        print(f"backend {self.prefix} printed this", flush=True)

    def tick(self):
        self.publish(f"{self.prefix}.oncounter", self.counter)
        self.counter += 1
        d = self.call(f"{self.prefix}.mul2", self.counter, 3)
        d.addCallbacks(lambda result: self.publish(f"{self.prefix}.onmul2", result), lambda failure: None)

    def fail(self):
        raise ApplicationError("app.error.failed", "failed as asked")

    def leave_soon(self):
        reactor.callLater(0.05, self.leave)
        return "leaving"

    def onLeave(self, details):
        self.log.info("backend {prefix} leaving: {reason}", prefix=getattr(self, "prefix", "?"),
                      reason=details.reason)
        ticker = getattr(self, "ticker", None)
        if ticker is not None and ticker.running:
            ticker.stop()
        super().onLeave(details)


class SlowBackend(Backend):
    """A :class:`Backend` whose ``onJoin`` waits 1 s before it registers anything."""

    @inlineCallbacks
    def onJoin(self, details):
        yield sleep(1.0)
        yield Backend.onJoin(self, details)


class Refuses(ApplicationSession):
    """``onJoin`` raises: the component fails."""

    def onJoin(self, details):
        raise RuntimeError("refusing to start")


def on_join(session, details):
    """``type: function`` ``callbacks.join``: registers ``<prefix>.upper``."""
    prefix = session.config.extra.get("prefix", "fn")
    return session.register(lambda text: text.upper(), f"{prefix}.upper")
