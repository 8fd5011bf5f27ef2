"""Stream bytes as single-frame WebSocket messages of a bounded size, encoded in one go.

Tor's WebSocket pluggable transport specification: endpoints SHOULD limit the
size of the messages they send, SHOULD send each message as a single frame, and
MUST accept messages of 1500 octets of binary data (2026 octets of base64). So
the bridge and the tunnel cut what they read from the stream into messages of
at most ``send_message_size`` octets, by default :data:`DEFAULT_SEND_MESSAGE_SIZE`,
which every conforming peer accepts whatever its own receive limit.

Small messages are many messages: 64 KiB read from a socket become 44 of them.
autobahn's ``sendMessage`` costs several microseconds of Python per message
(argument checks, statistics, a masker object, a write, a debug log line), so
:func:`encode_messages` builds the frames of a whole read here and the caller
writes them with one call. The frames are plain RFC 6455 data frames (FIN set,
no extensions: per-message compression is never negotiated on these
connections); a client masks each with its own key from ``os.urandom``
(RFC 6455 section 5.3 wants keys a peer cannot predict), XORed by autobahn's
masker (native with NVX on CPython).
"""
from __future__ import annotations

import binascii
import os
import struct
from typing import List

from autobahn.websocket.xormasker import create_xor_masker

DEFAULT_SEND_MESSAGE_SIZE = 1500  # octets every conforming peer accepts (Tor's WebSocket transport)
OPCODE_TEXT = 1
OPCODE_BINARY = 2


def message_payload_size(send_message_size: int, use_base64: bool) -> int:
    """Octets of payload per message: the whole size, or for base64 whole 4-character groups."""
    return send_message_size - send_message_size % 4 if use_base64 else send_message_size


def send_chunk_size(send_message_size: int, use_base64: bool) -> int:
    """Stream octets carried per message, so that no message exceeds ``send_message_size``."""
    return message_payload_size(send_message_size, use_base64) // 4 * 3 if use_base64 else send_message_size


def _header(opcode: int, length: int, mask_bit: int) -> bytes:
    if length <= 125:
        return bytes((0x80 | opcode, mask_bit | length))
    if length <= 0xFFFF:
        return struct.pack("!BBH", 0x80 | opcode, mask_bit | 126, length)
    return struct.pack("!BBQ", 0x80 | opcode, mask_bit | 127, length)


def encode_messages(data: bytes, send_message_size: int, use_base64: bool, masked: bool) -> bytes:
    """``data`` as consecutive single-frame messages of at most ``send_message_size`` octets each.

    Binary frames carry the bytes; with ``use_base64``, text frames carry base64
    of whole 3-octet groups, so only the last message of ``data`` can have '='
    padding and each message decodes on its own. ``masked``: client frames.
    """
    if use_base64:
        payload = binascii.b2a_base64(data, newline=False)
        opcode = OPCODE_TEXT
    else:
        payload = data
        opcode = OPCODE_BINARY
    size = message_payload_size(send_message_size, use_base64)
    count = -(-len(payload) // size)
    parts: List[bytes] = []
    if not masked:
        for start in range(0, len(payload), size):
            piece = payload[start:start + size]
            parts.append(_header(opcode, len(piece), 0))
            parts.append(piece)
        return b"".join(parts)
    keys = os.urandom(4 * count)
    for index, start in enumerate(range(0, len(payload), size)):
        piece = payload[start:start + size]
        key = keys[4 * index:4 * index + 4]
        parts.append(_header(opcode, len(piece), 0x80))
        parts.append(key)
        parts.append(create_xor_masker(key, len(piece)).process(piece))
    return b"".join(parts)
