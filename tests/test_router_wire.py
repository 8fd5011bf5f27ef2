"""The router's parse table on top of autobahn's message classes (node/wire/messages.py)."""
from __future__ import annotations

import cbor2
import msgpack
import pytest
from autobahn.wamp import message as m
from autobahn.wamp.exception import ProtocolError
from twisted.internet.task import Clock

from node.router import Router
from node.wire.messages import InvalidUriRequest, ProgressiveCall, ProgressiveInvocation, parse
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


def test_session_answers_invalid_uri_marker_with_error():
    """A session receiving InvalidUriRequest answers ERROR invalid_uri and stays joined."""
    r = Router((realm(),), Clock())
    c = joined(r)
    c.session.onMessage(parse([64, 5, {}, "com.bad uri"]))
    error = c.last()
    assert isinstance(error, m.Error) and error.error == "wamp.error.invalid_uri" and error.request == 5
    assert r.session_count() == 1
