"""The three HTTP bridge path types, as Crossbar.io's ``bridge/rest`` answers them.

- ``publisher``: ``{"topic", "args", "kwargs", "options"}`` -> PUBLISH (acknowledged)
  -> 200 ``{"id": publication}``. A refused publication is a 4xx naming the WAMP
  error (``{"error": "wamp.error.not_authorized", "args": [...], "kwargs": {}}``;
  403 for ``not_authorized``, else 400); Crossbar.io answered 200, which its own
  clients read as a missing ``id``.
- ``caller``: ``{"procedure", "args", "kwargs"}`` -> CALL -> 200 ``{"args": [...],
  "kwargs": {...}}`` (a single result as ``{"args": [value]}``, none as
  ``{"args": [null]}``: autobahn's reading of a RESULT, as Crossbar.io). A WAMP
  error is 200 ``{"error", "args", "kwargs"}``, as Crossbar.io answers it and
  ``crossbarhttp3`` expects. No answer within ``call_timeout`` (or a shorter
  ``options.timeout`` in ms): the call is cancelled (the callee gets INTERRUPT)
  and the client gets 504; a client that goes away cancels its call too.
- ``webhook``: any POST -> an event on ``topic`` with one argument
  ``{"headers": {name: [values]}, "body": text}`` -> 202 ``success_response``;
  a refused publication -> 500 ``error_response`` (the log names the WAMP error).
  With ``github_secret``, ``X-Hub-Signature-256`` (or the older SHA-1
  ``X-Hub-Signature``) must match (401).
"""
from __future__ import annotations

import hashlib
import hmac
from typing import Any, Dict

from autobahn.wamp.exception import ApplicationError, Error as WampError
from twisted.internet.defer import CancelledError
from twisted.logger import Logger
from twisted.python.failure import Failure

from node.config import model
from node.router.local import LocalSession
from node.web.channel import peer_text
from node.web.httpbridge.payload import PayloadError, parse_json
from node.web.httpbridge.request import NOT_DONE_YET, BridgeResource, dump, error_body
from node.web.httpbridge.signing import Refusal, SignatureCheck

log = Logger()

# PUBLISH options a client may set (Crossbar.io's list, less forward_for: router-to-router only)
PUBLISH_OPTIONS = ("exclude", "exclude_authid", "exclude_authrole", "eligible", "eligible_authid",
                   "eligible_authrole", "exclude_me", "retain")
NOT_AUTHORIZED = "wamp.error.not_authorized"


def _object(body: Any) -> Dict[str, Any]:
    if not isinstance(body, dict):
        raise Refusal(400, f"the request body must be a JSON object, not {type(body).__name__}")
    return body


def _field(event: Dict[str, Any], name: str, kind: type, what: str) -> Any:
    value = event.get(name)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise Refusal(400, f"'{name}' must be {what}, not {type(value).__name__}")
    return value


def _payload(event: Dict[str, Any], uri_key: str) -> Any:
    uri = event.get(uri_key)
    if uri is None:
        raise Refusal(400, f"the request body has no '{uri_key}'")
    if not isinstance(uri, str):
        raise Refusal(400, f"'{uri_key}' must be a string, not {type(uri).__name__}")
    return (uri, _field(event, "args", list, "a list") or None, _field(event, "kwargs", dict, "an object") or None,
            _field(event, "options", dict, "an object") or {})


class _SignedJsonResource(BridgeResource):
    """A path whose body is a JSON object, optionally signed (publisher, caller)."""

    def __init__(self, config: Any, session: LocalSession) -> None:
        super().__init__(config, config.checks)
        self.session = session
        self.signatures = SignatureCheck(config.signing, config.timestamp_delta_limit, config.max_nonces)

    def handle(self, request: Any, body: bytes, text: str) -> Any:
        self.signatures.check(request.args, body)
        try:
            event = _object(parse_json(text))
        except PayloadError as e:
            raise Refusal(400, str(e)) from None
        return self.process(request, event)

    def process(self, request: Any, event: Dict[str, Any]) -> Any:
        raise NotImplementedError

    def failed(self, request: Any, failure: Failure, what: str) -> None:
        """A WAMP error (from the router), or a fault of ours (500, logged)."""
        if failure.check(ApplicationError):
            error = failure.value
            self.reply(request, self.error_status(error.error),
                       error_body(error.error, list(error.args or []), dict(error.kwargs or {})))
            if self.checks.debug or error.error == NOT_AUTHORIZED:
                log.info("HTTP {kind} {path}: {what} for {peer} failed: {error}", kind=self.kind,
                         path=self.config.path, what=what, peer=peer_text(request.getClientAddress()),
                         error=error.error)
            return
        log.failure("HTTP {kind} {path}: {what} failed", failure, kind=self.kind, path=self.config.path, what=what)
        self.reply(request, 500, error_body("wamp.error.runtime_error", ["the node failed to handle the request"]))

    def error_status(self, uri: str) -> int:
        return 200


class PublisherResource(_SignedJsonResource):
    kind = "publisher"

    def process(self, request: Any, event: Dict[str, Any]) -> Any:
        topic, args, kwargs, options = _payload(event, "topic")
        chosen = {k: options[k] for k in PUBLISH_OPTIONS if k in options}
        try:
            d = self.session.publish(topic, args, kwargs, chosen)
        except WampError as e:
            raise Refusal(400, f"{e}"[:300]) from None
        d.addCallbacks(lambda publication: self.reply(request, 200, dump({"id": publication})),
                       lambda failure: self.failed(request, failure, f"publish to '{topic[:100]}'"))
        return NOT_DONE_YET

    def error_status(self, uri: str) -> int:
        return 403 if uri == NOT_AUTHORIZED else 400


