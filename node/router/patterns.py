"""Prefix and wildcard URI indexes: the lookups behind matching and authorization.

Both answer "which stored patterns match this URI?" in time that grows with the
URI's length and the matches found, never with the number of stored patterns nor
with the square of the URI's length (slicing a URI at every length, as a lookup
of "every prefix" in a dict does, made a 300 kB URI cost 11 s of router CPU):

- :class:`PrefixTree` is a radix tree (a trie whose single-child chains are
  merged into one edge label). A lookup walks the URI once from its start,
  comparing one edge label at a time (``str.startswith``, in C), and stops at
  the first character no stored prefix continues with. Memory is one node per
  stored prefix (plus one per branching point), edge labels are parts of the keys.
- :class:`WildcardTree` is a trie of URI components in which an empty pattern
  component is the child ``""``. A lookup walks the URI's components, following
  at each level the child named like the component and the wildcard child; only
  the pattern prefixes that still match are ever visited.

Values are opaque; nothing here knows about sessions, rules or reactors.
"""
from __future__ import annotations

from operator import attrgetter
from typing import Dict, Generic, List, Optional, Sequence, Tuple, TypeVar

V = TypeVar("V")


def wildcard_matches(pattern: Sequence[str], components: Sequence[str]) -> bool:
    """True if every non-empty component of ``pattern`` equals that of ``components``
    (the reference semantics the :class:`WildcardTree` implements)."""
    if len(pattern) != len(components):
        return False
    for want, have in zip(pattern, components):
        if want and want != have:
            return False
    return True


def wildcard_rank(pattern: Sequence[str]) -> Tuple[int, Tuple[bool, ...]]:
    """Sort key for wildcard specificity: more non-empty components first, then
    earlier non-empty components first (``a.b.`` beats ``a..c`` beats ``.b.c``).

    Two different patterns that both match one URI never rank equal (equal ranks
    mean the same empty positions, and the other positions must equal the URI's),
    so ordering hits by rank alone is deterministic."""
    return (sum(1 for c in pattern if c), tuple(bool(c) for c in pattern))


# --- prefixes ----------------------------------------------------------------


class _PrefixNode:
    __slots__ = ("edges", "value", "filled")

    def __init__(self) -> None:
        self.edges: Dict[str, Tuple[str, _PrefixNode]] = {}  # first char -> (label, child)
        self.value: object = None
        self.filled = False  # a stored prefix ends here (its value may be None)


def _shared_length(label: str, key: str, pos: int) -> int:
    """Length of the common start of ``label`` and ``key[pos:]``, found by binary
    search over C-speed comparisons (a character loop in Python would be slower)."""
    low, high = 0, min(len(label), len(key) - pos)
    while low < high:
        middle = (low + high + 1) // 2
        if key.startswith(label[:middle], pos):
            low = middle
        else:
            high = middle - 1
    return low


class PrefixTree(Generic[V]):
    """String prefix -> value; :meth:`matches` lists the values of every stored
    prefix of a key, longest first (the empty prefix matches every key)."""

    def __init__(self) -> None:
        self._root = _PrefixNode()
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def set(self, key: str, value: V) -> None:
        """Store ``value`` for the prefix ``key`` (replacing an earlier value)."""
        node, pos = self._root, 0
        while pos < len(key):
            edge = node.edges.get(key[pos])
            if edge is None:
                leaf = _PrefixNode()
                node.edges[key[pos]] = (key[pos:], leaf)
                node = leaf
                break
            label, child = edge
            if key.startswith(label, pos):
                node, pos = child, pos + len(label)
                continue
            shared = _shared_length(label, key, pos)  # >= 1: the first character matched
            split = _PrefixNode()
            split.edges[label[shared]] = (label[shared:], child)
            node.edges[key[pos]] = (label[:shared], split)
            node, pos = split, pos + shared
        if not node.filled:
            self._size += 1
        node.value, node.filled = value, True

    def remove(self, key: str) -> None:
        """Forget the prefix ``key`` (nothing happens if it is not stored), keeping
        the tree compressed: no empty leaves, no valueless single-child nodes."""
        path: List[Tuple[_PrefixNode, str]] = []  # (parent, first character) of each edge walked
        node, pos = self._root, 0
        while pos < len(key):
            edge = node.edges.get(key[pos])
            if edge is None or not key.startswith(edge[0], pos):
                return
            path.append((node, key[pos]))
            node, pos = edge[1], pos + len(edge[0])
        if not node.filled:
            return
        node.value, node.filled = None, False
        self._size -= 1
        while path and not node.filled:
            parent, first = path.pop()
            label = parent.edges[first][0]
            if not node.edges:
                del parent.edges[first]
                node = parent
                continue
            if len(node.edges) == 1:
                ((below, grandchild),) = node.edges.values()
                parent.edges[first] = (label + below, grandchild)
            break

    def matches(self, key: str) -> List[V]:
        """Values of every stored prefix of ``key``, longest first."""
        node = self._root
        found = [node.value] if node.filled else []
        pos, end = 0, len(key)
        while pos < end:
            edge = node.edges.get(key[pos])
            if edge is None:
                break
            label, node = edge
            if not key.startswith(label, pos):
                break
            pos += len(label)
            if node.filled:
                found.append(node.value)
        found.reverse()
        return found  # type: ignore[return-value]


