"""WAMP over RawSocket: autobahn's protocol with wampnode's error handling.

Differences from autobahn's server protocol, on purpose: a message that fails to
decode is the peer's protocol error (ABORT, then close) instead of a silent abort;
a handshake naming a serializer we do not offer is answered with the RawSocket
error reply (``0x7F 0x10``) as the WAMP spec asks, so the client can tell why;
a message over the limit the client announced is not sent but raised as
:class:`~node.wire.size.MessageTooLarge`, and the router sends what fits instead;
the rest of a large message is gathered in a list and read in large steps
(:func:`~node.transports.fairness.read_rest`): Twisted's ``IntNStringReceiver``
adds each read to what it holds, which copies a 16 MiB message about a thousand
times. On PyPy (over TCP or Unix sockets, not TLS) it is gathered in C memory
instead, the socket's reads going straight there (``read_target``, read by
:class:`~node.fastpath.write_coalescing.CoalescingWrites`) in steps of up to
:data:`~node.transports.fairness.LARGE_READ` per turn
(:class:`~node.fastpath.xormask.GatheredBuffer` says why).
"""
from __future__ import annotations

import struct
from typing import Any, Callable, List, Optional, Set

from autobahn.twisted.rawsocket import WampRawSocketServerFactory, WampRawSocketServerProtocol
from autobahn.wamp.exception import SerializationError, TransportLost
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from node.config.model import RawSocketService
from node.fastpath.payload_parts import PayloadParts, pieces_for
from node.fastpath.write_coalescing import reads_straight_for
from node.fastpath.xormask import GATHER_IN_C_MEMORY, GatheredBuffer
from node.router.counters import MESSAGE_CODES
from node.transports import violation
from node.transports.backpressure import watch_outgoing
from node.transports.counts import OPEN_HANDSHAKE_TIMEOUT, TransportCounts, refused
from node.transports.fairness import LARGE_READ, READ_SLICE, read_in_slices, read_rest, read_rest_now
from node.wire.serializers import rawsocket_serializers
from node.wire.size import check_size

log = Logger()

MAGIC = 0x7F
ERROR_SERIALIZER_UNSUPPORTED = 1  # RawSocket error code, sent in the upper nibble: 0x10
LARGE = 64 * 1024  # larger messages are written as prefix + payload (node.fastpath.write_coalescing sends
# both with one sendmsg) instead of Twisted's sendString, which copies the payload behind its prefix


