"""The HTTP bridge's subscriber and callee: container components, as in Crossbar.io.

A container component whose ``classname`` is Crossbar.io's
``crossbar.bridge.rest.MessageForwarder`` or ``RESTCallee`` (or the older
``crossbar.adapter.rest`` names) runs these classes
(:data:`node.config.checks_web.REST_COMPONENTS`), with the same ``extra``:

- :class:`MessageForwarder`: ``{"subscriptions": [{"topic", "url", "match"}],
  "method": "POST", "expectedcode": 200, "debug": false}``: each event on a topic
  becomes an HTTP request to its ``url`` with the JSON body
  ``{"args": [...], "kwargs": {...}}``;
- :class:`RESTCallee`: ``{"procedure", "baseurl"}``: the procedure takes
  ``method``, ``url`` (joined to ``baseurl``), ``body``, ``headers`` and
  ``params`` and answers ``{"code", "content", "headers"}`` of the HTTP response.

Crossbar.io used ``treq`` and waited without limit. Here (Twisted's ``Agent``,
keep-alive): each request has a deadline (:data:`REQUEST_TIMEOUT`), a response
body read is bounded (:data:`MAX_CONTENT`), and a forwarder has at most
:data:`MAX_IN_FLIGHT` requests under way: events beyond are dropped with a warning
(the router does not wait for a subscriber either).
"""
from __future__ import annotations

import json
from io import BytesIO
from typing import Any, Dict, Optional
from urllib.parse import urlencode, urljoin

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import SubscribeOptions
from twisted.internet import defer, reactor as default_reactor
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.web.client import Agent, FileBodyProducer, HTTPConnectionPool, ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers

log = Logger()

REQUEST_TIMEOUT = 30.0  # seconds for one HTTP request, answer included
MAX_CONTENT = 16 * 2 ** 20  # octets of a response body a RESTCallee returns
MAX_IN_FLIGHT = 100  # requests one MessageForwarder has under way


class _BoundedBody(Protocol):
    """Collects a response body up to ``limit`` octets (fails beyond)."""

    def __init__(self, limit: int, done: defer.Deferred) -> None:
        self.limit = limit
        self.done = done
        self.parts: list = []
        self.size = 0

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted API)
        self.size += len(data)
        if self.size > self.limit:
            if not self.done.called:
                self.done.errback(ApplicationError("wamp.error.runtime_error",
                                                   f"the response body is larger than {self.limit} octets"))
            self.transport.stopProducing()
            return
        self.parts.append(data)

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        if self.done.called:
            return
        if reason is None or reason.check(ResponseDone, PotentialDataLoss):
            self.done.callback(b"".join(self.parts))
        else:
            self.done.errback(reason)


def _body(response: Any, limit: int) -> defer.Deferred:
    done: defer.Deferred = defer.Deferred()
    response.deliverBody(_BoundedBody(limit, done))
    return done


class _HttpSession(ApplicationSession):
    def _agent(self) -> Agent:
        agent = getattr(self, "_http_agent", None)
        if agent is None:
            pool = HTTPConnectionPool(default_reactor, persistent=True)
            pool._factory = type("QuietHTTP11ClientFactory", (pool._factory,), {"noisy": False})
            agent = self._http_agent = Agent(default_reactor, pool=pool, connectTimeout=REQUEST_TIMEOUT)
        return agent

    def _request(self, method: str, url: str, body: bytes, headers: Headers) -> defer.Deferred:
        producer = FileBodyProducer(BytesIO(body)) if body else None
        d = self._agent().request(method.encode("ascii"), url.encode("utf-8"), headers, producer)
        d.addTimeout(REQUEST_TIMEOUT, default_reactor)
        return d


class MessageForwarder(_HttpSession):
    """Forwards the events of its subscriptions to HTTP endpoints."""

    in_flight = 0

    @defer.inlineCallbacks
    def onJoin(self, details: Any) -> Any:  # noqa: N802 (autobahn API)
        extra = self.config.extra or {}
        method = str(extra.get("method", "POST"))
        expected: Optional[int] = extra.get("expectedcode")
        debug = bool(extra.get("debug", False))
        for subscription in extra["subscriptions"]:
            url = subscription["url"]

            def on_event(*args: Any, _url: str = url, **kwargs: Any) -> None:
                self._forward(method, _url, args, kwargs, expected, debug)

            yield self.subscribe(on_event, subscription["topic"],
                                 options=SubscribeOptions(match=subscription.get("match", "exact")))
            log.info("HTTP subscriber: events on {topic} go to {method} {url}", topic=subscription["topic"],
                     method=method, url=url)

    def _forward(self, method: str, url: str, args: Any, kwargs: Dict[str, Any], expected: Optional[int],
                 debug: bool) -> None:
        if self.in_flight >= MAX_IN_FLIGHT:
            log.warn("HTTP subscriber: {count} requests to {url} under way: event dropped", count=self.in_flight,
                     url=url)
            return
        body = json.dumps({"args": list(args), "kwargs": kwargs}, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")
        self.in_flight += 1
        d = self._request(method, url, body, Headers({b"Content-Type": [b"application/json"]}))

        def answered(response: Any) -> Any:
            if expected and response.code != expected:
                log.warn("HTTP subscriber: {method} {url} answered {code}, not the expected {expected}",
                         method=method, url=url, code=response.code, expected=expected)
            return _body(response, 64 * 1024).addCallback(
                lambda content: log.info("HTTP subscriber: {url} answered {code}: {content}", url=url,
                                         code=response.code, content=content[:1000].decode("utf-8", "replace"))
                if debug else None)

        def failed(failure: Any) -> None:
            log.warn("HTTP subscriber: {method} {url} failed: {error}", method=method, url=url,
                     error=failure.getErrorMessage())

        def done(result: Any) -> Any:
            self.in_flight -= 1
            return result

        d.addCallback(answered)
        d.addErrback(failed)
        d.addBoth(done)


class RESTCallee(_HttpSession):
    """A procedure whose calls become HTTP requests to ``baseurl``."""

    @defer.inlineCallbacks
    def onJoin(self, details: Any) -> Any:  # noqa: N802 (autobahn API)
        extra = self.config.extra or {}
        base = extra["baseurl"]
        yield self.register(lambda *a, **kw: self._call(base, *a, **kw), extra["procedure"])
        log.info("HTTP callee: {procedure} calls {base}", procedure=extra["procedure"], base=base)

    @defer.inlineCallbacks
    def _call(self, base: str, method: Optional[str] = None, url: Optional[str] = None, body: str = "",
              headers: Optional[Dict[str, Any]] = None, params: Optional[Dict[str, str]] = None) -> Any:
        if not isinstance(method, str) or not isinstance(url, str) or not isinstance(body, str):
            raise ApplicationError("wamp.error.invalid_argument", "method and url (strings) are required; "
                                   "body, headers and params are optional")
        target = urljoin(base, url)
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        raw = Headers({name: value if isinstance(value, list) else [value]
                       for name, value in (headers or {}).items()})
        try:
            response = yield self._request(method.upper(), target, body.encode("utf-8"), raw)
            content = yield _body(response, MAX_CONTENT)
        except ApplicationError:
            raise
        except Exception as e:
            raise ApplicationError("wamp.error.runtime_error", f"{method} {target} failed: {e}") from None
        answer_headers = {name.decode("latin-1"): [v.decode("latin-1") for v in values]
                          for name, values in response.headers.getAllRawHeaders()}
        return {"code": response.code, "content": content.decode("utf-8", "replace"), "headers": answer_headers}
