"""Exact, prefix and wildcard URI observation maps: plain data structures.

Subscriptions (broker) and registrations (dealer) are both *observations*: a URI
plus a match policy, observed by one or more sessions. This module stores them
and answers the two questions routing asks:

- which observations match a concrete URI (broker: every one gets the event);
- which single observation matches best (dealer: exact, then the longest
  prefix, then the wildcard with the most non-empty components).

Observers are opaque hashable keys (session IDs in practice) so the maps know
nothing about sessions or transports. Nothing here imports a reactor. Prefix and
wildcard observations are found through the indexes of :mod:`node.router.patterns`,
so a lookup costs time linear in the URI's length, whatever the number of patterns.
"""
from __future__ import annotations

from typing import Callable, Dict, Hashable, Iterator, List, Optional, Tuple

from node.router.patterns import PrefixTree, WildcardTree


class Observation:
    """One (uri, match) pair with its observers, in the order they joined.

    ``observers`` maps observer key -> per-observer data (e.g. the registration
    options of one callee); ``extra`` holds data shared by all observers (e.g.
    the invocation policy of a shared registration).
    """

    __slots__ = ("id", "uri", "match", "created", "observers", "extra", "hits")

    def __init__(self, id: int, uri: str, match: str, created: float, extra: object = None):
        self.id = id
        self.uri = uri
        self.match = match
        self.created = created
        self.observers: Dict[Hashable, object] = {}
        self.extra = extra
        self.hits = 0  # publications it matched, calls it served (what makes a URI busy)

    def __repr__(self) -> str:
        return f"Observation({self.id}, {self.uri!r}, {self.match}, {len(self.observers)} observers)"


class ObservationMap:
    """All observations of one kind (subscriptions or registrations) in one realm.

    ``new_id`` draws IDs for new observations and ``now`` stamps their creation
    time; both are injected so the structure stays deterministic in tests.
    """

    def __init__(self, new_id: Callable[[], int], now: Callable[[], float]) -> None:
        self._new_id = new_id
        self._now = now
        self._exact: Dict[str, Observation] = {}
        self._prefix: Dict[str, Observation] = {}
        self._wildcard: Dict[str, Observation] = {}
        self._prefix_tree: PrefixTree[Observation] = PrefixTree()
        self._wildcard_tree: WildcardTree[Observation] = WildcardTree()
        self._by_id: Dict[int, Observation] = {}

    def _table(self, match: str) -> Dict[str, Observation]:
        if match == "prefix":
            return self._prefix
        if match == "wildcard":
            return self._wildcard
        return self._exact

    # --- changes ----------------------------------------------------------

    def add_observer(
        self, observer: Hashable, uri: str, match: str = "exact", data: object = None, extra: object = None
    ) -> Tuple[Observation, bool, bool]:
        """Add ``observer`` to the observation for (uri, match), creating it if needed.

        Returns ``(observation, created, is_new_observer)``; an observer that already
        observes keeps its original data.
        """
        table = self._table(match)
        observation = table.get(uri)
        created = observation is None
        if observation is None:
            observation = Observation(self._new_id(), uri, match, self._now(), extra)
            table[uri] = observation
            self._by_id[observation.id] = observation
            if match == "prefix":
                self._prefix_tree.set(uri, observation)
            elif match == "wildcard":
                self._wildcard_tree.set(uri, observation)
        is_new = observer not in observation.observers
        if is_new:
            observation.observers[observer] = data
        return observation, created, is_new

    def drop_observer(self, observer: Hashable, observation: Observation) -> Tuple[bool, bool]:
        """Remove ``observer``; delete the observation when it has no observers left.

        Returns ``(was_observing, deleted)``.
        """
        if observer not in observation.observers:
            return False, False
        del observation.observers[observer]
        if observation.observers:
            return True, False
        self.delete(observation)
        return True, True

    def delete(self, observation: Observation) -> None:
        """Remove an observation with all its observers."""
        table = self._table(observation.match)
        if table.get(observation.uri) is observation:
            del table[observation.uri]
            if observation.match == "prefix":
                self._prefix_tree.remove(observation.uri)
            elif observation.match == "wildcard":
                self._wildcard_tree.remove(observation.uri)
        self._by_id.pop(observation.id, None)
        observation.observers.clear()

    # --- queries ----------------------------------------------------------

    def get(self, uri: str, match: str = "exact") -> Optional[Observation]:
        """The observation for exactly this (uri, match), if any."""
        return self._table(match).get(uri)

    def by_id(self, observation_id: int) -> Optional[Observation]:
        return self._by_id.get(observation_id)

    def __iter__(self) -> Iterator[Observation]:
        return iter(list(self._by_id.values()))

    def __len__(self) -> int:
        return len(self._by_id)

    def ids_by_match(self) -> Dict[str, List[int]]:
        """Observation IDs grouped by match policy (the shape of ``wamp.*.list``)."""
        return {
            "exact": [o.id for o in self._exact.values()],
            "prefix": [o.id for o in self._prefix.values()],
            "wildcard": [o.id for o in self._wildcard.values()],
        }

    def matching(self, uri: str) -> List[Observation]:
        """Every observation matching ``uri``: exact, then prefixes (longest first),
        then wildcards (most specific first)."""
        found: List[Observation] = []
        exact = self._exact.get(uri)
        if exact is not None:
            found.append(exact)
        if self._prefix:
            found.extend(self._prefix_tree.matches(uri))
        if self._wildcard:
            found.extend(self._wildcard_tree.matches(uri))
        return found

    def best_match(self, uri: str) -> Optional[Observation]:
        """The single most specific observation matching ``uri`` (dealer semantics)."""
        exact = self._exact.get(uri)
        if exact is not None:
            return exact
        if self._prefix:
            prefixes = self._prefix_tree.matches(uri)
            if prefixes:
                return prefixes[0]
        if self._wildcard:
            return self._wildcard_tree.best(uri)
        return None
