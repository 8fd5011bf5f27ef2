"""Twisted Web resources for the ``resource`` path tests, made as Crossbar.io makes them: ``Class(extra)``."""
import json

from twisted.web import resource


class Greeting(resource.Resource):
    isLeaf = True

    def __init__(self, extra):
        super().__init__()
        self.extra = extra

    def render_GET(self, request):
        request.setHeader(b"Content-Type", b"application/json")
        return json.dumps({"extra": self.extra, "path": request.path.decode()}).encode()

    def render_POST(self, request):
        return b"got %d octets" % len(request.content.read())


class Failing(resource.Resource):
    def __init__(self, extra):
        raise ValueError("cannot make it")


class NotAResource:
    def __init__(self, extra):
        pass
