"""Refusing an HTTP request so that the client sees the answer (a "lingering close").

A server that answers a request it refuses (too large a head or body) and closes
at once loses the answer whenever the client is still sending: closing a socket
with unread input makes the kernel send RST, and the client's kernel drops the
unread answer with it (RFC 9112 section 9.6; Apache's and nginx's "lingering
close"). So the refusing side writes its answer, keeps reading (and dropping)
whatever still arrives, and closes after :data:`LINGER_SECONDS`, or earlier when
the client closes. Nothing the client sends meanwhile is kept.
"""
from __future__ import annotations

from typing import Any, Callable

LINGER_SECONDS = 2.0


def answer(code: int, phrase: str, text: str) -> bytes:
    """A complete ``Connection: close`` response with a one-line plain-text body."""
    body = (text + "\n").encode("utf-8")
    return (b"HTTP/1.1 %d %s\r\nServer: wampnode\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
            % (code, phrase.encode("ascii"), len(body), body))


def answer_json(code: int, phrase: str, body: bytes) -> bytes:
    """A complete ``Connection: close`` response with a one-line JSON body (HTTP bridge paths)."""
    body += b"\n"
    return (b"HTTP/1.1 %d %s\r\nServer: wampnode\r\nContent-Type: application/json; charset=UTF-8\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (code, phrase.encode("ascii"), len(body), body))


def refuse(transport: Any, response: bytes, call_later: Callable[..., Any]) -> Any:
    """Write ``response``, then close after the linger time; returns the timer.

    The caller drops what the client sends meanwhile and cancels the timer if
    the connection is lost first.
    """
    transport.write(response)
    return call_later(LINGER_SECONDS, transport.loseConnection)
