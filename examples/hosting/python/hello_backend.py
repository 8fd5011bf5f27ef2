"""A backend component for a container worker (examples/configs/container.json).

It registers ``com.example.add2``, publishes ``com.example.oncounter`` every second
and calls ``com.example.mul2``, which a client (a browser page, another component)
registers; until one does, the call fails with ``wamp.error.no_such_procedure`` and
the component carries on. The node runs it: ``wampnode start --config
examples/configs/container.json`` (from the repository root).
"""
from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import LoopingCall
from twisted.logger import Logger


class Backend(ApplicationSession):
    log = Logger()

    @inlineCallbacks
    def onJoin(self, details):
        self.counter = 0
        yield self.register(lambda x, y: x + y, "com.example.add2")
        self.ticker = LoopingCall(self.tick)
        self.ticker.start(1.0)
        self.log.info("backend ready: com.example.add2 registered")

    @inlineCallbacks
    def tick(self):
        self.publish("com.example.oncounter", self.counter)
        self.counter += 1
        try:
            result = yield self.call("com.example.mul2", self.counter, 3)
            self.log.info("mul2({counter}, 3) = {result}", counter=self.counter, result=result)
        except ApplicationError as e:
            if e.error != "wamp.error.no_such_procedure":
                raise

    def onLeave(self, details):
        if getattr(self, "ticker", None) is not None and self.ticker.running:
            self.ticker.stop()
        super().onLeave(details)
