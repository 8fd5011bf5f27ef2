"""Sending WAMP messages on WebSocket connections with one frame per payload.

autobahn's ``sendMessage`` checks its arguments, updates statistics and frames
the payload for every connection; its ``sendData`` and ``dataReceived`` format
a debug line (qualified names, ANSI colours) for every read and write even when
debug logging is off. For a router that fans one EVENT out to many subscribers
that is most of the cost of a delivery. :class:`FramedDelivery` keeps autobahn's
protocol and replaces only those three steps for the common case:

- the payload is framed once (the header autobahn's ``PreparedMessage`` writes)
  and the frame is reused for every connection the same payload goes to next (a
  publication's EVENT is one message object, serialized once per serializer by
  autobahn's message cache, so its subscribers get the identical payload);
  a large payload is not copied into a frame at all: its few header octets and
  the payload itself go to the transport as two pieces (``writeSequence``), which
  the node's TCP connections send together with one ``sendmsg``
  (:mod:`node.fastpath.write_coalescing`), so a 1 MiB event to many subscribers
  costs no copy of it per subscriber in user space;
- reads and writes skip the debug-line formatting;
- a read that holds only whole, small, unfragmented, masked text or binary
  frames (what WAMP clients send) is unframed here, with autobahn's checks
  (UTF-8 of text, size limits) and counters, without autobahn's per-frame
  objects (a frame header, an XOR masker, an incremental UTF-8 validator);
- a large unfragmented frame (over :data:`FAST_READ_LIMIT`, what a WAMP client
  sends for a large message) is gathered here too (:class:`LargeFrame`): each
  read is copied into one buffer of the frame's size and unmasked there, its
  UTF-8 checked as it comes (so invalid text still fails on the read that holds
  it), and the buffer is the message. autobahn would unmask each read into new
  bytes (NVX: a zeroed buffer, a copy in, a copy out), keep them in a list and
  join them, through its per-frame methods on every read. The node's C loop
  (:mod:`node.fastpath.xormask`) copies, unmasks and tells whether the octets are
  all ASCII in one pass, so the UTF-8 check of a JSON text is free; where it was not
  built, autobahn's NVX masker XORs the buffer in place (CPython). On PyPy, where a
  ``bytearray`` is a slow buffer, the C loop writes into one block of C memory
  (:class:`~node.fastpath.xormask.UnmaskedBuffer`), copied into bytes once whole;
  without the loop each read is unmasked (32-bit words) into new bytes, kept in a
  list and joined once the frame is whole: what autobahn does, without adding each
  read to its buffer of unprocessed octets first (a copy of every read) or slicing
  it out again. On PyPy each 1 MiB object made is a step nearer the garbage
  collector's next (costly) step, so the copies that are not made count twice.
- a frame up to :data:`JOIN_LIMIT` that begins in a read and does not end in it
  (the node reads a connection 16 KiB at a time: any message over that) has its
  rest read at once when it is in the socket already, as it usually is
  (:meth:`FramedDelivery.rest_of_frame`); both parts are unmasked into one buffer
  and the frame is delivered as a whole one, without a :class:`LargeFrame` or
  autobahn's frame objects (64 KiB calls: about 12 µs less router CPU per call).

Anything unusual (compression negotiated, auto-fragmentation, masked server
frames, a payload over the size limit, queued or chopped writes, octet logging,
a connection not open; on the read side: control frames, fragments, reserved
bits or opcodes, unmasked or invalid frames, a frame split across reads) goes
through autobahn's own methods unchanged, from the first byte it concerns.

The same mixin keeps an idle connection small (what autobahn keeps that a router
never reads again: handshake leftovers, the last frame's masker, an empty send
queue), and :class:`SharedOptions` keeps the factory's protocol options out of
every connection's instance dictionary.
"""
from __future__ import annotations

import struct
from collections import deque
from typing import Any, Callable, Optional, Tuple

