"""A raw-socket WebSocket client that writes hand-built frames, for protocol tests.

It does the RFC 6455 handshake by hand and then sends exactly the octets a test
builds (masked or not, fragmented as asked), and reads frames one by one, so a
test sees what a server really sends (how many frames, which close code).
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import struct
from typing import Dict, List, Optional, Sequence, Tuple

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(opcode: int, payload: bytes, fin: bool = True, mask: Optional[bytes] = b"\x12\x34\x56\x78") -> bytes:
    """One frame; ``mask=None`` sends it unmasked (a protocol violation from a client)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    length = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def fast_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """A masked frame built quickly for large payloads (mask of zeros is a valid mask)."""
    return frame(opcode, b"", fin, mask=None)[:1] + _length_and_zero_mask(len(payload)) + payload


def _length_and_zero_mask(length: int) -> bytes:
    if length < 126:
        return bytes([0x80 | length]) + b"\0\0\0\0"
    if length < 65536:
        return bytes([0x80 | 126]) + struct.pack("!H", length) + b"\0\0\0\0"
    return bytes([0x80 | 127]) + struct.pack("!Q", length) + b"\0\0\0\0"


class RawWebSocket:
    def __init__(self, port: int, path: str = "/", protocols: Sequence[str] = (), host: str = "127.0.0.1",
                 timeout: float = 10.0, origin: Optional[str] = None, tls: Optional[ssl.SSLContext] = None) -> None:
        """``tls``: over TLS (``wss``) with that context."""
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        key = base64.b64encode(os.urandom(16))
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
                 f"Sec-WebSocket-Key: {key.decode()}", "Sec-WebSocket-Version: 13"]
        if protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
        if origin:
            lines.append(f"Origin: {origin}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        head = self._read_until(b"\r\n\r\n")
        status, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status.split()[1])
        self.headers: Dict[str, str] = {}
        for line in header_lines:
            if ":" in line:
                name, value = line.split(":", 1)
                self.headers[name.strip().lower()] = value.strip()
        if self.status == 101:
            expected = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
            if self.headers.get("sec-websocket-accept") != expected:
                raise ValueError("bad Sec-WebSocket-Accept")

    @property
    def protocol(self) -> Optional[str]:
        return self.headers.get("sec-websocket-protocol")

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed during handshake")
            self.buffer += data
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _read(self, n: int) -> bytes:
        if len(self.buffer) < n:  # joined once: a large frame comes in many reads (16 KiB each over TLS)
            parts, have = [self.buffer], len(self.buffer)
            while have < n:
                data = self.sock.recv(max(65536, n - have))
                if not data:
                    self.buffer = b"".join(parts)
                    raise ConnectionError("connection closed")
                parts.append(data)
                have += len(data)
            self.buffer = b"".join(parts)
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, octets: bytes) -> None:
        self.sock.sendall(octets)

    def read_frame(self) -> Tuple[bool, int, bytes]:
        """(fin, opcode, payload) of the next frame; raises if a server frame is masked."""
        b0, b1 = self._read(2)
        length = b1 & 0x7F
        if length == 126:
            length = struct.unpack("!H", self._read(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", self._read(8))[0]
        if b1 & 0x80:
            raise ValueError("masked server frame")
        return bool(b0 & 0x80), b0 & 0x0F, self._read(length)

    def read_close(self) -> Tuple[Optional[int], str, List[Tuple[bool, int, bytes]]]:
        """Read until a close frame: (code, reason, frames seen before it)."""
        frames = []
        while True:
            fin, opcode, payload = self.read_frame()
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return code, payload[2:].decode("utf-8", "replace"), frames
            frames.append((fin, opcode, payload))

    def read_data(self, size: int, max_frames: int = 1_000_000) -> Tuple[bytes, List[Tuple[bool, int, int]]]:
        """Read data frames until ``size`` octets of payload came: (data, [(fin, opcode, len)])."""
        data = bytearray()
        shapes = []
        while len(data) < size and len(shapes) < max_frames:
            fin, opcode, payload = self.read_frame()
            if opcode == 8:
                raise ConnectionError(f"closed early: {payload[:2].hex()} {payload[2:]!r}")
            shapes.append((fin, opcode, len(payload)))
            data += payload
        return bytes(data), shapes

    def close(self, code: int = 1000) -> None:
        try:
            self.send(frame(8, struct.pack("!H", code)))
        except OSError:
            pass

    def shutdown(self) -> None:
        self.sock.close()
