"""Cookie tracking as a function of one HTTP request: which cookie it carries, and
the ``Set-Cookie`` header its response needs.

Any transport that answers an HTTP request before WAMP starts uses it the same way
(the WebSocket opening handshake, a long-poll ``open`` request)::

    tracker = CookieTracker(service.cookie)          # once per service (opens its store)
    cbtid, set_cookie = tracker.track(headers, is_secure)
    if set_cookie:
        response_headers["Set-Cookie"] = set_cookie
    transport_details.http_cbtid = cbtid             # what the router session reads
    session_factory = router.session_factory(..., cookies=tracker.store)

``headers`` maps lower-case header names to values (autobahn's ``request.headers``;
for a ``twisted.web`` request, ``{"cookie": request.getHeader("cookie") or ""}``).
A cookie the store does not know (forged, expired, forgotten) is replaced by a new
one: a client never chooses its cookie value.
"""
from __future__ import annotations

from typing import Mapping, Optional, Tuple

from node.config.model import CookieOptions
from node.router.cookie_store import CookieStore, open_cookie_store

_MAX_COOKIE_HEADER = 8192  # characters of a Cookie header looked at (the request head has its own bound)


def cookie_value(header: object, name: str) -> Optional[str]:
    """The value of cookie ``name`` in a ``Cookie`` header (RFC 6265 5.4: ``a=1; b=2``),
    or None. Parsed by hand: ``http.cookies`` rejects whole headers over one odd pair."""
    if not isinstance(header, str):
        return None
    for pair in header[:_MAX_COOKIE_HEADER].split(";"):
        key, sep, value = pair.strip().partition("=")
        if sep and key.strip() == name:
            return value.strip().strip('"')
    return None


class CookieTracker:
    """The cookie of one service: its options and its store."""

    def __init__(self, options: CookieOptions, store: Optional[CookieStore] = None) -> None:
        self.options = options
        self.store = store if store is not None else open_cookie_store(options.store, options.max_age)

    def set_cookie(self, cbtid: str, is_secure: bool) -> str:
        """The ``Set-Cookie`` value for ``cbtid``: ``HttpOnly`` unless ``http_strict`` is false,
        ``Secure`` over TLS (or as ``secure`` says), ``SameSite`` as configured."""
        options = self.options
        parts = [f"{options.name}={cbtid}", f"Max-Age={options.max_age}", "Path=/"]
        if options.http_strict:
            parts.append("HttpOnly")
        if options.secure if options.secure is not None else is_secure:
            parts.append("Secure")
        parts.append(f"SameSite={options.same_site}")
        return "; ".join(parts)

    def track(self, headers: Mapping[str, str], is_secure: bool) -> Tuple[str, Optional[str]]:
        """This request's cookie value, and a ``Set-Cookie`` value if a new cookie was made."""
        cbtid = cookie_value(headers.get("cookie"), self.options.name)
        if cbtid is not None and self.store.exists(cbtid):
            return cbtid, None
        cbtid = self.store.create(self.options.length)
        return cbtid, self.set_cookie(cbtid, is_secure)

    def close(self) -> None:
        self.store.close()
