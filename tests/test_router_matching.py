"""Exact, prefix and wildcard observation maps (node/router/matching.py)."""
from __future__ import annotations

import itertools

from node.router.matching import ObservationMap


def make_map():
    ids = itertools.count(1)
    return ObservationMap(lambda: next(ids), lambda: 0.0)


def test_matching_returns_exact_prefix_and_wildcard_hits():
    """A URI matches its exact observation, every prefix of it and every fitting wildcard."""
    obs = make_map()
    exact, _, _ = obs.add_observer(1, "a.b.c")
    prefix, _, _ = obs.add_observer(1, "a.b", "prefix")
    short, _, _ = obs.add_observer(1, "a", "prefix")
    wild, _, _ = obs.add_observer(1, "a..c", "wildcard")
    obs.add_observer(1, "x..c", "wildcard")
    obs.add_observer(1, "a.b.c.d")
    assert obs.matching("a.b.c") == [exact, prefix, short, wild]


def test_best_match_prefers_exact_then_longest_prefix_then_wildcard():
    """The dealer's single match is exact, else the longest prefix, else the most specific wildcard."""
    obs = make_map()
    w1, _, _ = obs.add_observer(1, "a..c", "wildcard")
    w2, _, _ = obs.add_observer(1, "a.b.", "wildcard")
    assert obs.best_match("a.b.c") is w2
    p1, _, _ = obs.add_observer(1, "a.", "prefix")
    p2, _, _ = obs.add_observer(1, "a.b", "prefix")
    assert obs.best_match("a.b.c") is p2
    e, _, _ = obs.add_observer(1, "a.b.c")
    assert obs.best_match("a.b.c") is e
    assert obs.best_match("z") is None


def test_wildcard_needs_same_component_count():
    """A wildcard pattern never matches a URI with a different number of components."""
    obs = make_map()
    obs.add_observer(1, "a.", "wildcard")
    assert obs.matching("a.b.c") == []
    assert len(obs.matching("a.b")) == 1


def test_last_observer_leaving_deletes_observation():
    """Dropping the last observer deletes the observation and frees its id."""
    obs = make_map()
    o, created, new = obs.add_observer(1, "t")
    assert created and new
    same, created2, new2 = obs.add_observer(2, "t")
    assert same is o and not created2 and new2
    assert obs.drop_observer(1, o) == (True, False)
    assert obs.drop_observer(2, o) == (True, True)
    assert obs.by_id(o.id) is None and obs.get("t") is None and len(obs) == 0
    assert obs.drop_observer(2, o) == (False, False)


def test_empty_prefix_matches_everything():
    """The empty prefix observation matches any URI."""
    obs = make_map()
    o, _, _ = obs.add_observer(1, "", "prefix")
    assert obs.matching("com.example") == [o]
