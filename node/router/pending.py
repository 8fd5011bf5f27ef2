"""The Deferreds of an in-process session's requests, settled by the router's answers.

The router's own caller (:mod:`node.router.internal`) and the HTTP bridge's
sessions (:mod:`node.router.local`) send PUBLISH and CALL to a realm as message
objects and get PUBLISHED, RESULT and ERROR back through ``send``. Both keep one
Deferred per request id and settle it from the answer the same way; this is that
bookkeeping, once.

This is thin Twisted glue: it imports ``twisted.internet.defer`` only, never the reactor.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.message import Error, Message, Published, Result
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
