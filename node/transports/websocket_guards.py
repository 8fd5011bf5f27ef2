"""Two peer faults autobahn's WebSocket server handles badly, handled here.

Mixins for autobahn's (server) ``WebSocketProtocol``; put them first in the bases.

:class:`RequestHeadLimit`: autobahn buffers an opening handshake until it sees
the blank line that ends it, however long that takes: 262 MB of headers were
accepted on a ``websocket`` transport (100% CPU, +108 MB RSS). Here the request
head is bounded by the ``max_request_head`` option (the factory's attribute) and
:data:`MAX_LINE` per line, as the web transports' HTTP channel bounds it: beyond,
the client gets ``431`` (``414`` for the request line) and the connection
closes after a lingering close (:mod:`node.web.refusal`). The check runs only
while the handshake is incomplete and looks at each octet once.

:class:`StrictCloseFrames`: RFC 6455 section 7.4 says a close frame with a
reserved code (999) or a 1-octet payload is a protocol error (1002), and one
whose reason is not UTF-8 is invalid data (1007). autobahn sends that close
frame, then takes the peer's bad close frame for the reply to its own and
aborts the connection in the same turn: the close frame is discarded and the
peer gets a TCP reset. Here the close frame is sent and the connection closed
after it is written.
"""
from __future__ import annotations

import struct
from typing import Any, Optional, Tuple

from twisted.logger import Logger

from node.web.refusal import answer, refuse

log = Logger()

MAX_LINE = 16384  # octets per request-head line, as on web transports
DEFAULT_MAX_REQUEST_HEAD = 65536
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_PAYLOAD = 1007
# the codes below 3000 a peer may send (RFC 6455 section 7.4, IANA; autobahn's list); 3000-4999 are free
_SENDABLE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013))


class HeadMeter:
    """Counts a request head as it arrives; says which limit it breaks, if any."""

    __slots__ = ("limit", "line_limit", "seen", "line", "first_line")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.line_limit = min(MAX_LINE, limit)
        self.seen = 0  # octets of the buffer already looked at
        self.line = 0  # octets of the current, unfinished line
        self.first_line = True

    def problem(self, buffered: bytes) -> Optional[int]:
        """414 or 431 when the head buffered so far breaks a limit, else None.

        ``buffered`` is everything received of the head so far (it only grows);
        a line's length counts its CR, not its LF.
        """
        end = buffered.find(b"\r\n\r\n", max(0, self.seen - 3))
        size = len(buffered) if end < 0 else end
        parts = buffered[self.seen:size].split(b"\n")
        self.seen = max(self.seen, size)
        for part in parts[:-1]:  # lines that ended
            if self.line + len(part) > self.line_limit + 1:
                return self._line_code()
            self.line, self.first_line = 0, False
        self.line += len(parts[-1])
        if self.line > self.line_limit + 1:
            return self._line_code()
        return 431 if size > self.limit else None

    def _line_code(self) -> int:
        return 414 if self.first_line else 431


class RequestHeadLimit:
    """Bounds the opening handshake's request head (see the module docstring)."""

    _head_meter: Optional[HeadMeter] = None
    _head_refused = False
    _linger: Any = None

    def processHandshake(self: Any) -> None:
        if self._head_refused:
            self.data = b""
            return
        meter = self._head_meter
        if meter is None:
            limit = getattr(self.factory, "max_request_head", DEFAULT_MAX_REQUEST_HEAD)
            meter = self._head_meter = HeadMeter(limit)
        code = meter.problem(self.data)
        if code is None:
            super().processHandshake()  # type: ignore[misc]
            if self.state != self.STATE_CONNECTING:
                self.__dict__.pop("_head_meter", None)  # an open connection keeps nothing of it
            return
        self._head_refused = True
        self.data = b""
        if code == 414:
            response = answer(414, "URI Too Long", "The request line is too long.")
        else:
            response = answer(431, "Request Header Fields Too Large",
                              f"The request head is larger than {meter.limit} octets "
                              f"or has a line over {meter.line_limit}.")
        log.warn("Refused a WebSocket opening handshake from {peer}: request head over the limit "
                 "({limit} octets, {line} per line): {code}", peer=self.peer, limit=meter.limit,
                 line=meter.line_limit, code=code)
        self._linger = refuse(self.transport, response, self.factory.reactor.callLater)

    def connectionLost(self: Any, reason: Any) -> None:
        linger, self._linger = self._linger, None
        if linger is not None and linger.active():
            linger.cancel()
        super().connectionLost(reason)  # type: ignore[misc]


def close_frame_fault(payload: bytes) -> Optional[Tuple[int, str]]:
    """``(close code, reason)`` when a received close frame's payload is invalid, else None."""
    if len(payload) == 1:
        return CLOSE_PROTOCOL_ERROR, "close frame with a 1-octet payload"
    if len(payload) >= 2:
        code = struct.unpack("!H", payload[:2])[0]
        if not (code in _SENDABLE_CODES or 3000 <= code <= 4999):
            return CLOSE_PROTOCOL_ERROR, f"invalid close code {code}"
        try:
            payload[2:].decode("utf-8")
        except UnicodeDecodeError:
            return CLOSE_INVALID_PAYLOAD, "close reason is not UTF-8"
    return None


class StrictCloseFrames:
    """Answers an invalid close frame with 1002 (or 1007) that reaches the peer."""

    def processControlFrame(self: Any) -> Any:
        if self.current_frame.opcode == 8 and self.state in (self.STATE_OPEN, self.STATE_CLOSING):
            fault = close_frame_fault(b"".join(self.control_frame_data))
            if fault is not None:
                self.control_frame_data = None
                if self.state == self.STATE_OPEN:
                    self._fail_connection(*fault)  # sends the close frame (drops, with fail_by_drop)
                # a 1-octet payload was already failed (close frame sent) when its header arrived
                self.wasClean = False
                self.wasNotCleanReason = fault[1]
                self.dropConnection(abort=False)  # close once the close frame is written
                return False
        return super().processControlFrame()  # type: ignore[misc]
