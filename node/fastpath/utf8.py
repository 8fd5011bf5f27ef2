"""UTF-8 validation of WebSocket text messages by the interpreter's own decoder.

RFC 6455 requires text messages to be valid UTF-8 (close code 1007 otherwise) and
Autobahn TestSuite section 6 checks that a streamed or fragmented message fails on the
chunk holding the first byte no valid text can continue from. autobahn's validator
(a native DFA on CPython, pure Python on PyPy) costs about 2 ms per MiB on CPython;
``codecs``' incremental UTF-8 decoder does the same job about 30 times faster.
:mod:`node.fastpath.websocket_frames` puts :class:`DecoderUtf8Validator` in its place.
Kept free of autobahn and Twisted imports so that it can be tested (and compared
with autobahn's validator) in any process.
"""
from __future__ import annotations

import codecs
from typing import Any, Tuple


def _valid_prefix(pending: bytes) -> bool:
    """Whether ``pending`` (1 to 3 bytes held back by the decoder) can still
    begin a valid UTF-8 sequence (RFC 3629 section 4).

    The decoders of CPython and PyPy differ on how early they reject a partial
    sequence (CPython holds back ``ED A0``, the start of a surrogate); checking
    the held-back bytes here makes every interpreter fail as fast as autobahn's
    validator (Autobahn TestSuite section 6.4) on the byte that makes a text
    message invalid.
    """
    lead = pending[0]
    if 0xC2 <= lead <= 0xDF:
        need = 2
    elif 0xE0 <= lead <= 0xEF:
        need = 3
    elif 0xF0 <= lead <= 0xF4:
        need = 4
    else:
        return False
    if len(pending) >= need:
        return False
    if len(pending) >= 2:
        low, high = _SECOND_BYTE.get(lead, (0x80, 0xBF))
        if not low <= pending[1] <= high:
            return False
    return len(pending) < 3 or 0x80 <= pending[2] <= 0xBF


_SECOND_BYTE = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}
_Utf8Decoder = codecs.getincrementaldecoder("utf-8")


class DecoderUtf8Validator:
    """autobahn's incremental UTF-8 validator (same methods and results), by the decoder.

    The result has autobahn's shape: ``(valid, ends on a code
    point, index in this chunk, index in the message)``. A chunk is rejected
    as soon as it holds a byte that no valid text can continue from (the
    decoder's strict errors plus :func:`_valid_prefix` on what it holds back),
    so a fragmented or streamed message still fails fast. The decoder is made
    when a message first needs it: autobahn makes a validator for every
    connection as it opens, and WAMP text messages that arrive whole are
    validated whole by ``FramedDelivery._read_whole_frames`` instead.
    """

    __slots__ = ("_decoder", "_total")

    def __init__(self) -> None:
        self._decoder: Any = None
        self._total = 0

    def reset(self) -> None:
        if self._decoder is not None:
            self._decoder.reset()
        self._total = 0

    def skip_ascii(self, count: int) -> bool:
        """Take ``count`` octets the caller knows are all ASCII without looking at them;
        False (nothing taken) if the decoder holds back the start of a sequence, which
        then needs :meth:`validate` and the octets."""
        decoder = self._decoder
        if decoder is not None and decoder.getstate()[0]:
            return False
        self._total += count
        return True

    def validate(self, data: bytes, ascii: bool = False) -> Tuple[bool, bool, int, int]:
        """autobahn's ``validate``; ``ascii``: the caller knows ``data`` is all ASCII."""
        if (ascii or (type(data) is bytes and data.isascii())) and self.skip_ascii(len(data)):
            # nothing held back and all ASCII: valid, ends on a code point, and no text
            # made (the decoder would make a string as long as the chunk; on PyPy each
            # large object made brings the next garbage collection step nearer)
            return True, True, len(data), self._total
        decoder = self._decoder
        if decoder is None:
            decoder = self._decoder = _Utf8Decoder()
        held = len(decoder.getstate()[0])
        try:
            decoder.decode(data, False)
        except UnicodeDecodeError as exc:
            index = max(exc.start - held, 0)
            return False, False, index, self._total + index
        self._total += len(data)
        pending = decoder.getstate()[0]
        if pending and not _valid_prefix(pending):
            index = len(data) - 1
            return False, False, index, self._total - 1
        return True, not pending, len(data), self._total
