"""The ``base64`` subprotocol's decoding: base64 at the message level, frames streamed.

A message may arrive in several frames split anywhere ("SG" + "sbG8="), and '='
padding may appear only at the end of the whole message (Tor's WebSocket
pluggable transport specification). The decoder turns each complete 4-character
group into bytes as soon as it has it, so a large message is never buffered,
and refuses anything else: a character outside the base64 alphabet, padding
before the end, or a message whose length is not a multiple of 4.
"""
from __future__ import annotations

import binascii
import re

_GROUPS = re.compile(rb"[A-Za-z0-9+/]*")
_FINAL_GROUP = re.compile(rb"[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=")


class Base64Error(ValueError):
    """The message is not valid base64; the text says where."""


class Base64MessageDecoder:
    """Decode one message; ``feed`` each frame's payload, then ``finish``."""

    def __init__(self) -> None:
        self._pending = b""
        self._padded = False
        self._offset = 0  # octets of the message consumed, for error messages

    def feed(self, text: bytes) -> bytes:
        """Bytes decoded from the complete groups so far.

        @raise Base64Error: invalid character, or data after the padding.
        """
        if not text:
            return b""
        if self._padded:
            raise Base64Error(f"data after '=' padding at offset {self._offset}")
        data = self._pending + text
        usable = len(data) - len(data) % 4
        groups, self._pending = data[:usable], data[usable:]
        if not groups:
            return b""
        body, tail = groups[:-4], groups[-4:]
        if _GROUPS.fullmatch(body) is None or not (_GROUPS.fullmatch(tail) or _FINAL_GROUP.fullmatch(tail)):
            raise Base64Error(f"not base64 near offset {self._offset + _first_bad(groups)}")
        if b"=" in tail:
            self._padded = True
            if self._pending:
                raise Base64Error(f"data after '=' padding at offset {self._offset + usable}")
        self._offset += usable
        return binascii.a2b_base64(groups)

    def finish(self) -> None:
        """The message ended.

        @raise Base64Error: characters left over that do not make a 4-character group.
        """
        if self._pending:
            if _GROUPS.fullmatch(self._pending.rstrip(b"=")) is None:
                raise Base64Error(f"not base64 near offset {self._offset}")
            raise Base64Error(f"message length is not a multiple of 4 ({len(self._pending)} octet(s) left over)")


def _first_bad(groups: bytes) -> int:
    for i, byte in enumerate(groups):
        if not (chr(byte).isalnum() and byte < 128) and byte not in b"+/=":
            return i
    return groups.find(b"=") if b"=" in groups else 0
