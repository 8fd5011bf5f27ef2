"""Role permissions: may this session publish/subscribe/call/register this URI?

Static authorization is a plain lookup. Of all the rules of a role that match a
URI, the most specific one decides, as in Crossbar: an ``exact`` rule first, then
the longest ``prefix`` rule, then the ``wildcard`` rule with the most non-empty
components. A URI no rule matches is denied. A lookup costs time linear in the
URI's length (:mod:`node.router.patterns`); its result is cached per role and URI
(the rules are frozen, so the cache never goes stale) in a cache bound both in
entries and in the URI characters it holds, since clients choose the URIs.

A role with an ``authorizer`` is decided by calling that WAMP procedure; the
realm does the call, :func:`decision_from_authorizer` reads its answer.

A prefix or wildcard subscription (registration) is authorized against its
pattern string, and then each event (invocation) it would route is checked
against the subscriber's (callee's) permission on the concrete URI
(:meth:`RealmAuthorizer.permits`): a pattern never reaches further than the
role's rules do. A dynamic authorizer cannot be asked synchronously per event,
so for a dynamic role the pattern itself must be granted explicitly, by an
answer naming its match policy (:func:`decision_from_authorizer`), and then
covers every URI it matches.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Hashable, Optional, Tuple, TypeVar

from node.config.model import Permission, Role
from node.router.patterns import PrefixTree, WildcardTree

ACTIONS = ("publish", "subscribe", "call", "register")
NOT_AUTHORIZED = "wamp.error.not_authorized"
# What one role's rule cache may hold: a miss costs one linear lookup, so the
# bound only has to keep a client sending many distinct (or long) URIs from
# growing the node: 10,000 entries, at most 1 MiB of URI characters in all.
RULE_CACHE_ENTRIES = 10000
RULE_CACHE_CHARS = 1 << 20

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class BoundedCache(Dict[K, T]):
    """A dict emptied whenever it would exceed ``entries`` keys or ``chars`` characters
    of key text (the ``size`` given to :meth:`put`): the working set of a well-behaved
    client refills it at once, a client walking through endless URIs only ever holds
    the bound. Reads are plain ``dict.get`` (the hot path of every authorization)."""

    __slots__ = ("chars", "max_entries", "max_chars")

    def __init__(self, entries: int, chars: int) -> None:
        super().__init__()
        self.chars = 0  # characters of key text held now
        self.max_entries = entries
        self.max_chars = chars

    def put(self, key: K, value: T, size: int) -> None:
        """Keep ``value`` for ``key``, whose text is ``size`` characters long."""
        if key in self:
            self[key] = value
            return
        if size > self.max_chars:
            return  # one key beyond the whole budget is not worth evicting everything for
        if len(self) >= self.max_entries or self.chars + size > self.max_chars:
            self.clear()
            self.chars = 0
        self[key] = value
        self.chars += size


@dataclass(frozen=True)
class Decision:
    """The answer for one (session, uri, action)."""

    allow: bool
    disclose: bool = False
    cache: bool = False


ALLOW_ALL = Decision(True, disclose=True)
DENY = Decision(False)


class RolePermissions:
    """The permission rules of one role, indexed for most-specific-match lookup."""

    def __init__(self, role: Role) -> None:
        self.role = role
        self._exact: Dict[str, Permission] = {}
        self._prefix: PrefixTree[Permission] = PrefixTree()
        self._wildcard: WildcardTree[Permission] = WildcardTree()
        wildcards = set()
        for rule in role.permissions:
            if rule.match == "prefix":
                self._prefix.set(rule.uri, rule)
            elif rule.match == "wildcard":
                if rule.uri not in wildcards:  # of two equal wildcard rules the first decides
                    wildcards.add(rule.uri)
                    self._wildcard.set(rule.uri, rule)
            else:
                self._exact[rule.uri] = rule
        self._cache: BoundedCache[str, Tuple[Optional[Permission]]] = BoundedCache(
            RULE_CACHE_ENTRIES, RULE_CACHE_CHARS)

    def rule_for(self, uri: str) -> Optional[Permission]:
        """The most specific rule matching ``uri``, or None."""
        cached = self._cache.get(uri)
        if cached is not None:
            return cached[0]
        rule = self._lookup(uri)
        self._cache.put(uri, (rule,), len(uri))
        return rule

    def _lookup(self, uri: str) -> Optional[Permission]:
        rule = self._exact.get(uri)
        if rule is not None:
            return rule
        if len(self._prefix):
            prefixes = self._prefix.matches(uri)
            if prefixes:
                return prefixes[0]
        return self._wildcard.best(uri)

    def allows(self, uri: str, action: str) -> bool:
        """True if the role may do ``action`` on ``uri``: :meth:`decide` without the
        disclosure, for the per-event and per-invocation checks of pattern routing
        (a cache hit is one dict lookup)."""
        cached = self._cache.get(uri)
        rule = cached[0] if cached is not None else self.rule_for(uri)
        return rule is not None and bool(getattr(rule, action, False))

    def decide(self, uri: str, action: str) -> Decision:
        rule = self.rule_for(uri)
        if rule is None:
            return DENY
        allowed = bool(getattr(rule, action, False))
        if action == "call":
            disclose = rule.disclose_caller
        elif action == "publish":
            disclose = rule.disclose_publisher
        else:
            disclose = False
        return Decision(allowed, disclose=allowed and disclose, cache=rule.cache)


class RealmAuthorizer:
    """Static authorization for all roles of a realm.

    With no roles configured every session may do everything (development mode),
    and the caller/publisher is disclosed since there is nothing to protect.
    """

    def __init__(self, roles: Tuple[Role, ...]) -> None:
        self.open = not roles
        self._roles = {role.name: RolePermissions(role) for role in roles}
        # role -> the check of pattern routing (see permits): a dynamic role's pattern
        # was granted explicitly for everything it matches
        self._routing: Dict[str, Callable[[str, str], bool]] = {
            name: (_granted if permissions.role.authorizer else permissions.allows)
            for name, permissions in self._roles.items()}

    def has_role(self, name: str) -> bool:
        return self.open or name in self._roles

    def dynamic_authorizer(self, role_name: str) -> Optional[str]:
        """The procedure URI deciding for this role, if the role is dynamic."""
        permissions = self._roles.get(role_name)
        return permissions.role.authorizer if permissions is not None else None

    def authorize(self, authrole: str, uri: str, action: str) -> Decision:
        """Decide statically; a role that is unknown to the realm is denied everything."""
        if self.open:
            return ALLOW_ALL
        permissions = self._roles.get(authrole)
        if permissions is None:
            return DENY
        return permissions.decide(uri, action)

    def permits(self, authrole: str, uri: str, action: str) -> bool:
        """May a session of ``authrole`` be routed an event (``subscribe``) or an
        invocation (``register``) of the concrete ``uri`` through a pattern it holds?

        Static roles: their rules decide ``uri`` itself (cached per role and URI, so a
        dict lookup per delivery). Dynamic roles: True, because their pattern was
        granted explicitly for every URI it matches (:func:`decision_from_authorizer`).
        The broker and dealer ask this only in a realm with roles."""
        check = self._routing.get(authrole)
        return check is not None and check(uri, action)


def _granted(uri: str, action: str) -> bool:
    return True


def decision_from_authorizer(answer: object, match: str = "exact") -> Decision:
    """Read a dynamic authorizer's answer: ``True``/``False`` or
    ``{"allow": bool, "disclose": bool, "cache": bool}`` (Crossbar's shapes).
    Anything else denies.

    For a ``prefix`` or ``wildcard`` request (the authorizer was called with
    ``options.match``) only the dict form naming that policy, ``{"allow": true,
    "match": "prefix"}``, allows: it says the authorizer decided for every URI the
    pattern can match. A bare ``true`` is what an authorizer that looks at the URI
    alone answers for ``com.example.allowed``, and would let a prefix subscription to
    it receive ``com.example.allowed.admin``."""
    if match != "exact" and not (isinstance(answer, dict) and answer.get("match") == match):
        return DENY
    if isinstance(answer, bool):
        return Decision(answer)
    if isinstance(answer, dict) and isinstance(answer.get("allow"), bool):
        return Decision(answer["allow"], disclose=bool(answer.get("disclose")), cache=bool(answer.get("cache")))
    return DENY


def not_authorized_text(session_id: int, authid: str, authrole: str, action: str, uri: str, realm: str) -> str:
    """The message of a ``wamp.error.not_authorized`` reply, naming everything involved."""
    return (f"session {session_id} (authid '{authid}', authrole '{authrole}') is not authorized "
            f"to {action} '{uri}' on realm '{realm}'")
