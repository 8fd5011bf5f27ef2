"""Signed HTTP bridge requests, exactly as Crossbar.io signs them, checked more strictly.

A signed request carries the query parameters ``key``, ``timestamp`` (UTC,
``2011-10-14T16:59:51.123Z``), ``seq`` (an integer), ``nonce`` (an integer) and
``signature``: ``base64url(HMAC-SHA256(secret, key | timestamp | seq | nonce | body))``
over the parameters' decoded text and the raw body (Crossbar.io's
``bridge/rest/common.py``; ``crossbarhttp3`` signs so).

What is better than Crossbar.io:

- the signature is compared in constant time (``hmac.compare_digest``);
- a nonce is accepted once: :class:`NonceCache` remembers each until its
  request's timestamp leaves the window (after that the timestamp alone
  refuses it), bounded by ``max_nonces``;
- a timestamp without fraction (``...T16:59:51Z``, what ``isoformat()`` gives at
  a whole second) is accepted too.
"""
from __future__ import annotations

import base64
import calendar
import hashlib
import heapq
import hmac
import re
import time
from typing import Dict, List, Mapping, Optional, Tuple

from node.config.model import Signing

_TIMESTAMP = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d{1,9})?Z$")
FIELDS = ("key", "timestamp", "seq", "nonce", "signature")


class Refusal(Exception):
    """A request refused: HTTP status and a one-line reason for the client and the log."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def parse_timestamp(text: str) -> float:
    """``2011-10-14T16:59:51.123Z`` as seconds since the epoch; ValueError if not that form."""
    match = _TIMESTAMP.match(text)
    if match is None:
        raise ValueError(text)
    fields = [int(g) for g in match.groups()[:6]]
    fraction = float(match.group(7) or 0)
    return calendar.timegm((fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], 0, 0, 0)) + fraction


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")[:64]


class NonceCache:
    """The nonces of accepted signed requests, each kept while its timestamp is in the window.

    With no window (``timestamp_delta_limit`` 0) a nonce is kept until ``limit``
    newer ones push it out. Otherwise, when ``limit`` unexpired nonces are held,
    :meth:`admit` refuses (429) until some expire: forgetting one early would let
    its request be replayed.
    """

    def __init__(self, limit: int, window: int) -> None:
        self.limit = limit
        self.window = window
        self._expiry: Dict[int, float] = {}
        self._heap: List[Tuple[float, int]] = []  # (expiry, nonce); without a window: (arrival, nonce)
        self._arrivals = 0

    def __len__(self) -> int:
        return len(self._expiry)

    def admit(self, nonce: int, timestamp: float, now: float) -> None:
        """Remember ``nonce``. @raise Refusal: it was seen, or the cache is full."""
        heap = self._heap
        if self.window:
            while heap and heap[0][0] < now:
                _, old = heapq.heappop(heap)
                self._expiry.pop(old, None)
        if nonce in self._expiry:
            raise Refusal(401, f"nonce {nonce} was used before (a replayed request)")
        if len(self._expiry) >= self.limit:
            if self.window:
                raise Refusal(429, f"{self.limit} signed requests within the last {self.window} s "
                                   f"(max_nonces): try again later")
            _, old = heapq.heappop(heap)
            self._expiry.pop(old, None)
        if self.window:
            expiry = timestamp + self.window
        else:
            self._arrivals += 1
            expiry = float(self._arrivals)
        self._expiry[nonce] = expiry
        heapq.heappush(heap, (expiry, nonce))


class SignatureCheck:
    """The signing rules of one path: its key and secret, window and nonces."""

    def __init__(self, signing: Optional[Signing], window: int, max_nonces: int) -> None:
        self.key = signing.key.encode("utf-8") if signing else None
        self.secret = signing.secret.encode("utf-8") if signing else None
        self.window = window
        self.nonces = NonceCache(max_nonces, window)

    def check(self, args: Mapping[bytes, List[bytes]], body: bytes, now: Optional[float] = None) -> None:
        """Check the query parameters (and, for a signed path, the signature over ``body``).

        Unsigned paths check the parameters a client sends anyway, as Crossbar.io does.

        @raise Refusal: 400 for a missing or malformed parameter or a timestamp
            outside the window, 401 for a wrong key or signature or a replayed nonce,
            429 when the nonce cache is full.
        """
        now = time.time() if now is None else now
        values = {name: args[name.encode()][0] for name in FIELDS if args.get(name.encode())}
        if self.secret is not None:
            missing = [name for name in FIELDS if name not in values]
            if missing:
                raise Refusal(400, f"signed request required, but '{missing[0]}' is missing "
                                   f"(query parameters: {', '.join(FIELDS)})")
        timestamp = None
        if "timestamp" in values:
            try:
                timestamp = parse_timestamp(values["timestamp"].decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                raise Refusal(400, f"invalid timestamp '{_text(values['timestamp'])}' "
                                   f"(must be UTC ISO 8601, e.g. '2011-10-14T16:59:51.123Z')") from None
            if self.window and abs(timestamp - now) > self.window:
                raise Refusal(400, f"timestamp {_text(values['timestamp'])} is more than {self.window} s "
                                   f"from the node's clock (expired, or clocks differ)")
        numbers = {}
        for name in ("seq", "nonce"):
            if name in values:
                try:
                    numbers[name] = int(values[name])
                except ValueError:
                    raise Refusal(400, f"invalid {name} '{_text(values[name])}' (must be an integer)") from None
        if self.secret is None or self.key is None:
            return
        if not hmac.compare_digest(values["key"], self.key):
            raise Refusal(401, f"unknown key '{_text(values['key'])}' in signed request")
        digest = hmac.new(self.secret, values["key"] + values["timestamp"] + values["seq"] + values["nonce"] + body,
                          hashlib.sha256).digest()
        if not hmac.compare_digest(base64.urlsafe_b64encode(digest), values["signature"]):
            raise Refusal(401, "invalid signature")
        self.nonces.admit(numbers["nonce"], timestamp if timestamp is not None else now, now)
