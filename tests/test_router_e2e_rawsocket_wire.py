"""Wire-level protocol rules over RawSocket against a running node: a plain TCP socket, no WAMP library.

The RawSocket framing is built by hand (4-octet handshake, then a 4-octet header per
message: frame type and 24-bit length), mirroring tests/test_router_e2e_protocol.py's
WebSocket cases: message before HELLO, second HELLO, unknown message type, malformed
messages, invalid URIs under the loose and strict rules, GOODBYE with any reason.
"""
from __future__ import annotations

import json
import socket
import time
from typing import Any, List, Optional, Tuple

import cbor2
import msgpack
import pytest

from conftest import free_port, router_config, start_node, tcp

SERIALIZER_IDS = {"json": 1, "msgpack": 2, "cbor": 3}
ENCODE = {"json": lambda v: json.dumps(v).encode(), "msgpack": msgpack.packb, "cbor": cbor2.dumps}
DECODE = {"json": json.loads, "msgpack": msgpack.unpackb, "cbor": cbor2.loads}
ROLES = {"subscriber": {}, "publisher": {}, "caller": {}, "callee": {}}
HELLO = [1, "realm1", {"roles": ROLES}]
HELLO_STRICT = [1, "strict", {"roles": ROLES}]
LIMITED_SIZE = 1024


@pytest.fixture(scope="module")
def ports(tmp_path_factory):
    ports = {"open": free_port(), "limited": free_port()}
    transports = [{"type": "rawsocket", "endpoint": tcp(ports["open"]), "serializers": list(SERIALIZER_IDS)},
                  {"type": "rawsocket", "endpoint": tcp(ports["limited"]), "max_message_size": LIMITED_SIZE}]
    realms = [{"name": "realm1", "roles": []}, {"name": "strict", "roles": [], "options": {"uri_check": "strict"}}]
    node = start_node(router_config(transports, realms), tmp_path_factory.mktemp("rawsocket-wire"))
    yield ports
    node.stop()
    assert "Traceback" not in node.output(), node.output()


class RawSocketPeer:
    """A RawSocket client made of a blocking socket; ``handshake_reply`` holds the router's 4 octets."""

    def __init__(self, port: int, serializer: str = "json", max_exp: int = 15, handshake: Optional[bytes] = None):
        self.serializer = serializer
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(handshake or bytes([0x7F, (max_exp << 4) | SERIALIZER_IDS[serializer], 0, 0]))
        self.buffer = b""
        self.closed = False
        self.handshake_reply = self._read(4)

    def send(self, message: Any) -> bool:
        """Send one message (a value to encode, or raw payload bytes); False if the router had closed."""
        payload = message if isinstance(message, bytes) else ENCODE[self.serializer](message)
        try:
            self.sock.sendall(bytes([0]) + len(payload).to_bytes(3, "big") + payload)
            return True
        except OSError:
            self.closed = True
            return False

    def _fill(self, deadline: float) -> bool:
        self.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.buffer += data
        return True

    def _read(self, n: int, seconds: float = 5.0) -> bytes:
        deadline = time.monotonic() + seconds
        while len(self.buffer) < n and not self.closed and time.monotonic() < deadline:
            self._fill(deadline)
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def receive(self, count: Optional[int] = None, seconds: float = 5.0) -> List[Any]:
        """Messages until ``count`` arrived, or (count None) until the router closes; pings are skipped."""
        messages: List[Any] = []
        deadline = time.monotonic() + seconds
        while (count is None or len(messages) < count) and time.monotonic() < deadline:
            while len(self.buffer) >= 4 and len(self.buffer) >= 4 + int.from_bytes(self.buffer[1:4], "big"):
                length = int.from_bytes(self.buffer[1:4], "big")
                frame_type, payload = self.buffer[0] & 0x07, self.buffer[4:4 + length]
                self.buffer = self.buffer[4 + length:]
                if frame_type == 0:
                    messages.append(DECODE[self.serializer](payload))
            if (count is not None and len(messages) >= count) or self.closed:
                break
            self._fill(deadline)
        return messages

    def close(self) -> None:
        self.sock.close()


def exchange(port: int, serializer: str, *messages: Any, replies: Optional[int] = None) -> Tuple[List[Any], bool]:
    """Send messages one by one, each once the one before was answered (every message
    these tests send gets one reply); then read up to ``replies`` messages in all (None:
    until the router closes)."""
    peer = RawSocketPeer(port, serializer)
    try:
        received: List[Any] = []
        for sent, message in enumerate(messages, 1):
            if not peer.send(message):
                break
            if len(received) < sent:
                received += peer.receive(sent - len(received))
        if replies is None:
            received += peer.receive(None)
        elif len(received) < replies:
            received += peer.receive(replies - len(received))
        return received, peer.closed
    finally:
        peer.close()


