"""A deadline for each HTTP request head on web transports (slow-loris defence).

Twisted Web bounds a connection only by its idle timeout (``client_timeout``),
which every received byte restarts: a client trickling a request head one byte
at a time holds a connection, and its memory, for as long as it likes (up to
the 64 KiB head limit of :mod:`node.web.channel`, at a byte a minute: weeks). Before a ``websocket``
path takes a connection over, its request head is plain HTTP, so the WebSocket
``open_handshake_timeout`` does not apply either.

:class:`HeadDeadlineChannel` starts a timer when the first byte of a request
head arrives and stops it when the head is complete; if it fires, the client
gets ``408 Request Timeout`` and the connection is closed (and aborted if the
client does not read), as Twisted's idle timeout would close it.
"""
from __future__ import annotations

from typing import Any, Optional

from twisted.logger import Logger
from twisted.web.http import HTTPChannel

log = Logger()

REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class HeadDeadlineChannel(HTTPChannel):
    """``HTTPChannel`` whose site's ``request_head_timeout`` bounds every request head."""

    site: Any
    _head_timer: Optional[Any] = None
    _head_expired = False

    def dataReceived(self, data: bytes) -> None:
        if self._head_expired:
            return
        if self._head_timer is None and self.line_mode and data:
            timeout = getattr(self.site, "request_head_timeout", None)
            if timeout:
                self._head_timer = self.callLater(timeout, self._head_too_slow)
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:
        self._stop_head_timer()
        super().allHeadersReceived()

    def connectionLost(self, reason: Any) -> None:
        self._stop_head_timer()
        super().connectionLost(reason)

    def _stop_head_timer(self) -> None:
        timer, self._head_timer = self._head_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _head_too_slow(self) -> None:
        self._head_timer = None
        self._head_expired = True
        transport = self.transport
        if transport is None:
            return
        log.info("HTTP request head from {peer} not complete within {timeout} s: closed",
                 peer=str(transport.getPeer()), timeout=self.site.request_head_timeout)
        counts = getattr(self.site, "counts", None)  # the transport's (node.transports.counts)
        if counts is not None:
            counts.refused["request_head_timeout"] += 1
        transport.write(REQUEST_TIMEOUT)
        self.timeoutConnection()  # close; abort after Twisted's abortTimeout if the client does not read
