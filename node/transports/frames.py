"""Sending WAMP messages on WebSocket connections with one frame per payload.

autobahn's ``sendMessage`` checks its arguments, updates statistics and frames
the payload for every connection; its ``sendData`` and ``dataReceived`` format
a debug line (qualified names, ANSI colours) for every read and write even when
debug logging is off. For a router that fans one EVENT out to many subscribers
that is most of the cost of a delivery. :class:`FramedDelivery` keeps autobahn's
protocol and replaces only those three steps for the common case:

- the payload is framed once with autobahn's own ``PreparedMessage`` and the
  frame is reused for every connection the same payload goes to next (a
  publication's EVENT is one message object, serialized once per serializer by
  autobahn's message cache, so its subscribers get the identical payload);
- reads and writes skip the debug-line formatting.

Anything unusual (compression negotiated, auto-fragmentation, masked server
frames, a payload over the size limit, queued or chopped writes, octet logging,
a connection not open) goes through autobahn's own methods unchanged.

The same mixin keeps an idle connection small (what autobahn keeps that a router
never reads again: handshake leftovers, the last frame's masker, an empty send
queue), and :class:`SharedOptions` keeps the factory's protocol options out of
every connection's instance dictionary.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Optional

from autobahn.websocket.protocol import PreparedMessage

from node.transports.quiet import quiet_autobahn

quiet_autobahn()  # no debug strings formatted per connection or per message

CACHE_LIMIT = 64 * 1024  # larger frames are built per send and not kept
_HANDSHAKE_ONLY = ("http_request_data", "http_response_data", "http_status_line", "http_request_uri",
                   "http_request_params", "_wskey", "websocket_extensions", "websocket_protocols",
                   "websocket_origin")


class FrameCache:
    """The frame of the last payload framed: hit when the same bytes object is sent again."""

    __slots__ = ("_payload", "_binary", "_frame")

    def __init__(self) -> None:
        self._payload: Optional[bytes] = None
        self._binary = False
        self._frame = b""

    def frame(self, payload: bytes, is_binary: bool) -> bytes:
        if payload is self._payload and is_binary == self._binary:
            return self._frame
        frame = PreparedMessage(payload, is_binary, False, True).payloadHybi
        if len(payload) <= CACHE_LIMIT:
            self._payload, self._binary, self._frame = payload, is_binary, frame
        else:
            self._payload, self._frame = None, b""
        return frame


FRAMES = FrameCache()


class LazySendQueue:
    """autobahn's ``send_queue`` (chopped and synchronous writes only), made on first use.

    autobahn gives every connection an empty ``deque`` (about 600 bytes) that a
    router never fills; assigning an empty deque here stores nothing.
    """

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        queue = obj.__dict__.get("_send_queue")
        if queue is None:
            queue = obj.__dict__["_send_queue"] = deque()
        return queue

    def __set__(self, obj: Any, value: Any) -> None:
        if isinstance(value, deque) and not value:
            obj.__dict__.pop("_send_queue", None)
        else:
            obj.__dict__["_send_queue"] = value


class FramedDelivery:
    """Mixin for autobahn's (server) ``WebSocketProtocol``: put it first in the bases."""

    send_queue = LazySendQueue()

    def dataReceived(self: Any, data: bytes) -> None:
        self._dataReceived(data)

    def onMessageEnd(self: Any) -> None:
        """autobahn's, without firing the ``message`` observer event (a Deferred
        gathered per message) when nobody observes it."""
        listeners = self._listeners
        if listeners and listeners.get("message"):
            super().onMessageEnd()  # type: ignore[misc]
            return
        if not self.failedByMe:
            if self.trackedTimings:
                self.trackedTimings.track("onMessage")
            self._onMessage(b"".join(self.message_data), self.message_is_binary)
        self.message_data = None
        self.current_frame_masker = None  # made anew for each frame; idle, it is 1 KiB kept

    def _onOpen(self: Any) -> None:
        # autobahn reads these only while processing the opening handshake; an idle
        # connection would keep ~1 KiB of them (headers stay in ``http_headers``)
        for name in _HANDSHAKE_ONLY:
            setattr(self, name, None)
        details = getattr(self, "_transport_details", None)
        if details is not None and details.is_secure and details.peer_cert is None:
            # autobahn 24 (the newest for Python 3.9, e.g. PyPy) reads the client
            # certificate before the TLS handshake has finished; autobahn 26 reads it here
            from autobahn.twisted.util import extract_peer_certificate

            details.peer_cert = extract_peer_certificate(self.transport)
        super()._onOpen()  # type: ignore[misc]

    def sendData(self: Any, data: bytes, sync: bool = False, chopsize: Optional[int] = None) -> None:
        if sync or chopsize or self.__dict__.get("_send_queue") or self.logOctets:
            super().sendData(data, sync, chopsize)  # type: ignore[misc]
            return
        self.transport.write(data)
        if self.state == self.STATE_OPEN:
            self.trafficStats.outgoingOctetsWireLevel += len(data)
        else:
            self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)

    def send_payload(self: Any, payload: bytes, is_binary: bool) -> None:
        """Send one serialized WAMP message as one WebSocket message."""
        if (self.state != self.STATE_OPEN or self._perMessageCompress is not None or self.autoFragmentSize
                or self.maskServerFrames or self.trackedTimings or 0 < self.maxMessagePayloadSize < len(payload)):
            self.sendMessage(payload, is_binary)  # autobahn's checks, errors and features
            return
        self.sendData(FRAMES.frame(payload, is_binary))


class SharedOptions:
    """Mixin for autobahn's WebSocket server factory: protocol options as class attributes.

    autobahn copies its ~35 protocol options from the factory onto every new
    connection unless the protocol already has them; an idle connection keeps
    them all in its instance dictionary (about 1 KiB). Here each connection is
    made from a subclass that carries the factory's current options, so nothing
    is copied; the subclass is made again whenever the options change.
    """

    protocol: Any
    _options_class: Any = None
    _options_key: Any = None

    def buildProtocol(self: Any, addr: Any) -> Any:
        base = self.protocol
        key = (base, tuple(getattr(self, name) for name in base.CONFIG_ATTRS))
        if key != self._options_key:
            values = {name: _class_value(getattr(self, name)) for name in base.CONFIG_ATTRS}
            self._options_class = type(base.__name__, (base,), values)
            self._options_key = key
        protocol = self._options_class()
        protocol.factory = self
        return protocol


def _class_value(value: Any) -> Any:
    """A value to store as a class attribute that reads back unchanged from an
    instance: functions (e.g. ``perMessageCompressionAccept``) must not become methods."""
    return staticmethod(value) if hasattr(type(value), "__get__") else value