def abort_of(replies: List[Any]) -> List[Any]:
    aborts = [r for r in replies if r[0] == 3]
    assert aborts, replies
    return aborts[-1]


VIOLATIONS = [
    pytest.param([[32, 1, {}, "com.t"]], "before HELLO", id="before-hello"),
    pytest.param([HELLO, HELLO], "second HELLO", id="second-hello"),
    pytest.param([HELLO, [999, 1]], "999", id="unknown-type"),
    pytest.param([HELLO, [32, 1, {}]], "SUBSCRIBE", id="wrong-arity"),
    pytest.param([HELLO, [16, "x", {}, "com.t"]], "PUBLISH", id="wrong-type"),
    pytest.param([HELLO, [48, 1, [], "com.p"]], "CALL", id="options-not-a-dict"),
    pytest.param([HELLO, [36, 1, 2, {}]], "EVENT", id="router-only-message"),
    pytest.param([HELLO, {"not": "a list"}], "invalid type", id="not-a-list"),
]


@pytest.mark.parametrize("serializer", list(SERIALIZER_IDS))
@pytest.mark.parametrize("messages, fragment", VIOLATIONS)
def test_protocol_violations_abort_and_close(ports, serializer, messages, fragment):
    """Each protocol violation gets ABORT wamp.error.protocol_violation saying what was wrong, then close."""
    replies, closed = exchange(ports["open"], serializer, *messages)
    abort = abort_of(replies)
    assert abort[2] == "wamp.error.protocol_violation"
    assert fragment in json.dumps(abort[1]) + abort[2], abort
    assert closed


def test_undecodable_payload_aborts_and_closes(ports):
    """Bytes that are not JSON at all get ABORT protocol_violation, then close."""
    replies, closed = exchange(ports["open"], "json", HELLO, b"\xff\x00{not json")
    assert abort_of(replies)[2] == "wamp.error.protocol_violation" and closed


def test_violating_session_leaves_no_state(ports):
    """A session aborted for a violation loses its registration: another caller gets no_such_procedure."""
    replies, closed = exchange(ports["open"], "json", HELLO, [64, 1, {}, "com.left.behind"], [999])
    assert replies[1][0] == 65 and abort_of(replies)[2] == "wamp.error.protocol_violation" and closed
    replies, _ = exchange(ports["open"], "msgpack", HELLO, [48, 2, {}, "com.left.behind"], replies=2)
    assert replies[1][:5] == [8, 48, 2, {}, "wamp.error.no_such_procedure"], replies


URI_REQUESTS = [
    pytest.param([32, 7, {}, "com..bad"], id="subscribe"),
    pytest.param([16, 7, {"acknowledge": True}, "com.bad uri"], id="publish"),
    pytest.param([64, 7, {}, "com.#bad"], id="register"),
    pytest.param([48, 7, {}, "com. bad"], id="call"),
]


@pytest.mark.parametrize("message", URI_REQUESTS)
def test_invalid_uri_loose_is_error_not_abort(ports, message):
    """A request with a URI invalid even under the loose rules gets ERROR invalid_uri; the session stays up."""
    replies, closed = exchange(ports["open"], "cbor", HELLO, message, [48, 8, {}, "wamp.session.count"], replies=3)
    assert replies[1][:3] == [8, message[0], 7] and replies[1][4] == "wamp.error.invalid_uri", replies
    assert replies[2][:2] == [50, 8] and not closed


STRICT_ONLY = [
    pytest.param([32, 7, {}, "com.Upper.case"], 33, id="subscribe"),
    pytest.param([16, 7, {"acknowledge": True}, "com.dash-topic"], 17, id="publish"),
    pytest.param([64, 7, {}, "com.example.Proc"], 65, id="register"),
]


@pytest.mark.parametrize("message, success", STRICT_ONLY)
def test_invalid_uri_strict_realm(ports, message, success):
    """A URI valid under the loose rules succeeds on a loose realm and gets ERROR invalid_uri on a strict one."""
    loose, _ = exchange(ports["open"], "json", HELLO, message, replies=2)
    assert loose[1][0] == success, loose
    strict, closed = exchange(ports["open"], "json", HELLO_STRICT, message, [48, 8, {}, "wamp.session.count"],
                              replies=3)
    assert strict[1][:3] == [8, message[0], 7] and strict[1][4] == "wamp.error.invalid_uri", strict
    assert strict[2][:2] == [50, 8] and not closed


def test_strict_realm_call_with_invalid_uri(ports):
    """A CALL to a strictly invalid URI on a strict realm gets ERROR invalid_uri, not no_such_procedure."""
    replies, _ = exchange(ports["open"], "msgpack", HELLO_STRICT, [48, 7, {}, "com.Example"], replies=2)
    assert replies[1][:3] == [8, 48, 7] and replies[1][4] == "wamp.error.invalid_uri", replies


