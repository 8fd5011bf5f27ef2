"""The broker: subscriptions and publications of one realm, as plain decisions.

Each method takes a parsed autobahn message and the :class:`~node.router.peer.Peer`
that sent it (already authorized by the realm) and returns an
:class:`~node.router.outcome.Outcome`: SUBSCRIBED/EVENT/ERROR messages addressed
by session ID, plus the meta events the change causes. Nothing is sent here.

Who receives an event: the subscribers the publication's exclude/eligible lists
and ``exclude_me`` admit and, for a prefix or wildcard subscription, whose role
may subscribe to the concrete topic (the realm's role ``permits``: the subscription
was authorized against its pattern, which may match topics the role may not
have). The same admission applies to retained events sent on subscribe and to
the stored events ``wamp.subscription.get_events`` returns. Checks run in the
process where the subscriber is connected: a publication from another process
is routed by this broker like a local one.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

from autobahn.wamp.message import Error, Event, Publish, Published, Subscribe, Subscribed, Unsubscribe, Unsubscribed

from node.config.model import EventHistory, RealmLimits
from node.router.ids import iso_utc, random_id
from node.router.counters import RealmCounts
from node.router.holdings import Holdings
from node.router.matching import Observation, ObservationMap
from node.router.outcome import LIMIT_EXCEEDED, Outcome, reply
from node.router.patterns import wildcard_matches
from node.router.peer import Peer
from node.router.retained import RetainedEvents, held_size
from node.wire.lazy import carry_arguments, unread_arguments

NO_SUCH_SUBSCRIPTION = "wamp.error.no_such_subscription"

# (authrole, concrete URI, action) -> may a session of that role be routed it through a pattern
Permits = Callable[[str, str, str], bool]


@dataclass
class Publication:
    """What a PUBLISH carried, kept for retained events and event history."""

    id: int
    topic: str
    args: Optional[list]
    kwargs: Optional[dict]
    payload: Optional[bytes]
    enc_algo: Optional[str]
    enc_key: Optional[str]
    enc_serializer: Optional[str]
    publisher: Optional[Peer]  # None: the router itself
    disclose: bool
    timestamp: float
    exclude: Tuple[int, ...] = ()
    exclude_authid: Tuple[str, ...] = ()
    exclude_authrole: Tuple[str, ...] = ()
    eligible: Optional[Tuple[int, ...]] = None
    eligible_authid: Optional[Tuple[str, ...]] = None
    eligible_authrole: Optional[Tuple[str, ...]] = None
    exclude_me: bool = True  # the publisher (if a session) does not receive it

    def reaches(self, peer: Peer) -> bool:
        """True if live delivery would send this publication to ``peer`` (were it
        subscribed): ``exclude_me`` and the black/white listing, as at publish time."""
        if self.exclude_me and self.publisher is not None and peer.session_id == self.publisher.session_id:
            return False
        return self.admits(peer)

    def listed(self) -> bool:
        """True if the PUBLISH named any black/white list (else :meth:`admits` is always True)."""
        return bool(self.exclude or self.exclude_authid or self.exclude_authrole) or \
            self.eligible is not None or self.eligible_authid is not None or self.eligible_authrole is not None

    def admits(self, peer: Peer) -> bool:
        """True if the black/white listing of the PUBLISH lets ``peer`` receive it."""
        if peer.session_id in self.exclude or peer.authid in self.exclude_authid:
            return False
        if peer.authrole in self.exclude_authrole:
            return False
        if self.eligible is not None and peer.session_id not in self.eligible:
            return False
        if self.eligible_authid is not None and peer.authid not in self.eligible_authid:
            return False
        if self.eligible_authrole is not None and peer.authrole not in self.eligible_authrole:
            return False
        return True


@dataclass
class HistoryStore:
    """The last ``limit`` events of topics matching one ``event_history`` entry, each
    with its publication (whose listing decides who may read it)."""

    config: EventHistory
    events: Deque[Tuple[dict, Publication]] = field(default_factory=deque)

    def matches(self, topic: str) -> bool:
        return uri_matches(self.config.uri, self.config.match, topic)


def uri_matches(pattern: str, match: str, uri: str) -> bool:
    """True if a subscription (pattern, match) receives events published to ``uri``."""
    if match == "prefix":
        return uri.startswith(pattern)
    if match == "wildcard":
        return wildcard_matches(tuple(pattern.split(".")), uri.split("."))
    return pattern == uri


def _tuple(value: object) -> Optional[tuple]:
    return tuple(value) if value is not None else None  # type: ignore[arg-type]


class Broker:
    """Subscriptions, retained events and event history of one realm.

    ``peers`` is the realm's live table session ID -> :class:`Peer`; the broker
    reads it to apply ``exclude_authid`` and friends and never changes it.
    ``limits`` bounds the subscriptions per session and the retained events.
    ``permits(authrole, topic, "subscribe")`` decides whether an event of a concrete
    topic may reach a session of that role through a prefix or wildcard subscription.
    """

    def __init__(
        self,
        peers: Mapping[int, Peer],
        event_history: Tuple[EventHistory, ...] = (),
        now: Callable[[], float] = time.time,
        new_id: Callable[[], int] = random_id,
        limits: RealmLimits = RealmLimits(),
        realm: str = "",
        permits: Optional[Permits] = None,
        counts: Optional[RealmCounts] = None,
    ) -> None:
        self._peers = peers
        self.counts = counts if counts is not None else RealmCounts()
        self._permits = permits  # None: every subscriber may receive every topic (a realm without roles)
        self._now = now
        self._new_id = new_id
        self._max_subscriptions = limits.max_subscriptions_per_session
        self.subscriptions = ObservationMap(new_id, now)
        self._held = Holdings(self.subscriptions, "subscription")
        self._retained: RetainedEvents[Publication] = RetainedEvents(
            limits.max_retained_events, limits.max_retained_bytes, realm)
        self._history = [HistoryStore(h, deque(maxlen=max(0, h.limit))) for h in event_history]

    # --- subscribe / unsubscribe ------------------------------------------

    def subscribe(self, peer: Peer, msg: Subscribe) -> Outcome:
        if self._max_subscriptions and self._at_limit(peer.session_id, msg.topic, msg.match or "exact"):
            return reply(peer.session_id, Error(
                Subscribe.MESSAGE_TYPE, msg.request, LIMIT_EXCEEDED,
                args=[f"session {peer.session_id} already holds {self._max_subscriptions} subscriptions, the "
                      f"most a session may hold on this realm (realm option max_subscriptions_per_session)"]))
        sub, out = self._held.add(peer.session_id, msg.topic, msg.match or "exact", self.describe)
        out.send(peer.session_id, Subscribed(msg.request, sub.id))
        if msg.get_retained:
            checked = self._permits is not None and sub.match != "exact"
            for publication in self._retained:
                if uri_matches(sub.uri, sub.match, publication.topic) and publication.admits(peer) and \
                        (not checked or self._permits(peer.authrole, publication.topic, "subscribe")):
                    out.send(peer.session_id, self._event(sub, publication, retained=True))
        return out

    def unsubscribe(self, peer: Peer, msg: Unsubscribe) -> Outcome:
        sub = self.subscriptions.by_id(msg.subscription)
        if sub is None or peer.session_id not in sub.observers:
            return reply(
                peer.session_id,
                Error(Unsubscribe.MESSAGE_TYPE, msg.request, NO_SUCH_SUBSCRIPTION,
                      args=[f"no subscription {msg.subscription} for session {peer.session_id}"]),
            )
        out = reply(peer.session_id, Unsubscribed(msg.request))
        return out.extend(self._held.drop(peer.session_id, sub))

    def _at_limit(self, session_id: int, topic: str, match: str) -> bool:
        """True if a new subscription would take the session past its limit
        (subscribing again to what it already holds takes nothing)."""
        if self._held.count(session_id) < self._max_subscriptions:
            return False
        existing = self.subscriptions.get(topic, match)
        return existing is None or session_id not in existing.observers

    def detach(self, session_id: int) -> Outcome:
        """Forget every subscription of a session that has gone."""
        return self._held.detach(session_id)

    # --- publish ----------------------------------------------------------

    def publish(self, peer: Optional[Peer], msg: Publish, disclose: bool = False,
                publication_id: Optional[int] = None) -> Outcome:
        """Route a PUBLISH from ``peer`` (None: the router) to every matching subscriber;
        ``publication_id`` is given when the publication came from another process."""
        # a large message's arguments stay undecoded (node.wire.lazy) unless the publication
        # is kept: a retained event or the event history hands them out later, decoded
        histories = [store for store in self._history if store.matches(msg.topic)] if self._history else ()
        kept = msg.retain or histories
        args, kwargs = (msg.args, msg.kwargs) if kept else unread_arguments(msg)
        publication = Publication(
            id=publication_id if publication_id is not None else self._new_id(),
            topic=msg.topic,
            args=args,
            kwargs=kwargs,
            payload=msg.payload,
            enc_algo=msg.enc_algo,
            enc_key=msg.enc_key,
            enc_serializer=msg.enc_serializer,
            publisher=peer,
            disclose=disclose and peer is not None,
            timestamp=self._now(),
            exclude=tuple(msg.exclude or ()),
            exclude_authid=tuple(msg.exclude_authid or ()),
            exclude_authrole=tuple(msg.exclude_authrole or ()),
            eligible=_tuple(msg.eligible),
            eligible_authid=_tuple(msg.eligible_authid),
            eligible_authrole=_tuple(msg.eligible_authrole),
            exclude_me=msg.exclude_me is None or bool(msg.exclude_me),
        )
        # the publisher's own session ID, when it must not receive its publication
        skipped = peer.session_id if publication.exclude_me and peer is not None else None
        listed = publication.listed()
        permits = self._permits
        verdicts: Dict[str, bool] = {}  # authrole -> may receive msg.topic
        out = Outcome()
        sends = out.sends
        peers = self._peers
        for sub in self.subscriptions.matching(msg.topic):
            event = None  # one EVENT per subscription, shared by its receivers: serialized once
            # an exact subscription was authorized for this very topic; a pattern only for its string
            checked = permits is not None and sub.match != "exact"
            for session_id in list(sub.observers):
                if session_id == skipped:
                    continue
                receiver = peers.get(session_id)
                if receiver is None or (listed and not publication.admits(receiver)):
                    continue
                if checked:
                    allowed = verdicts.get(receiver.authrole)  # subscribers mostly share few roles
                    if allowed is None:
                        allowed = verdicts[receiver.authrole] = permits(  # type: ignore[misc]
                            receiver.authrole, msg.topic, "subscribe")
                    if not allowed:
                        continue
                if event is None:
                    event = self._event(sub, publication)
                    carry_arguments(event, msg)
                sends.append((session_id, event))
            sub.hits += 1  # the busiest topics of the dashboard: a count on the object at hand
        self.counts.events += len(out.sends)
        if msg.retain:
            self._retained.retain(msg.topic, publication,
                                  held_size(msg.topic, msg.args, msg.kwargs, msg.payload))
        self._record_history(publication, histories)
        if msg.acknowledge and peer is not None:
            out.send(peer.session_id, Published(msg.request, publication.id))
        return out

    def wants(self, topic: str) -> bool:
        """True if a router publication to ``topic`` (no retain, no acknowledge) would
        reach anyone or be recorded: a subscription or an event history matches it."""
        return bool(self.subscriptions.matching(topic)) or any(store.matches(topic) for store in self._history)

    def _event(self, sub: Observation, publication: Publication, retained: bool = False) -> Event:
        publisher = publication.publisher if publication.disclose else None
        return Event(
            sub.id,
            publication.id,
            args=publication.args,
            kwargs=publication.kwargs,
            payload=publication.payload,
            enc_algo=publication.enc_algo,
            enc_key=publication.enc_key,
            enc_serializer=publication.enc_serializer,
            publisher=publisher.session_id if publisher else None,
            publisher_authid=publisher.authid if publisher else None,
            publisher_authrole=publisher.authrole if publisher else None,
            topic=publication.topic if sub.match != "exact" else None,
            retained=True if retained else None,
        )

    @staticmethod
    def _record_history(publication: Publication, stores: Sequence[HistoryStore]) -> None:
        """Keep ``publication`` in the event history ``stores`` its topic matches."""
        for store in stores:
            store.events.append(({
                "timestamp": publication.timestamp,
                "publication": publication.id,
                "topic": publication.topic,
                "args": publication.args,
                "kwargs": publication.kwargs,
            }, publication))

    # --- queries for the meta API -----------------------------------------

    def describe(self, sub: Observation) -> dict:
        """The subscription details of ``wamp.subscription.get`` and ``on_create``."""
        return {"id": sub.id, "created": iso_utc(sub.created), "uri": sub.uri, "match": sub.match}

    def history(self, sub: Observation, reader: Peer, limit: Optional[int] = None) -> Optional[List[dict]]:
        """Stored events for a subscription whose (uri, match) has ``event_history``,
        oldest first, at most the last ``limit``; None if no history is kept for it.

        Only the events live delivery would have sent ``reader``: its publication's
        ``exclude_me`` and exclude/eligible lists admit ``reader``, and its role may
        subscribe to the event's topic. The reader need not hold the subscription, so
        the topic is checked for exact histories too."""
        permits = self._permits
        for store in self._history:
            if store.config.uri == sub.uri and store.config.match == sub.match:
                events = [dict(record, subscription=sub.id) for record, publication in store.events
                          if publication.reaches(reader) and
                          (permits is None or permits(reader.authrole, publication.topic, "subscribe"))]
                return events[-limit:] if limit else events
        return None

    def retained_topics(self) -> List[str]:
        return sorted(self._retained.topics())

