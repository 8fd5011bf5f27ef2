"""Bytes on the backplane: batches of frames, WAMP messages and peers inside them.

A NATS message carries a list of *frames* (plain lists whose first element names
the kind, see :mod:`node.cluster.member`), packed with msgpack, which keeps
binary payloads as they are. Values msgpack cannot pack (a CBOR client may send
tags such as dates) fall back to CBOR; the first byte says which.

What comes from the wire package: WAMP messages travel as autobahn's ``marshal()``
lists and are parsed back by :func:`node.wire.parsing.parse` with its backplane table
(the router's message classes, no client tolerance: they were fixed up when they
entered the router), and a peer's roles travel in their compact form
(:func:`node.wire.roles.compact_roles`).

Why the bytes are not the wire package's serializers: those are autobahn's, one
format per client connection, chosen by the client, and they parse everything they
decode as WAMP messages. A backplane message is a list of frames, not a WAMP message,
and it must carry whatever any client's format produced in one self-describing
encoding: msgpack, or CBOR for what msgpack cannot hold, marked by the first byte.
"""
from __future__ import annotations

from typing import Any, List, Optional

import cbor2
import msgpack
from autobahn.wamp.exception import ProtocolError
from autobahn.wamp.message import Message

from node.router.peer import Peer
from node.wire.parsing import BACKPLANE_MESSAGES, parse
from node.wire.roles import compact_roles

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
    """The autobahn message object, parsed with the router's message classes."""
    try:
        return parse(raw, BACKPLANE_MESSAGES)
    except ProtocolError as e:
        raise FrameError(f"not a WAMP message ({e}): {str(raw)[:80]}")


def peer_to_wire(peer: Peer) -> dict:
    """Everything routing and the meta API need about a session on another process."""
    return {
        "session": peer.session_id, "realm": peer.realm, "authid": peer.authid, "authrole": peer.authrole,
        "authmethod": peer.authmethod, "authprovider": peer.authprovider, "authextra": peer.authextra,
        "roles": {name: {k: v for k, v in features.items() if isinstance(v, (bool, int, str))}
                  for name, features in compact_roles(peer.roles).items()},
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
