"""A backend that runs inside the node's router process: a router component.

Started by the node (``examples/configs/router-components.json``), it joins realm1
as role ``backend`` without credentials, then:

- registers ``com.example.add2`` (clients call it);
- registers ``com.example.greet``, which calls ``com.example.client.name`` (a
  procedure a client serves) and answers with a greeting;
- publishes a counter to ``com.example.tick`` every second.
"""
from autobahn.twisted.wamp import ApplicationSession
from twisted.internet.defer import inlineCallbacks, returnValue
from twisted.internet.task import LoopingCall


class Backend(ApplicationSession):

    @inlineCallbacks
    def onJoin(self, details):
        self.ticks = 0
        self.ticker = LoopingCall(self.tick)
        yield self.register(self.add2, "com.example.add2")
        yield self.register(self.greet, "com.example.greet")
        self.ticker.start(self.config.extra.get("tick_seconds", 1.0))
        self.log.info("backend ready as {role} on {realm}", role=details.authrole, realm=details.realm)

    def add2(self, x, y):
        return x + y

    @inlineCallbacks
    def greet(self):
        name = yield self.call("com.example.client.name")
        returnValue(f"Hello, {name}!")

    def tick(self):
        self.ticks += 1
        self.publish("com.example.tick", self.ticks)

    def onLeave(self, details):
        if self.ticker.running:
            self.ticker.stop()
        super().onLeave(details)
