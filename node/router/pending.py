"""The Deferreds of an in-process session's requests, settled by the router's answers.

The router's own caller (:mod:`node.router.internal`) and the HTTP bridge's
sessions (:mod:`node.router.local`) send PUBLISH and CALL to a realm as message
objects and get PUBLISHED, RESULT and ERROR back through ``send``. Both keep one
Deferred per request id and settle it from the answer the same way; this is that
bookkeeping, once. :class:`RequestingSession` builds the PUBLISH and CALL of such a
session (the HTTP bridge's, and a proxy worker's service sessions).

This is thin Twisted glue: it imports ``twisted.internet.defer`` only, never the reactor.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.message import Call, Error, Message, Publish, Published, Result
from twisted.internet.defer import Deferred

from node.router.ids import SessionScopeIds


class PendingRequests:
    """Request ids of one session, and a Deferred for each request still waiting."""

    def __init__(self) -> None:
        self._ids = SessionScopeIds()
        self._pending: Dict[int, Deferred] = {}

    def next_id(self) -> int:
        """The next request id (1, 2, 3 ...)."""
        return self._ids.next()

    def wait(self, request: int, canceller: Optional[Callable[[Deferred], None]] = None) -> Deferred:
        """A Deferred for ``request``, settled by :meth:`settle` when its answer comes."""
        d: Deferred = Deferred(canceller)
        self._pending[request] = d
        return d

    def pop(self, request: int) -> Optional[Deferred]:
        """Stop waiting for ``request``; its Deferred, or None if it was already settled."""
        return self._pending.pop(request, None)

    def settle(self, message: Message) -> None:
        """The router's answer: PUBLISHED fires with the publication id, a final RESULT
        with the message, ERROR fails with :class:`ApplicationError` carrying its URI.
        Anything else (a progressive RESULT, an answer to nothing waiting) is dropped."""
        if isinstance(message, Published):
            d = self._pending.pop(message.request, None)
            if d is not None:
                d.callback(message.publication)
        elif isinstance(message, Result):
            if not message.progress:
                d = self._pending.pop(message.request, None)
                if d is not None:
                    d.callback(message)
        elif isinstance(message, Error):
            d = self._pending.pop(message.request, None)
            if d is not None:
                d.errback(ApplicationError(message.error, *(message.args or []), **(message.kwargs or {})))

    def take_all(self) -> List[Deferred]:
        """Stop waiting for every request; their Deferreds, for the caller to fail
        (the session left the realm)."""
        pending, self._pending = self._pending, {}
        return list(pending.values())


class RequestingSession:
    """PUBLISH and CALL of a session of the node's own (the HTTP bridge's, a proxy's
    service sessions), built and checked here; the class delivers them with
    ``_send(request, message, cancel)``, which returns the request's Deferred."""

    _requests: PendingRequests

    def _send(self, request: int, message: Message, cancel: bool = False) -> Deferred:
        raise NotImplementedError

    def publish(self, topic: Any, args: Any, kwargs: Any, options: Dict[str, Any]) -> Deferred:
        """PUBLISH with ``acknowledge``; fires with the publication id, fails with
        :class:`ApplicationError` (the router's ERROR).

        @raise ProtocolError: the values do not make a valid PUBLISH.
        """
        request = self._requests.next_id()
        message = Publish.parse([Publish.MESSAGE_TYPE, request, dict(options, acknowledge=True), topic]
                                + _payload(args, kwargs))
        return self._send(request, message)

    def call(self, procedure: Any, args: Any, kwargs: Any, options: Dict[str, Any]) -> Deferred:
        """CALL; fires with the RESULT message, fails with :class:`ApplicationError`.
        Cancelling the Deferred sends CANCEL (``killnowait``: the callee is interrupted).

        @raise ProtocolError: the values do not make a valid CALL.
        """
        request = self._requests.next_id()
        message = Call.parse([Call.MESSAGE_TYPE, request, dict(options), procedure] + _payload(args, kwargs))
        return self._send(request, message, cancel=True)


def _payload(args: Any, kwargs: Any) -> list:
    """The wire form's trailing ``args``/``kwargs`` (left out when empty, as clients send them)."""
    if kwargs:
        return [args if args is not None else [], kwargs]
    if args:
        return [args]
    return []
