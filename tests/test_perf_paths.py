"""The fast paths of issue 8: lean serializers, shared EVENTs, prepared frames,
compact session state, lazy debug strings, malloc thresholds."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from autobahn.wamp import message as m
from autobahn.wamp.exception import ProtocolError
from autobahn.wamp.role import RoleCallerFeatures, RoleSubscriberFeatures
from autobahn.wamp.serializer import JsonObjectSerializer

from node.process.malloc import tune_malloc
from node.router.broker import Broker
from node.router.peer import Peer
from node.wire.roles import compact_roles
from node.wire.json_codec import FastJsonObjectSerializer
from node.wire.parsing import CLIENT_MESSAGES, JSON_CLIENT_MESSAGES
from node.wire.serializers import CBORSerializer, JsonSerializer, MsgPackSerializer

HERE = Path(__file__).resolve().parent

SAMPLES = [
    [36, 1, 2, {}, ["héllo", 1, 2.5, None, True], {"k": [1, {"x": "y"}]}],
    [48, 7, {"receive_progress": True}, "com.example.add", [1, 2]],
    [16, 3, {}, "t", [b"\x00\x01binary\xff", {"nested": b"bytes"}], {"b": b"kw"}],
    [16, 4, {}, "t", ["\x00AAAA", "not binary \x00 inside"]],
    [36, 5, 6, {}, [float("inf"), -0.0, 10**20]],
]


@pytest.mark.parametrize("raw", SAMPLES)
def test_fast_json_matches_autobahn_both_ways(raw):
    """The fast JSON object serializer writes autobahn's bytes and reads them back as autobahn does."""
    ours, theirs = FastJsonObjectSerializer(), JsonObjectSerializer()
    assert ours.serialize(raw) == theirs.serialize(raw)
    encoded = theirs.serialize(raw)
    assert ours.unserialize(encoded) == theirs.unserialize(encoded)


def test_fast_json_binary_only_in_values_and_batched():
    """NUL-prefixed strings become bytes as values, never as keys; batched payloads split."""
    ours = FastJsonObjectSerializer(batched=True)
    payload = b'[1,{"\\u0000AA==":"\\u0000AAE="}]\x18[2]\x18'
    assert ours.unserialize(payload) == [[1, {"\x00AA==": b"\x00\x01"}], [2]]
    with pytest.raises(ProtocolError):
        ours.unserialize(b"")


@pytest.mark.parametrize("serializer_class", [JsonSerializer, MsgPackSerializer, CBORSerializer])
def test_lean_serializer_parses_with_router_table_and_is_shared(serializer_class):
    """A lean serializer round-trips messages through the router's parse table and is not copied."""
    import copy

    serializer = serializer_class()
    payload, binary = serializer.serialize(m.Publish(5, "com.topic", args=[1, "two"], kwargs={"a": b"x"}))
    (publish,) = serializer.unserialize(payload, binary)
    assert isinstance(publish, m.Publish) and publish.args == [1, "two"] and publish.kwargs == {"a": b"x"}
    assert copy.copy(serializer) is serializer
    expected_table = JSON_CLIENT_MESSAGES if serializer_class is JsonSerializer else CLIENT_MESSAGES
    assert serializer.MESSAGE_TYPE_MAP is expected_table


@pytest.mark.parametrize("serializer_class", [JsonSerializer, MsgPackSerializer, CBORSerializer])
def test_transport_buffer_is_emptied_once_decoded(serializer_class):
    """A bytearray payload (a transport's buffer of a large message) is empty after
    unserialize, its message intact: its memory is free before the message is forwarded."""
    serializer = serializer_class()
    big = "x" * 100_000
    payload, binary = serializer.serialize(m.Call(9, "com.proc", args=[big], kwargs={"b": b"\x00\x01"}))
    buffer = bytearray(payload)
    (call,) = serializer.unserialize(buffer, binary)
    assert call.args == [big] and call.kwargs == {"b": b"\x00\x01"} and call.procedure == "com.proc"
    kept = call._router_internal  # the arguments' octets, to forward them as they came (test_splice.py)
    assert kept.octets.obj is buffer
    small = bytearray(serializer.serialize(m.Call(9, "com.proc", args=["x"]))[0])
    assert serializer.unserialize(small, binary)[0]._router_internal is None and len(small) == 0
    broken = bytearray(payload[:-3])
    with pytest.raises(ProtocolError):
        serializer.unserialize(broken, binary)
    assert len(broken) == 0, "emptied whether or not it decodes"
    malformed = bytearray(serializer._serializer.serialize([48, "not an ID", {}, "com.proc", [big]]))
    with pytest.raises(ProtocolError):
        serializer.unserialize(malformed, binary)
    assert len(malformed) == 0, "emptied when decoded but refused"
    assert serializer.unserialize(payload, binary)[0].args == [big], "bytes are read as before"