# --- wildcards ---------------------------------------------------------------


class _WildcardNode:
    __slots__ = ("children", "value", "rank", "filled")

    def __init__(self) -> None:
        self.children: Dict[str, _WildcardNode] = {}  # component ("" = any one component) -> node
        self.value: object = None
        self.rank: Tuple[int, Tuple[bool, ...]] = (0, ())
        self.filled = False


class WildcardTree(Generic[V]):
    """Wildcard pattern (``a..c``: empty components match any one component) ->
    value; :meth:`matches` lists the values of every pattern matching a URI, most
    specific first (:func:`wildcard_rank`)."""

    def __init__(self) -> None:
        self._root = _WildcardNode()
        self._lengths: Dict[int, int] = {}  # component count -> patterns of that count

    def __len__(self) -> int:
        return sum(self._lengths.values())

    def set(self, pattern: str, value: V) -> None:
        """Store ``value`` for ``pattern`` (replacing an earlier value)."""
        components = pattern.split(".")
        node = self._root
        for component in components:
            child = node.children.get(component)
            if child is None:
                child = node.children[component] = _WildcardNode()
            node = child
        if not node.filled:
            self._lengths[len(components)] = self._lengths.get(len(components), 0) + 1
        node.value, node.rank, node.filled = value, wildcard_rank(components), True

    def remove(self, pattern: str) -> None:
        """Forget ``pattern`` and the nodes only it used (nothing happens if it is not stored)."""
        components = pattern.split(".")
        path: List[Tuple[_WildcardNode, str]] = []
        node = self._root
        for component in components:
            child = node.children.get(component)
            if child is None:
                return
            path.append((node, component))
            node = child
        if not node.filled:
            return
        node.value, node.filled = None, False
        count = self._lengths[len(components)] - 1
        if count:
            self._lengths[len(components)] = count
        else:
            del self._lengths[len(components)]
        while path and not node.filled and not node.children:
            parent, component = path.pop()
            del parent.children[component]
            node = parent

    def matches(self, uri: str) -> List[V]:
        """Values of every pattern matching ``uri``, most specific first."""
        if not self._lengths or uri.count(".") + 1 not in self._lengths:
            return []
        level = [self._root]
        for component in uri.split("."):
            following = []
            for node in level:
                child = node.children.get(component)
                if child is not None:
                    following.append(child)
                if component:  # an empty URI component is matched by the wildcard child above
                    wild = node.children.get("")
                    if wild is not None:
                        following.append(wild)
            if not following:
                return []
            level = following
        hits = [node for node in level if node.filled]
        if len(hits) > 1:
            hits.sort(key=attrgetter("rank"), reverse=True)
        return [node.value for node in hits]  # type: ignore[misc]

    def best(self, uri: str) -> Optional[V]:
        """The value of the most specific pattern matching ``uri``, or None."""
        hits = self.matches(uri)
        return hits[0] if hits else None
