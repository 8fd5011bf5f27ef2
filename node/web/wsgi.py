"""``wsgi`` path: a WSGI application (Flask, Django, Pyramid, ...) as Crossbar.io's WSGI
host service runs it: Twisted Web's ``WSGIResource`` on a thread pool of its own.

- The pool has ``minthreads`` to ``maxthreads`` threads; requests beyond
  ``maxthreads`` wait for a thread (at most one per connection: the transport's
  ``max_connections`` bounds them). It is stopped before the reactor shuts down.
- The module is imported with the router worker's ``pythonpath`` in front of
  ``sys.path``; a name that does not resolve stops the start with one line.
- An application that raises gives its client ``500 Internal Server Error`` and the
  log one line naming the application, the exception and the request; the node
  carries on. (Once the application has sent part of its answer, Twisted closes that
  connection instead.)
- Request bodies are taken, up to the web transport's ``max_request_body``, and
  handed to the application as ``wsgi.input`` (:mod:`node.web.body`).
- Paths configured below a ``wsgi`` path are served by their own services; any other
  path below it goes to the application (``PATH_INFO``), as Crossbar.io's
  ``WSGIRootResource`` does for a WSGI root.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Iterator, Sequence

from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from twisted.web import resource
from twisted.web.wsgi import WSGIResource

from node.config.model import WsgiPath
from node.errors import ConfigError, ConfigErrors
from node.web.pyload import add_pythonpath, load

log = Logger()

ERROR_BODY = b"Internal Server Error\n"


class GuardedApplication:
    """The application, with what it raises turned into a 500 and one log line."""

    def __init__(self, app: Callable[..., Any], name: str, reactor: Any) -> None:
        self.app = app
        self.name = name
        self.reactor = reactor

    def __call__(self, environ: Any, start_response: Callable[..., Any]) -> Iterator[bytes]:
        written = False
        try:
            result = self.app(environ, start_response)
            try:
                for chunk in result:
                    written = written or bool(chunk)
                    yield chunk
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception as e:
            self.reactor.callFromThread(
                log.error, "WSGI application {name} raised {kind}: {error} ({method} {path})", name=self.name,
                kind=type(e).__name__, error=str(e)[:300], method=environ.get("REQUEST_METHOD", "?"),
                path=(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))[:200])
            if written:
                raise  # the head has gone out: Twisted closes the connection
            start_response("500 Internal Server Error",
                           [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(ERROR_BODY)))], sys.exc_info())
            yield ERROR_BODY


class WsgiPathResource(resource.Resource):
    """Configured children first, then the application for this path and all below it."""

    takes_body = True  # node.web.body: up to the web transport's max_request_body

    def __init__(self, app: WSGIResource, pool: ThreadPool) -> None:
        super().__init__()
        self.app = app
        self.pool = pool

    def getChild(self, path: bytes, request: Any) -> Any:  # noqa: N802 (Twisted API)
        request.prepath.pop()
        request.postpath.insert(0, path)
        return self.app

    def render(self, request: Any) -> Any:
        return self.app.render(request)


def wsgi_resource(config: WsgiPath, reactor: Any, pythonpath: Sequence[str] = ()) -> WsgiPathResource:
    """The path's resource, its pool started (and stopped when the reactor shuts down).

    @raise ConfigErrors: ``module`` or ``object`` does not resolve.
    """
    add_pythonpath(pythonpath)
    name = f"{config.module}:{config.object}"
    app = load(config.module, config.object, f"{config.path}.module", f"WSGI application {name}", f"{config.path}.object")
    if not callable(app):
        raise ConfigErrors([ConfigError(f"{config.path}.object", f"{name} is a {type(app).__name__}, not a WSGI "
                                        "application", "Name the application object")])
    pool = ThreadPool(minthreads=config.minthreads, maxthreads=config.maxthreads, name=f"wsgi {name}")
    pool.start()
    reactor.addSystemEventTrigger("before", "shutdown", pool.stop)
    guarded = GuardedApplication(app, name, reactor)
    return WsgiPathResource(WSGIResource(reactor, pool, guarded), pool)