@pytest.mark.parametrize("payload, problem", [
    (b'{"a": 1}', "invalid type"),
    (b"[]", "missing message type"),
    (b'["x"]', "invalid type"),
    (b"[9999]", "invalid WAMP message type 9999"),
    (b"[16,", "invalid serialization of WAMP message"),
])
def test_lean_serializer_rejects_like_autobahn(payload, problem):
    """Malformed messages raise ProtocolError with autobahn's wording."""
    serializer = JsonSerializer()
    with pytest.raises(ProtocolError, match=problem):
        serializer.unserialize(payload, False)
    with pytest.raises(ProtocolError, match="binary True"):
        serializer.unserialize(b"[1]", True)


def test_one_event_object_per_subscription_for_all_receivers():
    """A publication to many subscribers of one subscription hands them one EVENT object."""
    peers = {i: Peer(i, "realm1", f"user{i}", "anonymous") for i in range(1, 6)}
    broker = Broker(peers)
    for i in range(2, 6):
        broker.subscribe(peers[i], m.Subscribe(i, "com.topic"))
    out = broker.publish(peers[1], m.Publish(1, "com.topic", args=[1]))
    events = [msg for _, msg in out.sends if isinstance(msg, m.Event)]
    assert sorted(sid for sid, msg in out.sends if isinstance(msg, m.Event)) == [2, 3, 4, 5]
    assert all(e is events[0] for e in events)


def test_broker_wants_only_topics_with_subscribers_or_history():
    """Router publications are built only for topics someone subscribed to or keeps history of."""
    from node.config.model import EventHistory

    peers = {1: Peer(1, "realm1", "a", "anonymous")}
    broker = Broker(peers, (EventHistory(uri="wamp.session.on_leave", match="exact", limit=5),))
    assert not broker.wants("wamp.session.on_join")
    assert broker.wants("wamp.session.on_leave")
    broker.subscribe(peers[1], m.Subscribe(1, "wamp.session", match="prefix"))
    assert broker.wants("wamp.session.on_join")


def test_compact_roles_keep_set_features_and_share_them():
    """Announced roles keep only the features that are set, shared between sessions."""
    hello_roles = {"subscriber": RoleSubscriberFeatures(publisher_identification=True),
                   "caller": RoleCallerFeatures(progressive_call_results=True, call_canceling=False),
                   "callee": {"features": {"shared_registration": True}}}
    first, second = compact_roles(hello_roles), compact_roles(dict(hello_roles))
    assert first == {"subscriber": {"publisher_identification": True},
                     "caller": {"progressive_call_results": True},
                     "callee": {"shared_registration": True}}
    assert first["caller"] is second["caller"]
    peer = Peer(1, "realm1", "a", "anonymous", roles=first)
    assert peer.supports("caller", "progressive_call_results")
    assert not peer.supports("caller", "call_canceling")
    assert peer.supports("callee", "shared_registration")
    assert compact_roles(None) == {}


def test_serializer_without_codec_is_a_config_error():
    """A serializer autobahn has no codec for is refused with a config error naming it."""
    from node.errors import ConfigError
    from node.wire.serializers import websocket_serializers

    with pytest.raises(ConfigError, match='"ubjson" cannot be used'):
        websocket_serializers(["json", "ubjson"])


def test_malloc_thresholds_set_unless_environment_says_otherwise():
    """The thresholds are set on glibc Linux and left alone when glibc's variables are set."""
    assert tune_malloc({"MALLOC_TRIM_THRESHOLD_": "0"}) is False
    import platform

    expected = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert tune_malloc({}) is expected


