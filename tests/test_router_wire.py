"""The router's parse tables on top of autobahn's message classes (node/wire/parsing.py,
messages.py) and the client quirks they tolerate (node/wire/tolerance.py)."""
from __future__ import annotations

import copy

import cbor2
import msgpack
import pytest
from autobahn.wamp import message as m
from autobahn.wamp.exception import ProtocolError
from twisted.internet.task import Clock

from node.router import Router
from node.wire.messages import InvalidUriRequest, ProgressiveCall, ProgressiveInvocation
from node.wire.parsing import parse
from node.wire.tolerance import scrub_absent, scrub_message
from router_fakes import joined, realm


def test_progress_option_survives_call_and_invocation():
    """CALL.Options.progress and INVOCATION.Details.progress are parsed and marshalled."""
    call = parse([48, 1, {"progress": True, "receive_progress": True}, "p", [1]])
    assert isinstance(call, ProgressiveCall) and call.progress is True and call.receive_progress is True
    assert call.marshal()[2]["progress"] is True
    inv = ProgressiveInvocation(3, 4, args=[1], progress=True)
    assert inv.marshal()[3] == {"progress": True}
    assert parse(inv.marshal()).progress is True
    with pytest.raises(ProtocolError):
        parse([48, 1, {"progress": "yes"}, "p"])


def test_invalid_uri_becomes_request_error_marker():
    """An invalid URI in a request parses into InvalidUriRequest carrying type and request id."""
    bad = parse([16, 9, {}, "com.bad uri"])
    assert isinstance(bad, InvalidUriRequest) and (bad.request_type, bad.request) == (16, 9)
    with pytest.raises(ProtocolError):
        parse([6, {}, "not a uri!"])  # GOODBYE reason: no request to answer


@pytest.mark.parametrize("raw", [
    [], ["x"], [999], [1], [32, 1, {}], [16, "x", {}, "t"], [48, 1, [], "p"], [16, 1, {}, "t", 5],
    [32, 1, {"match": "fuzzy"}, "t"], [32, 1, {"forward_for": [1]}, "t"], "notalist",
])
def test_malformed_messages_raise_protocol_error(raw):
    """Any malformed message raises ProtocolError (never AssertionError or another type)."""
    with pytest.raises(ProtocolError):
        parse(raw)


def test_msgpack_ext0_and_cbor_undefined_mean_absent():
    """msgpack ext type 0 and CBOR undefined (wampy.js) are read as absent values."""
    pub = parse([16, 1, {"acknowledge": msgpack.ExtType(0, b"")}, "t", msgpack.ExtType(0, b"")])
    assert pub.acknowledge is None and pub.args is None
    pub = parse([16, 1, {}, "t", cbor2.undefined, {"k": 1}])
    assert pub.args == [] and pub.kwargs == {"k": 1}
    assert parse([32, 1, {"match": cbor2.undefined}, "t"]).match == "exact"


def test_scrubbing_copies_only_what_holds_absent_values():
    """What holds no absent value is kept as the codec made it (not copied); what does is
    copied with them replaced, and the decoded message itself is never changed."""
    args, kwargs = [1, {"a": [2, 3]}, "x"], {"k": [1, None]}
    raw = [48, 1, {}, "p", args, kwargs]
    fixed = scrub_message(raw)
    assert fixed == raw and fixed is not raw and fixed[4] is args and fixed[5] is kwargs
    nested = [1, {"a": [2, msgpack.ExtType(0, b"")], "b": cbor2.undefined, "c": [3]}, cbor2.undefined]
    scrubbed = scrub_absent(nested)
    assert scrubbed == [1, {"a": [2, None], "c": [3]}, None]
    assert scrubbed[1]["c"] is nested[1]["c"]
    assert nested[1]["a"][1] == msgpack.ExtType(0, b"") and nested[2] is cbor2.undefined


def test_session_answers_invalid_uri_marker_with_error():
    """A session receiving InvalidUriRequest answers ERROR invalid_uri and stays joined."""
    r = Router((realm(),), Clock())
    c = joined(r)
    c.session.onMessage(parse([64, 5, {}, "com.bad uri"]))
    error = c.last()
    assert isinstance(error, m.Error) and error.error == "wamp.error.invalid_uri" and error.request == 5
    assert r.session_count() == 1


BIG = 752174776083218  # above 2^32: cbor-x (wampy.js 8) sends such an ID as a float64


@pytest.mark.parametrize("raw, fields", [
    ([34, 2.0, float(BIG)], {"request": 2, "subscription": BIG}),  # UNSUBSCRIBE
    ([66, 3.0, float(BIG)], {"request": 3, "registration": BIG}),  # UNREGISTER
    ([48, float(BIG), {}, "com.p", [1.5]], {"request": BIG, "args": [1.5]}),  # CALL: args untouched
    ([70, 4.0, {}, [2.0]], {"request": 4, "args": [2.0]}),  # YIELD
    ([8, 68, float(2**53), {}, "com.error"], {"request": 2**53, "request_type": 68}),  # ERROR
    ([49, 5.0, {}], {"request": 5}),  # CANCEL
    ([32, 0.0, {}, "com.t"], {"request": 0}),  # SUBSCRIBE
    ([16, 6.0, {"exclude": [float(BIG), 7], "eligible": [8.0]}, "com.t"],
     {"request": 6, "exclude": [BIG, 7], "eligible": [8]}),  # PUBLISH and its session lists
])
@pytest.mark.parametrize("table", ["client", "json"])
def test_integral_float_ids_are_read_as_integers(raw, fields, table):
    """An integral float in [0, 2^53] where WAMP expects an ID or a request ID is that integer."""
    from node.wire.parsing import CLIENT_MESSAGES, JSON_CLIENT_MESSAGES

    original = copy.deepcopy(raw)
    msg = parse(raw, CLIENT_MESSAGES if table == "client" else JSON_CLIENT_MESSAGES)
    for name, value in fields.items():
        assert getattr(msg, name) == value and type(getattr(msg, name)) is type(value), name
    assert raw == original and all(type(a) is type(b) for a, b in zip(raw, original))  # the input is not changed


@pytest.mark.parametrize("bad", [1.5, -1.0, float(2**53 + 2), float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize("make", [
    lambda bad: [34, bad, 1], lambda bad: [34, 1, bad], lambda bad: [66, 1, bad], lambda bad: [48, bad, {}, "p"],
    lambda bad: [70, bad, {}], lambda bad: [16, 1, {"exclude": [bad]}, "t"], lambda bad: [16, 1, {"eligible": [bad]}, "t"],
], ids=["unsubscribe-request", "unsubscribe-subscription", "unregister", "call", "yield", "exclude", "eligible"])
def test_other_float_ids_stay_protocol_errors(make, bad):
    """A float ID with a fraction, negative, above 2^53, infinite or NaN is still a protocol error."""
    with pytest.raises(ProtocolError, match="float"):
        parse(make(bad))


def test_floats_elsewhere_stay_floats():
    """Only ID positions are converted: an integral float in a message type's other fields stays a float."""
    with pytest.raises(ProtocolError):
        parse([8, 68.0, 1, {}, "com.error"])  # ERROR's request type is a message type, not an ID
    event_args = parse([16, 1, {"acknowledge": True}, "t", [3.0], {"n": 4.0}])
    assert type(event_args.args[0]) is float and type(event_args.kwargs["n"]) is float
