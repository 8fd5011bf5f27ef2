"""Role permissions: may this session publish/subscribe/call/register this URI?

Static authorization is a plain lookup. Of all the rules of a role that match a
URI, the most specific one decides, as in Crossbar: an ``exact`` rule first, then
the longest ``prefix`` rule, then the ``wildcard`` rule with the most non-empty
components. A URI no rule matches is denied. Lookups are cached per role and URI
(the rules are frozen, so the cache never goes stale).

A role with an ``authorizer`` is decided by calling that WAMP procedure; the
realm does the call, :func:`decision_from_authorizer` reads its answer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from node.config.model import Permission, Role
from node.router.matching import wildcard_matches, wildcard_rank

ACTIONS = ("publish", "subscribe", "call", "register")
NOT_AUTHORIZED = "wamp.error.not_authorized"
_CACHE_LIMIT = 10000


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
        self._prefix: Dict[str, Permission] = {}
        self._wildcard: List[Tuple[Tuple[str, ...], Permission]] = []
        for rule in role.permissions:
            if rule.match == "prefix":
                self._prefix[rule.uri] = rule
            elif rule.match == "wildcard":
                self._wildcard.append((tuple(rule.uri.split(".")), rule))
            else:
                self._exact[rule.uri] = rule
        self._wildcard.sort(key=lambda item: wildcard_rank(item[0]), reverse=True)
        self._cache: Dict[str, Optional[Permission]] = {}

    def rule_for(self, uri: str) -> Optional[Permission]:
        """The most specific rule matching ``uri``, or None."""
        try:
            return self._cache[uri]
        except KeyError:
            pass
        rule = self._lookup(uri)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[uri] = rule
        return rule

    def _lookup(self, uri: str) -> Optional[Permission]:
        rule = self._exact.get(uri)
        if rule is not None:
            return rule
        if self._prefix:
            for end in range(len(uri), -1, -1):
                rule = self._prefix.get(uri[:end])
                if rule is not None:
                    return rule
        if self._wildcard:
            components = uri.split(".")
            for pattern, rule in self._wildcard:
                if wildcard_matches(pattern, components):
                    return rule
        return None

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


def decision_from_authorizer(answer: object) -> Decision:
    """Read a dynamic authorizer's answer: ``True``/``False`` or
    ``{"allow": bool, "disclose": bool, "cache": bool}`` (Crossbar's shapes).
    Anything else denies."""
    if isinstance(answer, bool):
        return Decision(answer)
    if isinstance(answer, dict) and isinstance(answer.get("allow"), bool):
        return Decision(answer["allow"], disclose=bool(answer.get("disclose")), cache=bool(answer.get("cache")))
    return DENY


def not_authorized_text(session_id: int, authid: str, authrole: str, action: str, uri: str, realm: str) -> str:
    """The message of a ``wamp.error.not_authorized`` reply, naming everything involved."""
    return (f"session {session_id} (authid '{authid}', authrole '{authrole}') is not authorized "
            f"to {action} '{uri}' on realm '{realm}'")
