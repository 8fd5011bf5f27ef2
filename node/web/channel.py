"""The HTTP channel of web transports: bounds on what a client sends before it is routed.

- Request head: at most the web option ``max_request_head`` octets (request
  line and headers, 64 KiB by default) and :data:`MAX_LINE` per line. Beyond,
  the client gets ``431 Request Header Fields Too Large`` (``414 URI Too Long``
  for the request line) and the connection closes. Twisted alone closes an
  overlong line without an answer.
- Request body: the path a request goes to is known from its request line
  (:mod:`node.web.body`), so a body the path does not take, or a larger one than
  it takes, gets ``413 Content Too Large`` before a byte of it is read (and
  before Twisted would answer ``Expect: 100-continue``). An accepted body is
  kept in memory: Twisted's own ``Request`` writes bodies over 100 KB to a
  temporary file.

A refusal is answered with a lingering close (:mod:`node.web.refusal`): what
the client still sends is read and dropped, so the answer is not lost to a
reset. The request-head deadline (:mod:`node.web.deadline`) still applies.
"""
from __future__ import annotations

from io import BytesIO
from typing import Any, Optional

from twisted.logger import Logger
from twisted.web import server

from node.web.body import body_limit, resource_for_target
from node.web.deadline import HeadDeadlineChannel
from node.web.refusal import answer, refuse

log = Logger()

MAX_LINE = 16384  # octets per request-head line (Twisted's and LineReceiver's own limit)


class NodeChannel(HeadDeadlineChannel):
    """``HTTPChannel`` enforcing the site's ``max_request_head`` and body policy."""

    _refused = False
    _linger: Optional[Any] = None
    _body_limit = 0
    _body_received = 0
    _body_resource: Any = None  # the resource the request with a body goes to

    def connectionMade(self) -> None:
        super().connectionMade()
        head = self.site.max_request_head
        self.MAX_LENGTH = min(MAX_LINE, head)
        self.totalHeadersSize = head  # Twisted's own count; lineReceived answers 431 first

    def dataReceived(self, data: bytes) -> None:
        if not self._refused:
            super().dataReceived(data)

    def rawDataReceived(self, data: bytes) -> None:
        if not self._refused:
            super().rawDataReceived(data)

    def lineReceived(self, line: bytes) -> None:
        if self._refused:
            return
        received = getattr(self, "_receivedHeaderSize", 0)  # Twisted's count for this head
        if received + len(line) > self.site.max_request_head:
            self._refuse_head(request_line=received == 0)
            return
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        if not self._refused:
            self._refuse_head(request_line=getattr(self, "_receivedHeaderSize", 0) == 0)

    def allHeadersReceived(self) -> None:
        if self.length != 0:  # a Content-Length over 0, or chunked (None)
            target = self._path
            self._body_resource = resource_for_target(self.site.resource, target)
            limit = body_limit(self._body_resource, self.site.max_request_body)
            if (limit == 0 if self.length is None else self.length > limit):
                self._refuse_body(target, limit)
                return
            self._body_limit, self._body_received = limit, 0
        super().allHeadersReceived()
        if self.length != 0 and getattr(self._body_resource, "streams_body", False) and not self._refused:
            # a path that streams bodies (reverseproxy) gets the request now, and its body as it comes
            self.requests[-1].stream_body(self._command, self._path, self._version)

    def body_refused(self, size: int) -> bool:
        """Count ``size`` more body octets (chunked bodies); True once the body is refused."""
        if self._refused:
            return True
        self._body_received += size
        if self._body_received > self._body_limit:
            self._refuse_body(getattr(self, "_path", b""), self._body_limit)
            return True
        return False

    def allContentReceived(self) -> None:
        if not self._refused:
            super().allContentReceived()

    def connectionLost(self, reason: Any) -> None:
        linger, self._linger = self._linger, None
        if linger is not None and linger.active():
            linger.cancel()
        super().connectionLost(reason)

    def _refuse_head(self, request_line: bool) -> None:
        limit = self.site.max_request_head
        if request_line:
            code, response = 414, answer(414, "URI Too Long", "The request line is too long.")
        else:
            code, response = 431, answer(431, "Request Header Fields Too Large",
                                         f"The request head is larger than {limit} octets "
                                         f"or has a line over {self.MAX_LENGTH}.")
        self._refuse(response, "request head over the limit ({limit} octets, {line} per line): {code}",
                     limit=limit, line=self.MAX_LENGTH, code=code)

    def _refuse_body(self, target: bytes, limit: int) -> None:
        if limit == 0:
            text = "This path takes no request body."
        else:
            text = f"The request body is larger than this path takes ({limit} octets)."
        size = "chunked" if self.length is None else f"{self.length} octets"
        own = getattr(self._body_resource, "body_refusal", None)  # a path answering in its own format
        self._refuse(own(limit) if own is not None and limit else answer(413, "Content Too Large", text),
                     "{method} {path} with a body ({size}); the path takes {takes}: 413",
                     method=getattr(self, "_command", b"").decode("latin-1"),
                     path=target[:200].decode("latin-1"), size=size,
                     takes="none" if limit == 0 else f"up to {limit} octets")

    def _refuse(self, response: bytes, problem: str, **fields: Any) -> None:
        self._refused = True
        self._stop_head_timer()
        transport = self.transport
        if transport is None:
            return
        log.warn("Refused an HTTP request from {peer}: " + problem, peer=peer_text(transport.getPeer()), **fields)
        self._linger = refuse(transport, response, self.callLater)


def peer_text(address: Any) -> str:
    """``127.0.0.1:43160`` for a TCP address; other addresses as Twisted prints them."""
    host, port = getattr(address, "host", None), getattr(address, "port", None)
    if host is None or port is None:
        return str(address)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class InMemoryBodyRequest(server.Request):
    """A request whose body (bounded by :class:`NodeChannel`) stays in memory, or, for
    a path that streams bodies, is handed on as it arrives.

    Streaming (:meth:`stream_body`): the request is processed as soon as its head
    is complete; the resource sets ``body_sink`` (called with each chunk) and
    ``body_end`` (called once the body is complete). Its response is only
    finished after the body is complete (until then Twisted's channel is still
    parsing the body): a :meth:`finish` before that waits for the body's end.
    """

    streaming = False
    body_complete = False
    _finish_waiting = False
    body_sink: Any = None
    body_end: Any = None

    def gotLength(self, length: Optional[int]) -> None:  # noqa: N802 (Twisted API)
        self.content = BytesIO()

    def handleContentChunk(self, data: bytes) -> None:  # noqa: N802 (Twisted API)
        if self.channel.body_refused(len(data)):
            return
        if self.streaming:
            if self.body_sink is not None:
                self.body_sink(data)
        else:
            self.content.write(data)

    def stream_body(self, command: bytes, path: bytes, version: bytes) -> None:
        self.streaming = True
        super().requestReceived(command, path, version)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:  # noqa: N802
        if not self.streaming:
            super().requestReceived(command, path, version)
            return
        self.body_complete = True  # the channel's end of the body: the request was processed already
        end, self.body_end = self.body_end, None
        if end is not None:
            end()
        if self._finish_waiting and not self._disconnected and not self.finished:
            super().finish()

    def finish(self) -> None:
        if self.streaming and not self.body_complete:
            self._finish_waiting = True
            self.body_sink = None  # what still comes is read and dropped
            return
        super().finish()
