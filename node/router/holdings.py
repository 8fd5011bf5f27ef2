"""What each session holds in one observation map, and the meta events its changes cause.

Subscriptions (broker) and registrations (dealer) are kept the same way: an
:class:`~node.router.matching.ObservationMap` of who observes what, an index of
the observations each session holds (for the per-session limits and for dropping
all of them when the session goes), and the ``wamp.subscription.on_*`` /
``wamp.registration.on_*`` meta events each change causes (none for ``wamp.*``
URIs, the router's own). A plain data structure: no reactor, nothing sent.
"""
from __future__ import annotations

from typing import Callable, Dict, Set, Tuple

from node.router.matching import Observation, ObservationMap
from node.router.outcome import Outcome

# kind -> its meta topics: on_create, on_(un)subscribe/on_(un)register, on_delete
_META: Dict[str, Tuple[str, str, str, str]] = {
    "subscription": ("wamp.subscription.on_create", "wamp.subscription.on_subscribe",
                     "wamp.subscription.on_unsubscribe", "wamp.subscription.on_delete"),
    "registration": ("wamp.registration.on_create", "wamp.registration.on_register",
                     "wamp.registration.on_unregister", "wamp.registration.on_delete"),
}


class Holdings:
    """The observations of ``observations`` each session holds; ``kind`` is
    ``"subscription"`` or ``"registration"`` and names the meta events."""

    def __init__(self, observations: ObservationMap, kind: str) -> None:
        self.observations = observations
        self._on_create, self._on_add, self._on_drop, self._on_delete = _META[kind]
        self._by_session: Dict[int, Set[int]] = {}

    def count(self, session_id: int) -> int:
        """How many observations ``session_id`` holds."""
        return len(self._by_session.get(session_id, ()))

    def add(self, session_id: int, uri: str, match: str, describe: Callable[[Observation], dict],
            extra: object = None) -> Tuple[Observation, Outcome]:
        """``session_id`` observes (uri, match) (created with ``extra`` if new); the
        observation and the meta events (``describe`` gives on_create's details)."""
        obs, created, _ = self.observations.add_observer(session_id, uri, match, extra=extra)
        self._by_session.setdefault(session_id, set()).add(obs.id)
        out = Outcome()
        if not obs.uri.startswith("wamp."):
            if created:
                out.meta(self._on_create, session_id, describe(obs))
            out.meta(self._on_add, session_id, obs.id)
        return obs, out

    def drop(self, session_id: int, obs: Observation) -> Outcome:
        """``session_id`` no longer observes ``obs`` (deleted when it was the last)."""
        out = Outcome()
        _, deleted = self.observations.drop_observer(session_id, obs)
        self._by_session.get(session_id, set()).discard(obs.id)
        if not obs.uri.startswith("wamp."):
            out.meta(self._on_drop, session_id, obs.id)
            if deleted:
                out.meta(self._on_delete, session_id, obs.id)
        return out

    def detach(self, session_id: int) -> Outcome:
        """Drop every observation of a session that has gone, in id order."""
        out = Outcome()
        for obs_id in sorted(self._by_session.pop(session_id, set())):
            obs = self.observations.by_id(obs_id)
            if obs is not None:
                out.extend(self.drop(session_id, obs))
        return out