import autobahn.websocket.protocol as _wsp
from node.fastpath.buffers import unfilled_bytearray
from node.fastpath.payload_parts import PayloadParts, pieces_for
from node.fastpath.quiet_autobahn import quiet_autobahn
from node.fastpath.utf8 import DecoderUtf8Validator
from node.fastpath.write_coalescing import reads_straight_for
from node.fastpath.xormask import (
    C_LOOP, GATHER_IN_C_MEMORY, IN_PLACE, NativeMasker, UnmaskedBuffer, WordMasker, create_xor_masker, unmask_into,
    unmask_joined,
)

quiet_autobahn()  # no debug strings formatted per connection or per message

CACHE_LIMIT = 64 * 1024  # larger frames are built per send and not kept
FAST_READ_LIMIT = 64 * 1024  # larger frames that span reads are gathered by LargeFrame
JOIN_LIMIT = 256 * 1024  # a frame up to this size that spans reads is read whole if its rest is there
INT_UNMASK_LIMIT = 1024  # up to here, XOR as one integer beats making a masker object
_HANDSHAKE_ONLY = ("http_request_data", "http_response_data", "http_status_line", "http_request_uri",
                   "http_request_params", "_wskey", "websocket_extensions", "websocket_protocols",
                   "websocket_origin")


class FrameCache:
    """The frame of the last payload framed: hit when the same bytes object is sent again.

    Its sender also sets which message object and serializer that payload came from
    (``message``, ``serializer``, while the payload is the cached one), so the next
    subscriber of the same EVENT on the same serializer gets the frame without asking
    the serializer again (see :meth:`FramedDelivery.send_again`). The cache holds a small payload only
    (``CACHE_LIMIT``), and so at most one small message."""

    __slots__ = ("_payload", "_binary", "_frame", "message", "serializer")

    def __init__(self) -> None:
        self._payload: Optional[bytes] = None
        self._binary = False
        self._frame = b""
        self.message: Any = None
        self.serializer: Any = None

    def frame(self, payload: bytes, is_binary: bool) -> bytes:
        if payload is self._payload and is_binary == self._binary:
            return self._frame
        length = len(payload)
        if length < 126:  # frame_head's shortest case, written out: most messages are this small
            frame = bytes((0x82 if is_binary else 0x81, length)) + payload
        else:
            frame = frame_head(length, is_binary) + payload
        self.message = self.serializer = None
        if len(payload) <= CACHE_LIMIT:
            self._payload, self._binary, self._frame = payload, is_binary, frame
        else:
            self._payload, self._frame = None, b""
        return frame


FRAMES = FrameCache()


def frame_head(length: int, is_binary: bool) -> bytes:
    """The header of an unmasked, unfragmented text or binary frame of ``length`` octets
    (RFC 6455 section 5.2: the shortest length encoding, as ``PreparedMessage`` makes it)."""
    first = 0x82 if is_binary else 0x81
    if length < 126:
        return bytes((first, length))
    if length < 0x10000:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


