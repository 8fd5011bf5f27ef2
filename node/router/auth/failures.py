"""Failed logins: one log line each, and late answers for an address that fails often.

Every failed authentication is logged at ``warn`` in one fixed shape that log
watchers (fail2ban and the like) can match, with the peer address first so that
nothing a client sends can stand where the address is expected::

    authentication failed: peer=203.0.113.7 method=ticket realm='realm1' authid='carl' reason=wamp.error.not_authorized

``realm`` and ``authid`` are what the HELLO said, as Python literals (quotes,
control characters escaped, cut at 100 characters), ``-`` when absent.

:class:`FailureTracker` counts failures per peer address (the port left out). Past
``free`` failures, *every* authentication answer to that address, success or not,
is sent late: ``delay`` seconds, doubling with each further failure, at most
``max_delay``. Delaying successes too is what makes the delay work: a client that
only had to wait for failures could give up on a guess as soon as no quick answer
came. The wait is a timer on the router's clock (the reactor is never blocked),
and the table holds at most ``max_addresses`` addresses, the one whose last
failure is oldest forgotten first; an address is forgotten ``window`` seconds
after its last failure.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Tuple

from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from node.config.model import AuthFailureOptions

log = Logger()

LOG_FORMAT = ("authentication failed: peer={peer} method={method} realm={realm_text} authid={authid_text} "
              "reason={reason}")
_SHOWN = 100  # characters of a client-chosen realm or authid put in the log line


def peer_address(peer: object) -> str:
    """The address part of autobahn's peer string: ``tcp4:203.0.113.7:5123`` -> ``203.0.113.7``,
    ``tcp6:::1:5123`` -> ``::1``; other transports (``unix``, ...) by their kind alone."""
    text = peer if isinstance(peer, str) and peer else "unknown"
    kind, _, rest = text.partition(":")
    if kind in ("tcp4", "tcp6") and rest:
        host = rest.rsplit(":", 1)[0]
        return host.strip("[]") or kind
    return kind


def _shown(value: object) -> str:
    """A client-chosen string for the log line: a Python literal, so nothing in it can
    break the line or pass for another field."""
    if not isinstance(value, str):
        return "-"
    return repr(value[:_SHOWN])


def log_failure(peer: str, method: str, realm: object, authid: object, reason: str) -> None:
    """One ``warn`` line per failed authentication (the format is documented in the README)."""
    log.warn(LOG_FORMAT, peer=peer, method=method, realm=realm[:_SHOWN] if isinstance(realm, str) else None,
             authid=authid[:_SHOWN] if isinstance(authid, str) else None, realm_text=_shown(realm),
             authid_text=_shown(authid), reason=reason)


class FailureTracker:
    """Failures per peer address, and how late the next answer to an address is sent."""

    def __init__(self, options: AuthFailureOptions, clock: IReactorTime) -> None:
        self.options = options
        self._clock = clock
        # address -> (failures, time of the last one); oldest last failure first
        self._table: "OrderedDict[str, Tuple[int, float]]" = OrderedDict()

    def _failures(self, address: str) -> int:
        entry = self._table.get(address)
        if entry is None:
            return 0
        count, last = entry
        if self._clock.seconds() - last >= self.options.window:
            del self._table[address]
            return 0
        return count

    def delay(self, address: str) -> float:
        """Seconds to hold the next authentication answer to ``address`` (0: send it now)."""
        options = self.options
        over = self._failures(address) - options.free
        if over < 0 or options.delay <= 0:
            return 0.0
        return min(options.delay * 2.0 ** min(over, 64), options.max_delay)

    def failed(self, address: str) -> None:
        """Count one failure of ``address``."""
        count = self._failures(address) + 1
        self._table[address] = (count, self._clock.seconds())
        self._table.move_to_end(address)
        while len(self._table) > self.options.max_addresses:
            self._table.popitem(last=False)

    def __len__(self) -> int:
        return len(self._table)