def call_answer(result: Any) -> Dict[str, Any]:
    """A RESULT as Crossbar.io answers it: autobahn's reading (one value, CallResult, None)."""
    args, kwargs = list(result.args or []), dict(result.kwargs or {})
    if kwargs:
        answer: Dict[str, Any] = {"kwargs": kwargs}
        if args:
            answer["args"] = args
        return answer
    if len(args) > 1:
        return {"args": args}
    return {"args": [args[0] if args else None]}


class CallerResource(_SignedJsonResource):
    kind = "caller"

    def __init__(self, config: model.CallerPath, session: LocalSession, clock: Any) -> None:
        super().__init__(config, session)
        self.clock = clock

    def process(self, request: Any, event: Dict[str, Any]) -> Any:
        procedure, args, kwargs, options = _payload(event, "procedure")
        timeout = self._timeout(options)
        try:
            d = self.session.call(procedure, args, kwargs, {})
        except WampError as e:
            raise Refusal(400, f"{e}"[:300]) from None
        timer = self.clock.callLater(timeout, d.cancel)
        gone = request.notifyFinish()

        def done(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            return result

        def timed_out(failure: Failure) -> Any:
            failure.trap(CancelledError)
            if not request.finished and not getattr(request, "_disconnected", False):
                log.warn("HTTP caller {path}: no answer from '{procedure}' within {timeout:g} s for {peer}: "
                         "call cancelled (504)", path=self.config.path, procedure=procedure[:100], timeout=timeout,
                         peer=peer_text(request.getClientAddress()))
                self.reply(request, 504, error_body("wamp.error.timeout", [
                    f"no answer from '{procedure[:100]}' within {timeout:g} s: the call was cancelled"]))

        d.addBoth(done)
        d.addCallbacks(lambda result: self.reply(request, 200, dump(call_answer(result))),
                       lambda failure: self.failed(request, failure, f"call of '{procedure[:100]}'"))
        d.addErrback(timed_out)
        gone.addErrback(lambda _: d.cancel())  # the client went away: cancel its call
        return NOT_DONE_YET

    def failed(self, request: Any, failure: Failure, what: str) -> Any:
        if failure.check(CancelledError):
            return failure  # the timer or a client gone: timed_out answers
        return super().failed(request, failure, what)

    def _timeout(self, options: Dict[str, Any]) -> float:
        timeout = self.config.call_timeout
        wanted = options.get("timeout")
        if wanted is not None:
            if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 0:
                raise Refusal(400, "'options.timeout' must be a whole number of milliseconds")
            if wanted > 0:
                timeout = min(timeout, wanted / 1000.0)
        return timeout


class WebhookResource(BridgeResource):
    kind = "webhook"
    reads_json = False

    def __init__(self, config: model.WebhookPath, session: LocalSession) -> None:
        super().__init__(config, config.checks)
        self.session = session
        self.github_secret = config.github_secret.encode("utf-8") if config.github_secret else None

    def handle(self, request: Any, body: bytes, text: str) -> Any:
        if self.github_secret is not None:
            self._github(request, body)
        headers = {name.decode("latin-1"): [v.decode("latin-1") for v in values]
                   for name, values in request.requestHeaders.getAllRawHeaders()}
        topic = self.config.topic
        d = self.session.publish(topic, [{"headers": headers, "body": text}], None, {})
        peer = peer_text(request.getClientAddress())

        def published(_: Any) -> None:
            if self.checks.debug:
                log.info("HTTP webhook {path}: sent webhook from {peer} to {topic}", path=self.config.path,
                         peer=peer, topic=topic)
            self.reply(request, 202, self.config.success_response.encode("utf-8"), b"text/plain; charset=utf-8")

        def failed(failure: Failure) -> None:
            error = failure.value
            reason = (f"{error.error}: {error.args[0] if error.args else ''}"
                      if isinstance(error, ApplicationError) else failure.getErrorMessage())
            log.error("HTTP webhook {path}: cannot publish the webhook from {peer} to '{topic}' as role "
                      "{role} of realm {realm}: {reason}", path=self.config.path, peer=peer, topic=topic,
                      role=self.config.role, realm=self.config.realm, reason=reason)
            self.reply(request, 500, self.config.error_response.encode("utf-8"), b"text/plain; charset=utf-8")

        d.addCallbacks(published, failed)
        return NOT_DONE_YET

    def _github(self, request: Any, body: bytes) -> None:
        secret = self.github_secret or b""
        for header, algorithm, digest in ((b"x-hub-signature-256", "sha256", hashlib.sha256),
                                          (b"x-hub-signature", "sha1", hashlib.sha1)):
            given = request.getHeader(header)
            if given is None:
                continue
            expected = f"{algorithm}=".encode() + hmac.new(secret, body, digest).hexdigest().encode()
            if not hmac.compare_digest(expected, given.strip().lower()):
                raise Refusal(401, f"GitHub signature ({header.decode()}) does not match the body")
            return
        raise Refusal(401, "GitHub signature missing (X-Hub-Signature-256)")


def bridge_resource(config: Any, router: Any, clock: Any) -> BridgeResource:
    """The resource of a ``publisher``, ``caller`` or ``webhook`` path, with its session
    (realm and role were checked with the config)."""
    # the router's LocalSession, or a proxy worker's session through its route (node.workers.proxy_router)
    session = router.bridge_session(config.realm, config.role, f"http-{config.path.rsplit('.', 1)[-1]}"[:64],
                                    {"type": "http-bridge", "path": config.path})
    if isinstance(config, model.PublisherPath):
        return PublisherResource(config, session)
    if isinstance(config, model.CallerPath):
        return CallerResource(config, session, clock)
    return WebhookResource(config, session)


__all__ = ["bridge_resource", "PublisherResource", "CallerResource", "WebhookResource", "call_answer"]

