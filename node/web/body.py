"""Which request bodies a web path accepts, decided from the request head alone.

Twisted Web reads a request's whole body before it routes the request, and keeps
a body over 100 KB in a temporary file: any client could make the node write
any amount to disk, on any path (a 404 too). wampnode decides from the request
line which resource the request goes to, and so how large a body it may send,
before reading a byte of it (:class:`node.web.channel.NodeChannel`).

A resource states its policy in two attributes:

- ``takes_body`` (default False): a path that takes no body (static, nodeinfo,
  redirect, websocket, tcpbridge, websocket-reverseproxy) refuses any body with
  413, GET or POST alike;
- ``max_request_body`` (default None): the largest body a path that takes one
  accepts: the ``post_body_limit`` of the HTTP bridge paths; None means the web
  transport's ``max_request_body`` option;
- ``body_refusal(limit)`` (optional): the complete 413 response, for a path that
  answers in its own format (the HTTP bridge's one-line JSON);
- ``streams_body`` (default False): the body is not kept but handed to the
  resource as it arrives (``reverseproxy``: :class:`node.web.channel.InMemoryBodyRequest`).

An accepted body is kept in memory (it is bounded), never in a file.
"""
from __future__ import annotations

from typing import Any

from twisted.web.http import unquote


def resource_for_target(root: Any, target: bytes) -> Any:
    """The resource of the static path tree a request target leads to.

    It follows ``children`` the way Twisted's traversal does (the same split
    and unquoting) and stops at a leaf or at the first segment it has no child
    for: a resource's policy covers the children it makes on the fly (files of
    a static directory).
    """
    path = target.split(b"?", 1)[0]
    resource = root
    for segment in path[1:].split(b"/"):
        if getattr(resource, "isLeaf", False):
            break
        child = getattr(resource, "children", {}).get(unquote(segment))
        if child is None:
            break
        resource = child
    return resource


def body_limit(resource: Any, fallback: int) -> int:
    """The largest body ``resource`` accepts (0: none at all)."""
    if not getattr(resource, "takes_body", False):
        return 0
    own = getattr(resource, "max_request_body", None)
    return fallback if own is None else own