def unmask(payload: bytes, mask: bytes) -> Tuple[bytes, bool]:
    """The payload of a masked frame, unmasked (RFC 6455 section 5.3), and True if it is
    known to be all ASCII (the node's C loop tells; False: not known)."""
    size = len(payload)
    if size > INT_UNMASK_LIMIT:
        if C_LOOP:  # unmasked and checked for ASCII in one pass
            return NativeMasker(mask).process_checked(payload)
        return create_xor_masker(mask, size).process(payload), False
    key = int.from_bytes((mask * (size // 4 + 1))[:size], "little")
    return (int.from_bytes(payload, "little") ^ key).to_bytes(size, "little"), False


class LazySendQueue:
    """autobahn's ``send_queue`` (chopped and synchronous writes only), made on first use.

    autobahn gives every connection an empty ``deque`` (about 600 bytes) that a
    router never fills; assigning an empty deque here stores nothing.
    """

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        queue = obj.__dict__.get("_send_queue")
        if queue is None:
            queue = obj.__dict__["_send_queue"] = deque()
        return queue

    def __set__(self, obj: Any, value: Any) -> None:
        if isinstance(value, deque) and not value:
            obj.__dict__.pop("_send_queue", None)
        else:
            obj.__dict__["_send_queue"] = value


_wsp.Utf8Validator = DecoderUtf8Validator  # what autobahn's protocol module makes per connection
_wsp.create_xor_masker = create_xor_masker  # autobahn's where it is native (NVX), words on PyPy


class LargeFrame:
    """A large data frame with FIN set (a whole message) while its payload comes in."""

    __slots__ = ("binary", "length", "buffer", "view", "unmasked", "pieces", "filled", "masker", "validator",
                 "ends_on_code_point", "failed")

    def __init__(self, binary: bool, mask: bytes, length: int, validate: bool) -> None:
        self.binary = binary
        self.length = length
        self.buffer: Optional[bytearray] = None
        self.view: Optional[memoryview] = None
        self.unmasked: Optional[UnmaskedBuffer] = None
        self.pieces: Optional[list] = None
        self.masker: Any = None
        if GATHER_IN_C_MEMORY:  # unmasked by the C loop into C memory
            self.unmasked = UnmaskedBuffer(mask, length)
        elif C_LOOP or IN_PLACE:  # unmasked into one buffer, by the C loop or NVX
            self.buffer = unfilled_bytearray(length)  # delivered once every octet was written
            self.view = memoryview(self.buffer)
            self.masker = NativeMasker(mask) if C_LOOP else create_xor_masker(mask, length)
        else:  # each read unmasked into new bytes, joined at the end
            self.pieces = []
            self.masker = create_xor_masker(mask, length)
        self.filled = 0
        self.validator = DecoderUtf8Validator() if validate and not binary else None
        self.ends_on_code_point = True
        self.failed = False  # invalid UTF-8: the rest of the frame is skipped

    @property
    def missing(self) -> int:
        return self.length - self.filled


class FramedDelivery:
    """Mixin for autobahn's (server) ``WebSocketProtocol``: put it first in the bases."""

    send_queue = LazySendQueue()
    _large: Optional[LargeFrame] = None
    # while set, the socket's reads go where it says (node.fastpath.write_coalescing:
    # CoalescingWrites.doRead) and are handed to ``received_into``
    read_target: Optional[Callable[[], Any]] = None

    def dataReceived(self: Any, data: bytes) -> None:
        if self._large is not None:
            pos = self._gather(data, 0)
            if pos == len(data):
                return
            data = data[pos:]
        if (self.state == self.STATE_OPEN and self.current_frame is None and not self.data
                and not self.inside_message and self._perMessageCompress is None
                and not self.logOctets and not self.logFrames and not self.trackedTimings and self.applyMask):
            data = self._read_whole_frames(data)
            if not data:
                return
        self._dataReceived(data)

    def frame_missing(self: Any) -> int:
        """Octets still to come of the frame being received (0: none begun)."""
        large = self._large
        if large is not None:
            return large.missing
        frame = self.__dict__.get("current_frame")  # autobahn's, once open
        masker = self.__dict__.get("current_frame_masker")
        return frame.length - masker.pointer() if frame is not None and masker is not None else 0

    def _gather(self: Any, data: bytes, pos: int) -> int:
        """Take the large frame's octets from ``data[pos:]``; deliver it once whole.
        Returns where its octets end in ``data``."""
        large = self._large
        take = min(len(data) - pos, large.missing)
        if take:
            if not large.failed and large.unmasked is not None:
                self._gather_unmasked(large, data, pos, take)
            elif not large.failed:
                if large.pieces is None:
                    part = large.view[large.filled:large.filled + take]
                    ascii = unmask_into(large.masker, part, memoryview(data)[pos:pos + take])
                else:
                    masked = data if pos == 0 and take == len(data) else data[pos:pos + take]
                    if type(large.masker) is WordMasker:  # unmasked and checked for ASCII in one loop
                        part, ascii = large.masker.process_checked(masked)
                    else:
                        part, ascii = large.masker.process(masked), False
                    large.pieces.append(part)
                if large.validator is not None:
                    self._check_utf8(large, part, ascii)
                if large.pieces is None:
                    part.release()
            large.filled += take
            self.trafficStats.incomingOctetsWireLevel += take
        if not large.missing:
            self._deliver_large(large)
        return pos + take

    def pull_into_frame(self: Any, most: int) -> int:
        """Read up to ``most`` more octets of the large frame being gathered in C memory
        (PyPy: :class:`UnmaskedBuffer`) straight into that memory, in this turn, and
        deliver the frame if that completes it; the number read (0: no such frame, the
        transport cannot, or nothing there yet). The transport then reads the rest the
        same way (:attr:`read_target`).

        Twisted's own read makes a bytes object of each read: for a 16 MiB message, 16
        objects of 1 MiB that PyPy's collector frees only at its next major collection
        (together with the payloads, a 16 MiB call grew a fresh PyPy router by 14 times
        the message), and one more copy of every octet. Here the kernel writes them
        where they are unmasked."""
        if not self.pulls_into_frame():
            return 0
        got = self.transport.receive_now_into(self.frame_space(most))
        if got:
            self.received_into(got)
        return got

    def pulls_into_frame(self: Any) -> bool:
        """Whether a large frame is being gathered in C memory that a read can put its
        octets in (a TCP or Unix socket read straight for this protocol, not TLS)."""
        large = self._large
        return large is not None and large.unmasked is not None and not large.failed and reads_straight_for(self)

    def frame_space(self: Any, most: int) -> Any:
        """Where the next read of the frame gathered in C memory goes: room for up to
        ``most`` of the octets it lacks."""
        large = self._large
        return large.unmasked.space(large.filled, min(large.missing, most))

    def received_into(self: Any, got: int) -> None:
        """A read put ``got`` octets into :meth:`frame_space`: unmask and check them
        (unless the frame failed already: its rest is skipped), deliver the frame once whole."""
        large = self._large
        if not large.failed:
            self._check_unmasked(large, got, large.unmasked.unmask_in_place(large.filled, got))
        large.filled += got
        self.trafficStats.incomingOctetsWireLevel += got
        if not large.missing:
            self._deliver_large(large)

    def _deliver_large(self: Any, large: LargeFrame) -> None:
        """The large frame is whole: deliver it as a message, unless it failed."""
        self._large = None
        self.read_target = None
        if large.view is not None:
            large.view.release()  # no view left on the buffer: the serializer may empty it (see _onMessage below)
        if large.failed or self.state != self.STATE_OPEN:
            if large.unmasked is not None:
                large.unmasked.release()
            return
        if not large.ends_on_code_point:
            if large.unmasked is not None:
                large.unmasked.release()
            self._invalid_payload("UTF-8 text message payload ended within Unicode code point at payload "
                                  f"octet index {large.length}")
            return
        stats = self.trafficStats
        stats.incomingOctetsWebSocketLevel += large.length
        stats.incomingOctetsAppLevel += large.length
        stats.incomingWebSocketFrames += 1
        stats.incomingWebSocketMessages += 1
        if self.autoPingTimeoutCall and self.autoPingRestartOnAnyTraffic:
            self._cancelAutoPingTimeoutCall()
        # a bytearray: the serializers read it as bytes, and empty it once decoded (the
        # memory of a large message is free before the router forwards it); on PyPy, bytes
        # copied from the C memory (freed here) or joined from the unmasked reads, which
        # are let go before the message is decoded
        binary, pieces = large.binary, large.pieces
        if large.unmasked is not None:
            payload: Any = large.unmasked.payload()
        elif pieces is None:
            payload = large.buffer
        else:
            payload = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            large.pieces = pieces = None
        del large
        self._onMessage(payload, binary)

    def _gather_unmasked(self: Any, large: LargeFrame, data: bytes, pos: int, take: int) -> None:
        """:meth:`_gather`'s step for a frame gathered in C memory: unmask, then check
        the UTF-8 of what was unmasked unless it was all ASCII."""
        self._check_unmasked(large, take, large.unmasked.unmask(large.filled, data, pos, take))

    def _check_unmasked(self: Any, large: LargeFrame, count: int, ascii: bool) -> None:
        """Check the UTF-8 of the ``count`` octets just unmasked into the frame's C memory
        at ``large.filled``, unless they were all ASCII (``ascii``) in a frame that needs no more."""
        validator = large.validator
        if validator is None or (ascii and validator.skip_ascii(count)):
            return
        self._check_utf8(large, large.unmasked.octets(large.filled, count), ascii)

    def _check_utf8(self: Any, large: LargeFrame, part: Any, ascii: bool) -> None:
        """The UTF-8 check of one read's unmasked octets of a large text frame; on the
        first invalid octet the frame fails, with autobahn's wording and close code (1007)."""
        valid, large.ends_on_code_point, _, index = large.validator.validate(part, ascii)
        if not valid:
            large.failed = True
            self._invalid_payload("encountered invalid UTF-8 while processing text message "
                                  f"at payload octet index {index}")

    def _read_whole_frames(self: Any, data: bytes) -> bytes:
        """Deliver the plain data frames at the start of ``data`` (and a frame it ends
        within, if its rest is in the socket: :meth:`rest_of_frame`); return the rest."""
        stats = self.trafficStats
        validate = self.utf8validateIncoming
        size = len(data)
        pos = 0
        while self.state == self.STATE_OPEN and size - pos >= 6:
            first = data[pos]
            second = data[pos + 1]
            if (first != 0x81 and first != 0x82) or second < 0x80:  # FIN, no RSV, text/binary; masked
                break
            length = second & 0x7F
            if length < 126:
                head = pos + 2
            elif length == 126 and size - pos >= 8:
                length = (data[pos + 2] << 8) | data[pos + 3]
                if length < 126:  # not minimal: autobahn reports the violation
                    break
                head = pos + 4
            elif length == 127 and size - pos >= 14:
                length = int.from_bytes(data[pos + 2:pos + 10], "big")
                if length < 65536 or length >> 63:  # not minimal, or the top bit set: autobahn's to report
                    break
                head = pos + 10
            else:
                break
            if 0 < self.maxFramePayloadSize < length or 0 < self.maxMessagePayloadSize < length:
                break  # autobahn closes with 1009
            end = head + 4 + length
            rest: Any = b""
            if end > size and length <= JOIN_LIMIT and C_LOOP:
                if GATHER_IN_C_MEMORY:
                    rest = self._rest_in_memory(data, head, length, end - size)
                else:
                    rest = self.rest_of_frame(end - size)
                if type(rest) is bytes and len(rest) < end - size and rest:  # part of it: read on with what came
                    data = data[pos:] + rest
                    head, end, pos, rest = head - pos, end - pos, 0, b""
                    size = len(data)
            if type(rest) is tuple:  # PyPy: the whole frame, unmasked in C memory
                payload, ascii = rest
            elif rest:  # the rest of the frame: unmasked with what came first, not joined to it
                payload, ascii = unmask_joined(data[head:head + 4], memoryview(data)[head + 4:], rest)
            elif length > FAST_READ_LIMIT:
                self._large = LargeFrame(first == 0x82, data[head:head + 4], length, validate)
                stats.incomingOctetsWireLevel += head + 4 - pos
                pos = self._gather(data, head + 4)
                if self._large is not None:
                    return b""
                continue
            elif end > size:
                break
            else:
                payload, ascii = unmask(data[head + 4:end], data[head:head + 4])
            if first == 0x81 and validate and not ascii:
                try:
                    payload.decode("utf-8")
                except UnicodeDecodeError:  # autobahn fails the connection with 1007
                    if type(rest) is tuple:  # unmasked where it was read: masked again for autobahn
                        start = len(data) - head - 4
                        shift = start & 3
                        mask = data[head + shift:head + 4] + data[head:head + shift]
                        rest = unmask(bytes(payload[start:]), mask)[0]
                    return data[pos:] + rest if rest else data[pos:]
            stats.incomingOctetsWireLevel += end - pos
            stats.incomingOctetsWebSocketLevel += length
            stats.incomingOctetsAppLevel += length
            stats.incomingWebSocketFrames += 1
            stats.incomingWebSocketMessages += 1
            pos = end
            if self.autoPingTimeoutCall and self.autoPingRestartOnAnyTraffic:
                self._cancelAutoPingTimeoutCall()
            self._onMessage(payload, first == 0x82)
            if rest:
                return b""  # the read of the rest ended with this frame
        return data[pos:] if pos else data

    def _rest_in_memory(self: Any, data: bytes, head: int, length: int, missing: int) -> Any:
        """PyPy's :meth:`rest_of_frame`: the rest read straight into the C memory the frame
        is unmasked in (:class:`UnmaskedBuffer`), and unmasked there. A ``(payload, ascii)``
        tuple when all of it came; else the masked octets that came, as bytes (b"": none),
        for the caller to read on with, as with :meth:`rest_of_frame`.

        PyPy's ``recv`` reads into memory of its own and copies that into new bytes, and
        unmasking copies them again: for a 64 KiB message, two copies of 48 KiB less."""
        if not reads_straight_for(self):
            return b""
        receive_into = self.transport.receive_now_into
        first = len(data) - head - 4
        memory = UnmaskedBuffer(data[head:head + 4], length)
        got = receive_into(memory.space(first, missing))
        if got < missing:
            rest = memory.octets(first, got) if got else b""
            memory.release()
            return rest
        ascii = memory.unmask(0, data, head + 4, first) & memory.unmask_in_place(first, missing)
        return memory.payload(), ascii

    def rest_of_frame(self: Any, missing: int) -> bytes:
        """Up to ``missing`` octets (the rest of the frame begun at the end of this read)
        that are in the socket already, read now; b"" where the transport cannot
        (TLS, a wrapped protocol, reading paused).

        A client writes a message whole, so a frame that began in this read usually
        has the rest of it waiting. Read now, both parts are unmasked into one buffer
        and the frame is delivered as a whole one (:func:`unmask_joined`): without a
        :class:`LargeFrame` gathering it read by read, nor autobahn's frame objects for
        a frame under :data:`FAST_READ_LIMIT`, nor a turn through the poller. Bounded
        by :data:`JOIN_LIMIT`, so one turn reads at most one slice and the rest of one
        frame (as :func:`node.transports.fairness.read_rest_now` does)."""
        if not reads_straight_for(self):
            return b""
        return self.transport.receive_now(missing)

    def onMessageEnd(self: Any) -> None:
        """autobahn's, without firing the ``message`` observer event (a Deferred
        gathered per message) when nobody observes it."""
        listeners = self._listeners
        if listeners and listeners.get("message"):
            super().onMessageEnd()  # type: ignore[misc]
            return
        if not self.failedByMe:
            if self.trackedTimings:
                self.trackedTimings.track("onMessage")
            self._onMessage(b"".join(self.message_data), self.message_is_binary)
        self.message_data = None
        self.current_frame_masker = None  # made anew for each frame; idle, it is 1 KiB kept

    def _onOpen(self: Any) -> None:
        # autobahn reads these only while processing the opening handshake; an idle
        # connection would keep ~1 KiB of them (headers stay in ``http_headers``)
        for name in _HANDSHAKE_ONLY:
            setattr(self, name, None)
        details = getattr(self, "_transport_details", None)
        if details is not None and details.is_secure and details.peer_cert is None:
            # autobahn 24 (the newest for Python 3.9, e.g. PyPy) reads the client
            # certificate before the TLS handshake has finished; autobahn 26 reads it here
            from autobahn.twisted.util import extract_peer_certificate

            details.peer_cert = extract_peer_certificate(self.transport)
        super()._onOpen()  # type: ignore[misc]

    def sendData(self: Any, data: bytes, sync: bool = False, chopsize: Optional[int] = None) -> None:
        if sync or chopsize or self.__dict__.get("_send_queue") or self.logOctets:
            super().sendData(data, sync, chopsize)  # type: ignore[misc]
            return
        self.transport.write(data)
        if self.state == self.STATE_OPEN:
            self.trafficStats.outgoingOctetsWireLevel += len(data)
        else:
            self.trafficStats.preopenOutgoingOctetsWireLevel += len(data)

    def send_again(self: Any, message: Any, serializer: Any) -> int:
        """Send the frame of the last message framed if it is ``message`` serialized
        by ``serializer`` and this connection would send that frame as it is (as
        :meth:`send_payload` decides); the payload's size, or -1 if not sent."""
        frames = FRAMES
        if (message is not frames.message or serializer is not frames.serializer
                or self.state != self.STATE_OPEN or self._perMessageCompress is not None or self.autoFragmentSize
                or self.maskServerFrames or self.trackedTimings or self.logOctets
                or self.__dict__.get("_send_queue")):
            return -1
        size = len(frames._payload)
        if 0 < self.maxMessagePayloadSize < size:
            return -1
        frame = frames._frame
        self.transport.write(frame)
        self.trafficStats.outgoingOctetsWireLevel += len(frame)
        return size

    def send_payload(self: Any, payload: Any, is_binary: bool) -> None:
        """Send one serialized WAMP message (bytes, or :class:`PayloadParts` written
        as they are where the transport takes them) as one WebSocket message."""
        size = len(payload)  # once: a PayloadParts' length is a Python call
        if (self.state != self.STATE_OPEN or self._perMessageCompress is not None or self.autoFragmentSize
                or self.maskServerFrames or self.trackedTimings or 0 < self.maxMessagePayloadSize < size):
            if type(payload) is PayloadParts:
                payload = payload.joined()
            self.sendMessage(payload, is_binary)  # autobahn's checks, errors and features
            return
        if size > CACHE_LIMIT and not self.logOctets and not self.__dict__.get("_send_queue"):
            head = frame_head(size, is_binary)
            self.transport.writeSequence((head, *pieces_for(self.transport, payload)))
            self.trafficStats.outgoingOctetsWireLevel += len(head) + size
            return
        if type(payload) is PayloadParts:
            payload = payload.joined()
        self.sendData(FRAMES.frame(payload, is_binary))


class SharedOptions:
    """Mixin for autobahn's WebSocket server factory: protocol options as class attributes.

    autobahn copies its ~35 protocol options from the factory onto every new
    connection unless the protocol already has them; an idle connection keeps
    them all in its instance dictionary (about 1 KiB). Here each connection is
    made from a subclass that carries the factory's current options, so nothing
    is copied; the subclass is made again after the options change (through
    autobahn's ``setProtocolOptions``/``resetProtocolOptions``, or when the
    factory's ``protocol`` is replaced).
    """

    protocol: Any
    _options_class: Any = None
    _options_base: Any = None

    def setProtocolOptions(self: Any, *args: Any, **kwargs: Any) -> None:
        super().setProtocolOptions(*args, **kwargs)  # type: ignore[misc]
        self._options_class = None

    def resetProtocolOptions(self: Any) -> None:
        super().resetProtocolOptions()  # type: ignore[misc]
        self._options_class = None

    def buildProtocol(self: Any, addr: Any) -> Any:
        base = self.protocol
        if self._options_class is None or self._options_base is not base:
            values = {name: _class_value(getattr(self, name)) for name in base.CONFIG_ATTRS}
            # autobahn walks CONFIG_ATTRS on every new connection to copy what the
            # instance lacks (nothing, here) and to list them all for a debug line
            values["CONFIG_ATTRS"] = ()
            self._options_class = type(base.__name__, (base,), values)
            self._options_base = base
        protocol = self._options_class()
        protocol.factory = self
        return protocol


def _class_value(value: Any) -> Any:
    """A value to store as a class attribute that reads back unchanged from an
    instance: functions (e.g. ``perMessageCompressionAccept``) must not become methods."""
    return staticmethod(value) if hasattr(type(value), "__get__") else value

