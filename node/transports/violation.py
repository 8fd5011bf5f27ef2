"""What happens when a peer's bytes cannot be decoded into a WAMP message.

Any exception while decoding a peer's bytes is that peer's protocol error: the
peer gets ABORT ``wamp.error.protocol_violation`` naming the fault, and its
connection is closed. It is logged as a warning naming the peer, never as a
traceback, and no other session notices.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from twisted.logger import Logger

log = Logger()

PROTOCOL_VIOLATION = "wamp.error.protocol_violation"


def describe(error: BaseException) -> str:
    text = str(error) or error.__class__.__name__
    return text if len(text) <= 200 else text[:197] + "..."


def abort_message(reason: str) -> Any:
    from autobahn.wamp.message import Abort

    return Abort(PROTOCOL_VIOLATION, message=reason)


def report(peer: str, reason: str) -> None:
    log.warn("Closing {peer}: WAMP protocol violation: {reason}", peer=peer, reason=reason)


def dispatch(protocol: Any, decode: Callable[[], Iterable[Any]]) -> None:
    """Decode one transport message and hand each WAMP message to the session.

    ``protocol`` has ``_session``, ``_violated`` and ``protocol_violation(reason)``;
    a decoding failure is the peer's protocol violation, and delivery stops as soon
    as the session is gone (a message may end it).
    """
    if protocol._violated or protocol._session is None:
        return
    try:
        messages = decode()
    except Exception as e:  # any decoding fault is the peer's protocol error
        protocol.protocol_violation(describe(e))
        return
    for message in messages:
        session = protocol._session
        if session is None:
            return
        session.onMessage(message)