class RawSocketServerProtocol(WampRawSocketServerProtocol):
    def __init__(self) -> None:
        super().__init__()
        self._violated = False
        self._rest: Optional[List[bytes]] = None  # the large message being gathered (its payload so far)
        self._memory: Optional[GatheredBuffer] = None  # or gathered here (PyPy)
        self.read_target: Optional[Callable[[], Any]] = None  # while set, the transport's reads go there
        self._missing = 0  # octets it still lacks
        self._reader: Any = None

    def connectionMade(self) -> None:
        super().connectionMade()
        self._max_message_size = self.factory.max_message_size
        self._sent = self.factory.sent
        self.outgoing = watch_outgoing(self.transport, self.factory.max_outgoing_buffer, self.peer,
                                       self.factory.counts)
        self._reader = read_in_slices(self.transport)
        self.factory.connections.add(self)
        self._handshake_timer = None
        if self.factory.open_handshake_timeout > 0:  # autobahn's RawSocket has no such timeout
            self._handshake_timer = self.factory.reactor.callLater(self.factory.open_handshake_timeout / 1000.0,
                                                                   self.handshake_timed_out)

    def handshake_timed_out(self) -> None:
        log.warn("Dropping {peer}: no RawSocket handshake within {ms} ms", peer=self.peer,
                 ms=self.factory.open_handshake_timeout)
        refused(self.factory.counts, OPEN_HANDSHAKE_TIMEOUT)
        self.transport.abortConnection()

    def connectionLost(self, reason: Any) -> None:
        self.factory.connections.discard(self)
        if self._memory is not None:
            self._memory.release()
            self._memory = None
        if self._handshake_timer is not None and self._handshake_timer.active():
            self._handshake_timer.cancel()
        super().connectionLost(reason)

    def dataReceived(self, data: bytes) -> None:
        if self._memory is not None:
            data = self._gather_in_memory(data)
            if not data:
                return
        if self._rest is not None:
            data = self._gather(data)
            if not data:
                return
        if not self._handshake_complete and len(self._handshake_bytes) + len(data) >= 4:
            handshake = (self._handshake_bytes + data)[:4]
            if handshake[0] == MAGIC and (handshake[1] & 0x0F) not in self.factory._serializers:
                self.transport.write(bytes([MAGIC, ERROR_SERIALIZER_UNSUPPORTED << 4, 0, 0]))
                log.warn("Closing {peer}: RawSocket serializer {ser} not offered", peer=self.peer,
                         ser=handshake[1] & 0x0F)
                self.transport.loseConnection()
                return
        try:
            super().dataReceived(data)
        except TransportLost:
            # autobahn 24 (the newest for Python 3.9, e.g. PyPy) raises this instead of
            # dropping a connection whose opening handshake failed; autobahn 26 drops it
            self.transport.abortConnection()
            return
        if self._handshake_timer is not None and self._handshake_complete:
            if self._handshake_timer.active():
                self._handshake_timer.cancel()
            self._handshake_timer = None
        pending = self._unprocessed  # Twisted's: what follows the last whole message
        if len(pending) >= 4 and self._handshake_complete and not self.transport.disconnecting:
            length = struct.unpack("!I", pending[:4])[0]
            if READ_SLICE < length <= self.MAX_LENGTH:  # a large message has begun: gather it
                self._unprocessed = b""
                if self._reads_into_memory():
                    self._memory = GatheredBuffer(length)
                    self._memory.put(0, pending, 4, len(pending) - 4)
                    self._missing = length + 4 - len(pending)
                    self._pull_into_memory()
                    if self._memory is not None:  # the transport reads the rest straight there
                        self.read_target = self._next_read_space
                else:
                    self._rest, self._missing = [pending[4:]], length + 4 - len(pending)
                    read_rest_now(self._reader, self._missing, self)

    def _reads_into_memory(self) -> bool:
        """Whether a large message is gathered in C memory the kernel reads into: PyPy
        with the node's C module, a TCP or Unix socket read straight for this protocol."""
        return GATHER_IN_C_MEMORY and reads_straight_for(self)

    def _gather_in_memory(self, data: bytes) -> bytes:
        """Add ``data`` (a read that came through ``dataReceived``) to the message
        gathered in C memory; hand the message on once whole. Returns what follows it
        in ``data``."""
        memory = self._memory
        take = min(len(data), self._missing)
        memory.put(memory.length - self._missing, data, 0, take)
        self.received_into(take)
        return data[take:] if take < len(data) else b""

    def _pull_into_memory(self) -> None:
        """Read more of the message, in this turn, straight into its C memory."""
        got = self.transport.receive_now_into(self._next_read_space())
        if got:
            self.received_into(got)

    def _next_read_space(self) -> Any:
        """Room for the next read of the message gathered in C memory: up to
        :data:`LARGE_READ` of what it lacks, as :func:`read_rest` allows Twisted's reads."""
        memory = self._memory
        return memory.space(memory.length - self._missing, min(self._missing, LARGE_READ))

    def received_into(self, got: int) -> None:
        """``got`` more octets of the message are in its C memory; hand it on once whole."""
        self._missing -= got
        if not self._missing:
            payload, self._memory, self.read_target = self._memory.payload(), None, None
            self.stringReceived(payload)

    def _gather(self, data: bytes) -> bytes:
        """Add ``data`` to the large message being gathered; hand the message on once
        whole. Returns what follows it in ``data``."""
        missing = self._missing
        if len(data) < missing:
            self._rest.append(data)
            self._missing = missing - len(data)
            read_rest(self._reader, self._missing)
            return b""
        self._rest.append(data if len(data) == missing else data[:missing])
        # a bytearray: the serializer empties it once decoded (see node.wire.serializers)
        payload, self._rest, self._missing = bytearray().join(self._rest), None, 0
        read_rest(self._reader, 0)
        self.stringReceived(payload)
        return data[missing:]

    def lengthLimitExceeded(self, length: int) -> None:
        log.warn("Closing {peer}: RawSocket message of {length} bytes exceeds the limit of {limit}",
                 peer=self.peer, length=length, limit=self.MAX_LENGTH)
        self.transport.loseConnection()

    def stringReceived(self, payload: bytes) -> None:
        violation.dispatch(self, lambda: self._serializer.unserialize(payload))

    def protocol_violation(self, reason: str) -> None:
        self._violated = True
        if self.factory.counts is not None:
            self.factory.counts.violations += 1
        violation.report(self.peer, reason)
        try:
            self.send(violation.abort_message(reason))
        finally:
            self.transport.loseConnection()

    def send(self, msg: Any) -> None:
        if self._session is None:
            raise TransportLost()
        try:
            payload, _ = self._serializer.serialize_parts(msg)
        except Exception as e:  # a value the serializer cannot carry (as autobahn's own send reports it)
            raise SerializationError(f"{type(e).__name__}: {e}")
        check_size(payload, self._max_len_send)  # the client's limit; the router decides what goes instead
        if len(payload) > LARGE or type(payload) is PayloadParts:
            # its length prefix and itself as pieces (a forwarded message's head, then the
            # octets it came with): not copied together
            self.transport.writeSequence((struct.pack("!I", len(payload)), *pieces_for(self.transport, payload)))
        else:
            self.sendString(payload)
        self._sent[msg.MESSAGE_TYPE] += 1  # wampnode_messages_sent_total
        self.outgoing.sent(len(payload))

    def close_going_away(self) -> None:
        self.transport.loseConnection()


class RawSocketServerFactory(WampRawSocketServerFactory):
    protocol = RawSocketServerProtocol

    def __init__(self, session_factory: Callable[[], Any], service: RawSocketService,
                 reactor: IReactorTime, counts: Optional[TransportCounts] = None) -> None:
        super().__init__(session_factory, serializers=rawsocket_serializers(service.serializers))
        self.counts = counts
        self.sent = counts.sent if counts is not None else [0] * MESSAGE_CODES  # messages written, by WAMP code
        self.reactor = reactor  # runs the opening-handshake timeout
        self.max_message_size = service.max_message_size
        self.max_outgoing_buffer = service.max_outgoing_buffer
        self.open_handshake_timeout = service.open_handshake_timeout
        self.connections: Set[RawSocketServerProtocol] = set()
        self.noisy = False

    def close_all(self) -> None:
        for connection in list(self.connections):
            connection.close_going_away()


def rawsocket_factory(session_factory: Callable[[], Any], service: RawSocketService,
                      reactor: IReactorTime, counts: Optional[TransportCounts] = None) -> RawSocketServerFactory:
    return RawSocketServerFactory(session_factory, service, reactor, counts)