@pytest.mark.parametrize("check", ["frame_cache", "frame_head", "gathered_sends_keep_order", "lazy_send_queue",
                                   "replies_leave_before_due_timers", "node_reactor_runs_timers_as_twisted",
                                   "shared_options",
                                   "quiet_is_lazy_and_equal", "quiet_helpers_only_feed_log_calls"])
def test_twisted_side(check):
    """The WebSocket delivery helpers hold their contract (run in a Twisted process)."""
    result = subprocess.run([sys.executable, str(HERE / "twisted_checks.py"), check],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stderr[-3000:]


def test_welcome_with_cached_roles_is_autobahns_welcome():
    """RouterWelcome marshals exactly what autobahn's Welcome does, for both roles variants, twice."""
    from node.router.session import RouterWelcome, router_roles

    for meta in (True, False):
        for _ in range(2):
            kwargs = dict(realm="realm1", authid="X7K3", authrole="anonymous", authmethod="anonymous",
                          authprovider="static", authextra={"x": 1})
            ours = RouterWelcome(123, router_roles(meta), **kwargs).marshal()
            assert ours == m.Welcome(123, router_roles(meta), **kwargs).marshal()
            assert JsonSerializer().serialize(RouterWelcome(123, router_roles(meta), **kwargs))[0] == \
                JsonSerializer().serialize(m.Welcome(123, router_roles(meta), **kwargs))[0]


def test_random_ids_in_range_distinct_and_fresh_after_fork():
    """Pooled IDs are in [1, 2^53], do not repeat, and a forked child does not draw its parent's next IDs."""
    import os

    from node.router.auth.base import random_authid
    from node.router.ids import MAX_ID, random_id

    ids = [random_id() for _ in range(20000)]
    assert min(ids) >= 1 and max(ids) <= MAX_ID and len(set(ids)) == len(ids)
    assert max(ids) > MAX_ID // 2  # all 53 bits are used
    assert len({random_authid() for _ in range(1000)}) == 1000
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report its next ID and leave at once
        os.write(write, str(random_id()).encode())
        os._exit(0)
    os.close(write)
    child = int(os.read(read, 100))
    os.waitpid(pid, 0)
    os.close(read)
    assert child != random_id()


def test_hello_roles_parsed_once_other_fields_still_checked():
    """A HELLO with roles seen before (in a session that joined) parses equal to autobahn's;
    its other fields and bad roles are still refused."""
    import json as stdjson

    from autobahn.wamp.role import DEFAULT_CLIENT_ROLES

    from node.wire.messages import remember_hello_roles

    hello = m.Hello("realm1", DEFAULT_CLIENT_ROLES, authmethods=["ticket"], authid="joe", authextra={"a": 1})
    raw = lambda: stdjson.loads(stdjson.dumps(hello.marshal()))  # noqa: E731 (a fresh decoded copy each time)
    parser = JSON_CLIENT_MESSAGES[m.Hello.MESSAGE_TYPE]
    first = parser.parse(raw())
    remember_hello_roles(first)  # what the session does once it has joined
    second = parser.parse(raw())
    assert first.marshal() == second.marshal() == m.Hello.parse(raw()).marshal()
    assert second.roles is first.roles and compact_roles(second.roles) is compact_roles(first.roles)
    bad_authid = raw()
    bad_authid[2]["authid"] = 5
    with pytest.raises(ProtocolError, match="authid"):
        parser.parse(bad_authid)
    for _ in range(2):  # a bad role is refused every time (never remembered)
        bad_role = raw()
        bad_role[2]["roles"]["caller"]["features"]["progressive_call_results"] = 1
        with pytest.raises(ProtocolError, match="progressive_call_results"):
            parser.parse(bad_role)


def test_unfilled_bytearray_is_a_plain_bytearray_of_its_size():
    """The large-frame buffer made without zeroing (node.fastpath.buffers) is a bytearray
    like any other: writable through a view, resizable (the serializer empties it)."""
    from node.fastpath.buffers import unfilled_bytearray

    for size in (0, 1, 4096, 1 << 20):
        buffer = unfilled_bytearray(size)
        assert type(buffer) is bytearray and len(buffer) == size
        with memoryview(buffer) as view:
            view[:] = b"\x07" * size
        assert buffer == b"\x07" * size
        buffer.clear()
        assert len(buffer) == 0
