"""WAMP in memory: a session in the router process joined to a :class:`RouterSession`
by direct calls, message objects passed both ways, nothing serialized.

Used for router components (:mod:`node.workers.components`). One
:class:`InMemoryConnection` pairs two autobahn ``ITransportHandler`` s, each given
its own ``ITransport`` side:

- **component -> router** is a direct call: the component's ``send(msg)`` is the
  router session's ``onMessage(msg)``, before ``send`` returns (as a socket write
  would hand the message over). The component's code never runs inside the router's
  code (see below), so the router is never re-entered.
- **router -> component** is delivered on the next reactor turn, in order, through
  one :class:`Deliveries` queue per process. The router's code (``deliver`` walking
  an outcome's messages, the dealer recording an invocation after sending it) must
  not run the component's code in the middle of it: a component that answers an
  INVOCATION, publishes from an event handler or calls itself synchronously would
  change the routing state being walked, and a chain of such calls would grow the
  stack without bound. A network transport has the same property for free (bytes go
  out, answers come back on a later turn); so does this one, at the cost of one
  ``callLater(0)`` per batch, not per message. A batch delivers what was queued when
  it began: messages queued meanwhile wait for the next turn, so a component calling
  itself in a loop cannot starve the sockets.
- **closing**, by either side, delivers what was queued before it, then ``onClose``
  to both sessions on the next turn, router session first: as with a socket, the
  component reads the router's GOODBYE or ABORT before the connection is gone.

Message objects are shared, not copied: what a component publishes or returns must
not be changed by it afterwards (Crossbar.io's router components share them too).
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Deque, List, Tuple

from autobahn.wamp.exception import TransportLost
from autobahn.wamp.types import TransportDetails
from twisted.internet import defer
from twisted.logger import Logger

log = Logger()

_CLOSE = object()  # queued after a connection's last message: then both onClose


class Deliveries:
    """Messages on their way to in-memory sessions, delivered on the next reactor turn."""

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self._queue: Deque[Tuple["InMemoryConnection", Any]] = deque()
        self._scheduled: Any = None

    def put(self, connection: "InMemoryConnection", item: Any) -> None:
        self._queue.append((connection, item))
        if self._scheduled is None:
            self._scheduled = self.reactor.callLater(0, self._flush)

    def _flush(self) -> None:
        self._scheduled = None
        queue = self._queue
        for _ in range(len(queue)):  # this batch only: what it queues goes next turn
            connection, item = queue.popleft()
            connection.deliver(item)
        if queue and self._scheduled is None:
            self._scheduled = self.reactor.callLater(0, self._flush)


class _NoSerializer:
    """What autobahn reads as ``transport._serializer.SERIALIZER_ID`` when joining:
    none (Crossbar.io reports ``serializer=None`` for its router components too)."""

    SERIALIZER_ID = None


def function_details(peer: str, is_server: bool) -> TransportDetails:
    """Transport details of a function-call channel (no framing, no serializer)."""
    return TransportDetails(channel_type=TransportDetails.CHANNEL_TYPE_FUNCTION,
                            channel_framing=TransportDetails.CHANNEL_FRAMING_NATIVE,
                            channel_serializer=TransportDetails.CHANNEL_SERIALIZER_NONE,
                            peer=peer, is_server=is_server)


class _Side:
    """One side's ``ITransport``: ``send`` carries a message to the other side."""

    _serializer = _NoSerializer

    def __init__(self, connection: "InMemoryConnection", send: Callable[[Any], None],
                 details: TransportDetails) -> None:
        self._connection = connection
        self._send = send
        self.transport_details = details

    def send(self, msg: Any) -> None:
        if not self._connection.open:
            raise TransportLost()
        self._send(msg)

    def isOpen(self) -> bool:  # noqa: N802 (autobahn's ITransport)
        return self._connection.open

    def close(self) -> None:
        self._connection.close()

    def abort(self) -> None:
        self._connection.close()

    @property
    def is_closed(self) -> defer.Deferred:
        """Fires (with this transport) once both sessions have had ``onClose``."""
        return self._connection.when_closed(self)


class InMemoryConnection:
    """A router session and a session of the same process, joined in memory.

    @param deliveries: the process's queue towards in-memory sessions.
    @param router_session: the router's side (``onOpen``/``onMessage``/``onClose``).
    @param session: the other side, an autobahn ``ApplicationSession``.
    @param peer: how the router names this peer in logs and session details.
    """

    def __init__(self, deliveries: Deliveries, router_session: Any, session: Any, peer: str) -> None:
        self.deliveries = deliveries
        self.router_session = router_session
        self.session = session
        self.open = False
        self._finished = False  # both onClose called
        self._waiters: List[Tuple[defer.Deferred, _Side]] = []
        self.router_side = _Side(self, self._to_session, function_details(peer, is_server=True))
        self.session_side = _Side(self, router_session.onMessage, function_details(peer, is_server=False))

    def connect(self) -> None:
        """Open both sides: the router's first, so that the session's HELLO (sent
        from its ``onOpen``/``onConnect``) finds it waiting."""
        self.open = True
        self.router_session.onOpen(self.router_side)
        self.session.onOpen(self.session_side)

    def _to_session(self, msg: Any) -> None:
        self.deliveries.put(self, msg)

    def close(self) -> None:
        if self.open:
            self.open = False
            self.deliveries.put(self, _CLOSE)

    def deliver(self, item: Any) -> None:
        """A queued message (or the close) reaches the session; its faults stay its own."""
        if self._finished:
            return
        if item is _CLOSE:
            self._finish()
            return
        try:
            self.session.onMessage(item)
        except TransportLost:  # it answered a message that arrived after the close began
            pass
        except Exception as e:  # as a socket transport drops a peer whose onMessage fails
            log.warn("{peer}: session failed on {message}, closing it: {error}",
                     peer=self.router_side.transport_details.peer, message=type(item).__name__.upper(),
                     error=f"{type(e).__name__}: {e}")
            self.close()

    def _finish(self) -> None:
        self._finished = True
        for handler in (self.router_session, self.session):
            try:
                handler.onClose(True)
            except Exception:
                log.failure("{peer}: onClose failed", peer=self.router_side.transport_details.peer)
        waiters, self._waiters = self._waiters, []
        for waiter, side in waiters:
            waiter.callback(side)

    def when_closed(self, side: _Side) -> defer.Deferred:
        if self._finished:
            return defer.succeed(side)
        d: defer.Deferred = defer.Deferred()
        self._waiters.append((d, side))
        return d
