"""A web transport's HTTP site with paths that take request bodies, for body-limit tests.

    python tests/body_site.py [OPTIONS_JSON]

Paths with the body policies in their plainest form (the HTTP bridge paths use
them too: tests/test_http_bridge.py), so ``tests/test_web_hardening.py`` drives the site class a web
transport uses (``node.web.tree.NodeSite``, with the schema's web options and
OPTIONS_JSON over them) with these paths on a real socket:

- ``/echo``: takes a body up to the site's ``max_request_body``;
- ``/small``: takes a body up to 100 octets (its own ``max_request_body``);
- ``/none``: takes no body.

A path that takes the request answers ``<method> <body length>``. The process
prints ``listening PORT``, and ``tempfile`` whenever a temporary file is made
(Twisted's own ``Request`` keeps bodies over 100 KB in one).
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import reactor  # noqa: E402
from twisted.web import resource  # noqa: E402

from node.config.fragments import web_options  # noqa: E402
from node.web.tree import NodeSite  # noqa: E402

_temporary_file = tempfile.TemporaryFile


def _reported_temporary_file(*args, **kwargs):
    print("tempfile", flush=True)
    return _temporary_file(*args, **kwargs)


tempfile.TemporaryFile = _reported_temporary_file


class Taker(resource.Resource):
    isLeaf = True

    def __init__(self, takes_body: bool, max_request_body=None) -> None:
        super().__init__()
        self.takes_body = takes_body
        self.max_request_body = max_request_body

    def render(self, request) -> bytes:
        return b"%s %d" % (request.method, len(request.content.read()))


def main() -> None:
    options = web_options(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
    root = resource.Resource()
    root.putChild(b"echo", Taker(True))
    root.putChild(b"small", Taker(True, 100))
    root.putChild(b"none", Taker(False))
    port = reactor.listenTCP(0, NodeSite(root, options), interface="127.0.0.1")
    print(f"listening {port.getHost().port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