@pytest.mark.parametrize("reason", ["wamp.close.normal", "wamp.close.system_shutdown", "com.my.reason"])
def test_goodbye_any_reason_gets_goodbye_normal(ports, reason):
    """A client GOODBYE with any reason is answered with GOODBYE wamp.close.normal, as Crossbar.io answers."""
    replies, _ = exchange(ports["open"], "msgpack", HELLO, [6, {"message": "bye"}, reason], replies=2)
    assert replies[0][0] == 2 and replies[1] == [6, {}, "wamp.close.normal"], replies


@pytest.mark.parametrize("serializer", list(SERIALIZER_IDS))
def test_handshake_reply_names_serializer_and_limit(ports, serializer):
    """The handshake reply echoes the serializer and announces the transport's max message size."""
    peer = RawSocketPeer(ports["limited"], serializer)
    try:
        reply = peer.handshake_reply
        assert reply[0] == 0x7F and reply[1] & 0x0F == SERIALIZER_IDS[serializer] and reply[2:] == b"\0\0"
        assert 2 ** (9 + (reply[1] >> 4)) == LIMITED_SIZE
    finally:
        peer.close()


def test_message_over_the_limit_closes(ports):
    """A message larger than the announced limit closes the connection; smaller ones are routed."""
    peer = RawSocketPeer(ports["limited"], "json")
    try:
        peer.send(HELLO)
        assert peer.receive(1)[0][0] == 2
        peer.send([16, 1, {}, "com.big", ["x" * (LIMITED_SIZE * 2)]])
        assert peer.receive() == [] and peer.closed
    finally:
        peer.close()


def test_unsupported_serializer_gets_error_reply(ports):
    """A handshake asking for a serializer the transport does not offer gets 0x7F 0x10 0 0, then close."""
    peer = RawSocketPeer(ports["open"], handshake=bytes([0x7F, 0xF7, 0, 0]))
    try:
        assert peer.handshake_reply == bytes([0x7F, 0x10, 0, 0])
        assert peer.receive() == [] and peer.closed
    finally:
        peer.close()


def test_bad_magic_octet_closes(ports):
    """A handshake not starting with the 0x7F magic octet is closed without a reply."""
    peer = RawSocketPeer(ports["open"], handshake=b"GET ")
    try:
        assert peer.handshake_reply == b"" and peer.closed
    finally:
        peer.close()


def ask(peer: RawSocketPeer, message: Any) -> Any:
    """Send one message and return the router's one reply."""
    assert peer.send(message)
    (reply,) = peer.receive(1)
    return reply


@pytest.mark.parametrize("serializer", list(SERIALIZER_IDS))
def test_integral_float_ids_are_accepted(ports, serializer):
    """IDs and request IDs sent back as integral floats (cbor-x, wampy.js's CBOR, does that above
    2^32) are the IDs they stand for: UNSUBSCRIBE, UNREGISTER, CALL, YIELD and PUBLISH's exclude work."""
    peer = RawSocketPeer(ports["open"], serializer)
    try:
        session = ask(peer, HELLO)[1]
        subscribed = ask(peer, [32, 1.0, {}, "com.float.topic"])
        assert subscribed[:2] == [33, 1] and type(subscribed[1]) is int
        assert ask(peer, [34, 2.0, float(subscribed[2])]) == [35, 2]
        registered = ask(peer, [64, 3.0, {}, "com.float.proc"])
        assert registered[:2] == [65, 3]
        invocation = ask(peer, [48, float(2**52 + 4), {}, "com.float.proc", [1]])
        assert invocation[:3] == [68, invocation[1], registered[2]]
        assert ask(peer, [70, float(invocation[1]), {}, ["done"]]) == [50, 2**52 + 4, {}, ["done"]]
        assert ask(peer, [66, 5.0, float(registered[2])]) == [67, 5]
        published = ask(peer, [16, 6.0, {"acknowledge": True, "exclude": [float(session)]}, "com.float.topic"])
        assert published[:2] == [17, 6]
        assert max(subscribed[2], registered[2], session) > 2**32  # at least one ID really needed the float64
    finally:
        peer.close()


@pytest.mark.parametrize("serializer", list(SERIALIZER_IDS))
@pytest.mark.parametrize("message", [[34, 2, 1.5], [66, 1.5, 1], [48, 1.5, {}, "com.p"]],
                         ids=["unsubscribe", "unregister", "call"])
def test_fractional_float_id_is_protocol_violation(ports, serializer, message):
    """A float ID with a fraction stays a protocol violation: ABORT saying so, then close."""
    replies, closed = exchange(ports["open"], serializer, HELLO, message)
    abort = abort_of(replies)
    assert abort[2] == "wamp.error.protocol_violation" and "float" in json.dumps(abort[1]), abort
    assert closed
