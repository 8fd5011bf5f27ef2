"""One WAMP-over-Longpoll transport: the ``ITransport`` a :class:`RouterSession` sends to.

What the router sends waits in a bounded queue until the client's next ``receive``
request takes it (one message per answer, or all of them for a batched
serializer: ``wamp.2.json.batched``). A ``receive`` with nothing to take waits up
to ``request_timeout`` seconds, then is answered 204 and the client polls again.

Bounds (Crossbar.io's options and meaning, see the ``longpoll_options`` schema):

- more than ``queue_limit_messages`` messages or ``queue_limit_bytes`` octets
  waiting: the client is not reading, it is dropped and its session ends; one
  message larger than ``queue_limit_bytes`` is refused as too large for the peer
  (:class:`~node.wire.size.MessageTooLarge`: the router sends something else);
- no request for ``session_timeout`` seconds (none waiting either): dropped.

The router session hears of a transport's end (``onClose``) on the next reactor
turn, never inside a ``send`` (the router may be walking its subscribers). A
transport the router closed (after ABORT or GOODBYE) keeps its queue until the
client has read it or :data:`LINGER` seconds passed, so the last word arrives.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Deque, Optional

from autobahn.wamp.exception import SerializationError, TransportLost
from twisted.logger import Logger
from twisted.web import http
from twisted.web.server import NOT_DONE_YET

from node.wire.size import check_size

log = Logger()

LINGER = 10.0  # seconds a closed transport keeps messages the client has not read yet
QUEUE_LIMIT = "queue_limit"  # wampnode_connections_refused_total{limit} of a dropped long-poll client


class LongPollTransport:
    """The router's side of one long-poll client (``ITransport`` for the router session).

    @param owner: the path's resource; it has ``options``, ``clock``, ``counts``, ``sent`` and
        ``forget(transport)``.
    @param send_headers: sets the path's standard headers (CORS, no caching) on a request.
    """

    def __init__(self, owner: Any, transport_id: str, serializer: Any, details: Any, session: Any,
                 send_headers: Callable[[Any], None]) -> None:
        self.owner = owner
        self.id = transport_id
        self.serializer = serializer
        self.transport_details = details
        self._serializer = serializer  # autobahn's ITransport attribute: HELLO details read it
        self.session: Optional[Any] = session
        self._send_headers = send_headers
        self._queue: Deque[bytes] = deque()
        self._queued_bytes = 0
        self._request: Any = None  # the receive request waiting for a message
        self._request_timer: Any = None
        self._idle_timer: Any = None
        self._last_seen = owner.clock.seconds()
        self.closing = False  # the session ended; the queue may still hold its last messages
        self.gone = False  # forgotten by the path: every request gets 404
        self._watch_idle(owner.options.session_timeout)

    # --- ITransport (called by the router session) --------------------------------------

    def send(self, msg: Any) -> None:
        if not self.isOpen():
            raise TransportLost()
        try:
            payload, _ = self.serializer.serialize(msg)
        except Exception as e:  # a value the serializer cannot carry
            raise SerializationError(f"{type(e).__name__}: {e}")
        options = self.owner.options
        check_size(payload, options.queue_limit_bytes)  # larger than the whole queue: the router decides
        if options.debug:
            log.info("long-poll {tid}: TX {payload}", tid=self.id, payload=_shown(payload))
        self.owner.sent[msg.MESSAGE_TYPE] += 1
        self._queue.append(payload)
        self._queued_bytes += len(payload)
        if self._request is not None:
            self._answer()
            return
        over_messages = options.queue_limit_messages and len(self._queue) > options.queue_limit_messages
        over_bytes = options.queue_limit_bytes and self._queued_bytes > options.queue_limit_bytes
        if over_messages or over_bytes:
            log.warn("Dropping long-poll transport {tid} of {peer}: {count} messages ({size} octets) wait for it, "
                     "over queue_limit_messages {messages} or queue_limit_bytes {octets}: the client is not polling",
                     tid=self.id, peer=self.transport_details.peer, count=len(self._queue), size=self._queued_bytes,
                     messages=options.queue_limit_messages, octets=options.queue_limit_bytes)
            counts = self.owner.counts
            if counts is not None:
                counts.refused[QUEUE_LIMIT] = counts.refused.get(QUEUE_LIMIT, 0) + 1
            self.drop(clean=False)

    def isOpen(self) -> bool:  # noqa: N802 (autobahn's ITransport)
        return self.session is not None and not self.closing

    def close(self) -> None:
        """The router ends the session: what is queued (ABORT, GOODBYE) still reaches the client."""
        if self.closing:
            return
        self._end_session(clean=True)
        if not self._queue:
            self._forget()
        else:
            self._watch_idle(LINGER)

    abort = close

    def close_with(self, code: int, reason: str) -> None:  # hello_timeout's close: no codes here
        self.close()

    # --- the client's requests ----------------------------------------------------------

    def receive(self, request: Any) -> Any:
        """A ``receive`` request: answered now if a message waits, else held."""
        self._seen()
        previous = self._request
        if previous is not None:  # a second poll replaces the first, which gets an empty answer
            self._request = None
            self._cancel_request_timer()
            self._empty(previous)
        self._request = request
        request.notifyFinish().addBoth(lambda _: self._request_done(request))
        if self._queue:
            self._answer()
        elif self.closing:
            self._forget()
        else:
            timeout = self.owner.options.request_timeout
            if timeout > 0:
                self._request_timer = self.owner.clock.callLater(timeout, self._timed_out)
        return NOT_DONE_YET

    def deliver(self, body: bytes) -> None:
        """A ``send`` request's body: its messages go to the session (raises if it does not decode)."""
        self._seen()
        if self.closing:
            return
        messages = self.serializer.unserialize(body)
        if self.owner.options.debug:
            log.info("long-poll {tid}: RX {payload}", tid=self.id, payload=_shown(body))
        for message in messages:
            session = self.session
            if session is None or self.closing:
                return
            session.onMessage(message)

    def drop(self, clean: bool) -> None:
        """End the session and forget the transport now (client's ``close``, timeout, node stopping)."""
        if not self.closing:
            self._end_session(clean)
        self._forget()

    # --- inside -------------------------------------------------------------------------

    def _answer(self) -> None:
        request, self._request = self._request, None
        self._cancel_request_timer()
        if self.serializer._serializer._batched:
            payload = b"".join(self._queue)
            self._queue.clear()
        else:
            payload = self._queue.popleft()
        self._queued_bytes -= len(payload)
        counts = self.owner.counts
        if counts is not None:
            counts.bytes_out += len(payload)
        self._send_headers(request)
        request.setHeader(b"content-type", self.serializer.MIME_TYPE.encode("ascii"))
        request.write(payload)
        request.finish()
        if self.closing and not self._queue:
            self._forget()

    def _empty(self, request: Any) -> None:
        if not request.finished and not request._disconnected:
            request.setResponseCode(http.NO_CONTENT)
            self._send_headers(request)
            request.finish()

    def _timed_out(self) -> None:
        self._request_timer = None
        request, self._request = self._request, None
        if request is not None:
            self._empty(request)

    def _request_done(self, request: Any) -> None:
        """A receive answered or gone (the client closed its connection): the idle time starts now."""
        self._seen()
        if self._request is request:
            self._request = None
            self._cancel_request_timer()

    def _cancel_request_timer(self) -> None:
        timer, self._request_timer = self._request_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _seen(self) -> None:
        self._last_seen = self.owner.clock.seconds()

    def _watch_idle(self, timeout: float) -> None:
        if self._idle_timer is not None and self._idle_timer.active():
            self._idle_timer.cancel()
        self._idle_timer = self.owner.clock.callLater(timeout, self._check_idle, timeout) if timeout > 0 else None

    def _check_idle(self, timeout: float) -> None:
        self._idle_timer = None
        if self.gone:
            return
        idle = self.owner.clock.seconds() - self._last_seen
        if self._request is None and idle >= timeout:
            if not self.closing:
                log.info("Dropping long-poll transport {tid} of {peer}: no request for {idle:.0f} s "
                         "(session_timeout {timeout} s)", tid=self.id, peer=self.transport_details.peer,
                         idle=idle, timeout=timeout)
            self.drop(clean=False)
            return
        wait = timeout if self._request is not None else timeout - idle
        self._idle_timer = self.owner.clock.callLater(max(wait, 0.05), self._check_idle, timeout)

    def _end_session(self, clean: bool) -> None:
        """The router session hears ``onClose`` on the next turn (never inside its own send)."""
        self.closing = True
        session, self.session = self.session, None
        if session is not None:
            self.owner.clock.callLater(0, _close_session, session, clean)

    def _forget(self) -> None:
        if self.gone:
            return
        self.gone = True
        self._queue.clear()
        self._queued_bytes = 0
        if self._idle_timer is not None and self._idle_timer.active():
            self._idle_timer.cancel()
        self._idle_timer = None
        request, self._request = self._request, None
        self._cancel_request_timer()
        if request is not None and not request.finished and not request._disconnected:
            request.setResponseCode(http.NOT_FOUND)
            self._send_headers(request)
            request.finish()
        self.owner.forget(self)
        if self.owner.options.debug:
            log.info("long-poll {tid}: transport closed", tid=self.id)


def _close_session(session: Any, clean: bool) -> None:
    try:
        session.onClose(clean)
    except Exception:
        log.failure("long-poll: the session's onClose failed")


def _shown(payload: bytes) -> str:
    text = repr(payload[:300])[2:-1]
    return text + ("..." if len(payload) > 300 else "")
