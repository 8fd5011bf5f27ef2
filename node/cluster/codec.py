"""Bytes on the backplane: batches of frames, WAMP messages and peers inside them.

A NATS message carries a list of *frames* (plain lists whose first element names
the kind, see :mod:`node.cluster.member`), packed with msgpack, which keeps
binary payloads as they are. Values msgpack cannot pack (a CBOR client may send
tags such as dates) fall back to CBOR; the first byte says which. WAMP messages
travel as autobahn's ``marshal()`` lists and are parsed back with the router's
own parse table (:mod:`node.wire.messages`), never by a parser of our own.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import cbor2
import msgpack
from autobahn.wamp.message import Message

from node.wire import messages as wire
from node.router.peer import Peer

MSGPACK = b"m"
CBOR = b"c"


class FrameError(Exception):
    """A backplane message that cannot be decoded (another program on the subjects?)."""


def encode(frames: List[list]) -> bytes:
    try:
        return MSGPACK + msgpack.packb(frames, use_bin_type=True)
    except (TypeError, ValueError, OverflowError):
        return CBOR + cbor2.dumps(frames)


def decode(data: bytes) -> List[list]:
    try:
        if data[:1] == MSGPACK:
            frames = msgpack.unpackb(data[1:], raw=False, strict_map_key=False)
        elif data[:1] == CBOR:
            frames = cbor2.loads(data[1:])
        else:
            raise FrameError(f"unknown encoding {data[:1]!r}")
    except FrameError:
        raise
    except Exception as e:
        raise FrameError(f"undecodable backplane message: {type(e).__name__} {e}")
    if not isinstance(frames, list) or not all(isinstance(f, list) and f and isinstance(f[0], str)
                                               for f in frames):
        raise FrameError("a backplane message must be a list of frames")
    return frames


def message_to_wire(message: Message) -> list:
    return message.marshal()


def message_from_wire(raw: list) -> Any:
    """The autobahn message object, parsed with the router's message classes.

    The client's message was checked and cleaned when it entered the router, so
    :func:`node.wire.messages.parse`'s scrubbing of client quirks is skipped here.
    """
    parser = wire.ROUTER_MESSAGE_TYPES.get(raw[0]) if isinstance(raw, list) and raw else None
    if parser is None:
        raise FrameError(f"not a WAMP message: {str(raw)[:80]}")
    return parser.klass.parse(raw)


def _features(role: object) -> Dict[str, object]:
    """HELLO role features as a plain dict (autobahn gives objects, or dicts)."""
    features = getattr(role, "__dict__", role)
    if isinstance(features, dict) and isinstance(features.get("features"), dict):
        features = features["features"]
    if not isinstance(features, dict):
        return {}
    return {k: v for k, v in features.items() if isinstance(k, str) and isinstance(v, (bool, int, str))}


def peer_to_wire(peer: Peer) -> dict:
    """Everything routing and the meta API need about a session on another process."""
    return {
        "session": peer.session_id, "realm": peer.realm, "authid": peer.authid, "authrole": peer.authrole,
        "authmethod": peer.authmethod, "authprovider": peer.authprovider, "authextra": peer.authextra,
        "roles": {name: _features(role) for name, role in (peer.roles or {}).items()},
        "transport": peer.transport,
    }


def peer_from_wire(data: dict) -> Optional[Peer]:
    """A :class:`Peer` from :func:`peer_to_wire`; None if the data is unusable."""
    try:
        session_id = data["session"]
        if type(session_id) is not int:
            return None
        return Peer(session_id=session_id, realm=str(data["realm"]), authid=str(data["authid"]),
                    authrole=str(data["authrole"]), authmethod=str(data.get("authmethod") or "anonymous"),
                    authprovider=str(data.get("authprovider") or "static"),
                    authextra=data.get("authextra") if isinstance(data.get("authextra"), dict) else None,
                    roles=dict(data.get("roles") or {}),
                    transport=data.get("transport") if isinstance(data.get("transport"), dict) else {})
    except (KeyError, TypeError):
        return None
