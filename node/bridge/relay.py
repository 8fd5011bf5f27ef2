"""One byte stream carried over one WebSocket: the part shared by bridge and tunnel.

:class:`StreamOverWebSocket` is mixed into autobahn's WebSocket server protocol
(the ``tcpbridge`` path) and client protocol (``wampnode tunnel``). The other
side, the *stream*, is a TCP or Unix connection (target, local client, stdio).

What autobahn gives and what is added here (Tor's WebSocket pluggable transport
rules, RFC 6455):

- Masking (unmasked client frame -> close 1002), message size limit
  (``maxMessagePayloadSize`` -> close 1009, checked at each frame header, before
  its payload is read), one pong per ping, UTF-8 and framing errors: autobahn.
- Streaming: autobahn's default per-frame hooks collect a whole message for
  ``onMessage``. Overriding ``onMessageFrameData`` passes each chunk on as it
  arrives, so a message is never buffered, and backpressure reaches the socket.
- Text frames mean base64 (``base64`` subprotocol) and are decoded across
  frames by :class:`~node.bridge.base64stream.Base64MessageDecoder`; a text
  message without that subprotocol closes 1003, invalid base64 closes 1007.
- Every message sent is one frame of at most ``send_message_size`` octets
  (default 1500, which every conforming peer accepts, whatever its receive
  limit); the frames of one read are built by :mod:`node.bridge.framing` and
  written at once.
- Backpressure: each side's transport is registered as the streaming producer
  of the other, so a full socket buffer on one side stops reading on the other
  (Twisted producers/consumers).
- Close: end of the stream (FIN) -> WebSocket close 1000 after the data before
  it; WebSocket closed -> the stream is closed (WebSocket has no half-close).
- Every close frame received is logged with its code and reason (a warning
  unless 1000 or 1001), so a peer's 1009 is not just a short transfer; a peer
  that drops the connection without one is logged too (1006).

autobahn's own ``WrappingWebSocketAdapter`` does the base64/binary mapping but
buffers whole messages, refuses clients that offer no subprotocol, decodes
base64 leniently and has no backpressure or half-close, hence this module.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

from autobahn.websocket.protocol import WebSocketProtocol
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from zope.interface import implementer

from node.bridge.base64stream import Base64Error, Base64MessageDecoder
from node.bridge.framing import DEFAULT_SEND_MESSAGE_SIZE, encode_messages

log = Logger()

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_INTERNAL_ERROR = 1011
MAX_REASON_OCTETS = 123  # RFC 6455 section 5.5: control payload <= 125, 2 for the code


def truncate_reason(reason: str) -> bytes:
    data = reason.encode("utf-8")
    if len(data) <= MAX_REASON_OCTETS:
        return data
    return data[:MAX_REASON_OCTETS - 3].decode("utf-8", "ignore").encode("utf-8") + b"..."


class StreamOverWebSocket:
    """Mixin for an autobahn WebSocket protocol (listed first among the bases)."""

    use_base64 = False
    max_message_size = 65536  # largest message received
    send_message_size = DEFAULT_SEND_MESSAGE_SIZE  # largest message sent
    close_received: Optional[Tuple[Optional[int], str]] = None  # (code, reason) of the peer's close frame
    stream: Any = None  # the stream side's protocol (has ``.transport``)
    stream_failed = False
    octets_in = 0  # WebSocket -> stream
    octets_out = 0  # stream -> WebSocket
    _decoder: Optional[Base64MessageDecoder] = None
    _pending: Optional[List[bytes]] = None

    # --- WebSocket -> stream: autobahn's per-frame hooks -----------------------------

    def onMessageBegin(self, isBinary: bool) -> None:  # noqa: N802,N803 (autobahn API)
        super().onMessageBegin(isBinary)  # type: ignore[misc]
        self._decoder = None
        if self.stream_failed:
            return
        if not isBinary:
            if not self.use_base64:
                self.fail_stream(CLOSE_UNSUPPORTED_DATA, "text message, but the base64 subprotocol was not negotiated")
                return
            self._decoder = Base64MessageDecoder()

    def onMessageFrameData(self, payload: bytes) -> None:  # noqa: N802 (autobahn API)
        if self.stream_failed or self.failedByMe:  # type: ignore[attr-defined]
            return
        if self._decoder is not None:
            try:
                payload = self._decoder.feed(payload)
            except Base64Error as e:
                self.fail_stream(CLOSE_INVALID_PAYLOAD, f"invalid base64: {e}")
                return
        if payload:
            self._to_stream(payload)

    def onMessageFrameEnd(self) -> None:  # noqa: N802 (autobahn API)
        self.frame_data = None  # nothing was collected: data went on as it came

    def onMessageEnd(self) -> None:  # noqa: N802 (autobahn API)
        decoder, self._decoder = self._decoder, None
        if decoder is None or self.stream_failed or self.failedByMe:  # type: ignore[attr-defined]
            return
        try:
            decoder.finish()
        except Base64Error as e:
            self.fail_stream(CLOSE_INVALID_PAYLOAD, f"invalid base64: {e}")

    def _to_stream(self, data: bytes) -> None:
        self.octets_in += len(data)
        if self.stream is None or self.stream.transport is None:
            if self._pending is None:
                self._pending = []
            self._pending.append(data)
        else:
            self.stream.transport.write(data)

    # --- stream -> WebSocket ----------------------------------------------------------

    def stream_data(self, data: bytes) -> None:
        """Bytes from the stream: single-frame messages of at most ``send_message_size``, one write."""
        if self.state != WebSocketProtocol.STATE_OPEN or not data:  # type: ignore[attr-defined]
            return
        self.octets_out += len(data)
        frames = encode_messages(data, self.send_message_size, self.use_base64,
                                 masked=not self.factory.isServer)  # type: ignore[attr-defined]
        # autobahn's sendData, not transport.write: it keeps the order with its own queued writes
        self.sendData(frames)  # type: ignore[attr-defined]

    def stream_connected(self, stream: Any) -> None:
        """The stream is up: wire backpressure, pass on what came before, start reading."""
        self.stream = stream
        ws_transport = self.transport  # type: ignore[attr-defined]
        stream_transport = stream.transport
        # twisted.web's HTTPChannel registered itself as the producer of this
        # transport before autobahn took the connection over; it is idle now.
        if getattr(ws_transport, "producer", None) is not None:
            ws_transport.unregisterProducer()
        ws_transport.registerProducer(stream_transport, True)
        stream_transport.registerProducer(ws_transport, True)
        pending, self._pending = self._pending or [], None
        for data in pending:
            stream_transport.write(data)
        ws_transport.resumeProducing()  # each side paused reading until the other was up
        stream_transport.resumeProducing()

    def stream_ended(self) -> None:
        """FIN from the stream: everything it sent is queued; close the WebSocket 1000."""
        if self.state == WebSocketProtocol.STATE_OPEN:  # type: ignore[attr-defined]
            self.sendClose(CLOSE_NORMAL, "stream closed")  # type: ignore[attr-defined]

    def stream_lost(self) -> None:
        """The stream connection is gone; end the WebSocket too (1000 if still open)."""
        stream, self.stream = self.stream, None
        if stream is not None and getattr(self.transport, "producer", None) is stream.transport:  # type: ignore[attr-defined]
            self.transport.unregisterProducer()  # type: ignore[attr-defined]
        self.stream_ended()

    # --- closing --------------------------------------------------------------------

    def fail_stream(self, code: int, reason: str, warn: bool = True) -> None:
        """Close the WebSocket with ``code`` (any RFC 6455 code) and end the stream."""
        if self.stream_failed:
            return
        self.stream_failed = True
        if warn:
            log.warn("WebSocket {peer}: closing {code}: {reason}", peer=self.peer, code=code,  # type: ignore[attr-defined]
                     reason=reason)
        # autobahn's sendClose lets applications send only 1000 and 3000-4999.
        if self.state == WebSocketProtocol.STATE_OPEN:  # type: ignore[attr-defined]
            self.sendCloseFrame(code=code, reasonUtf8=truncate_reason(reason), isReply=False)  # type: ignore[attr-defined]
        self.close_stream()

    def close_stream(self) -> None:
        stream = self.stream
        if stream is not None and stream.transport is not None:
            if getattr(stream.transport, "producer", None) is not None:
                stream.transport.unregisterProducer()
            stream.transport.loseConnection()

    def describe(self) -> str:
        """Who this connection is, for log lines (the bridge and the tunnel say more)."""
        return f"WebSocket {self.peer}"  # type: ignore[attr-defined]

    def onCloseFrame(self, code: Optional[int], reasonRaw: Optional[bytes]) -> Any:  # noqa: N802,N803 (autobahn API)
        """Log the peer's close (code and reason, as received), then autobahn's handling."""
        reason = (reasonRaw or b"").decode("utf-8", "replace")
        self.close_received = (code, reason)
        replying = self.state == WebSocketProtocol.STATE_CLOSING  # type: ignore[attr-defined]
        level = log.info if code in (None, CLOSE_NORMAL, CLOSE_GOING_AWAY) else log.warn
        level("{who}: the {side} {what} with code {code}, reason {reason}", who=self.describe(),
              side="client" if self.factory.isServer else "server",  # type: ignore[attr-defined]
              what="answered our close" if replying else "closed the WebSocket",
              code=code if code is not None else "none (1005)", reason=f'"{reason}"' if reason else "none")
        return super().onCloseFrame(code, reasonRaw)  # type: ignore[misc]

    def onClose(self, wasClean: bool, code: Any, reason: Any) -> None:  # noqa: N802,N803 (autobahn API)
        if (not wasClean and self.close_received is None and self.stream is not None
                and not self.droppedByMe):  # type: ignore[attr-defined]
            log.info("{who}: the {side} went away without a close frame (1006): {reason}", who=self.describe(),
                     side="client" if self.factory.isServer else "server",  # type: ignore[attr-defined]
                     reason=reason)
        super().onClose(wasClean, code, reason)  # type: ignore[misc]
        self.close_stream()


@implementer(IHalfCloseableProtocol)
class StreamEnd(Protocol):
    """The stream side's protocol: hands bytes, FIN and loss to its WebSocket relay."""

    def __init__(self, relay: Optional[StreamOverWebSocket] = None) -> None:
        self.relay = relay

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted API)
        if self.relay is not None:
            self.relay.stream_data(data)

    def readConnectionLost(self) -> None:  # noqa: N802
        if self.relay is not None:
            self.relay.stream_ended()
        else:
            self.transport.loseConnection()

    def writeConnectionLost(self) -> None:  # noqa: N802
        pass

    def connectionLost(self, reason: Any = None) -> None:  # noqa: N802
        if self.relay is not None:
            self.relay.stream_lost()
