"""Crossbar.io's version 1 configs, read as the version 2 that ``crossbar upgrade`` writes.

Version 1 (Crossbar.io before 2017: ``"version": 1``, or no ``version`` at all) spelled
a role's permission as ``{"uri", "publish", "subscribe", "call", "register"}``;
version 2 as ``{"uri", "match", "allow": {...}, "disclose", "cache"}``. That is the
whole difference ``crossbar upgrade`` rewrites. Crossbar.io refuses to start a
version 1 config until it has been upgraded; wampnode reads it as upgraded (the node
warns, see :mod:`node.config.advisories`), and ``wampnode upgrade`` rewrites the file
as ``crossbar upgrade`` does.

A config with no ``version`` is taken as version 1 only if one of its permissions is
written the version 1 way: wampnode has always read a config without ``version`` as
version 2, and those keep working unchanged.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List

V1_ACTIONS = ("call", "register", "publish", "subscribe")


def _permissions(raw: Dict[str, Any]) -> Iterator[List[Any]]:
    """Each router role's permission list (what version 1 spelled differently)."""
    for worker in raw.get("workers") or ():
        if isinstance(worker, dict) and worker.get("type") == "router":
            for realm in worker.get("realms") or ():
                for role in (realm.get("roles") or ()) if isinstance(realm, dict) else ():
                    if isinstance(role, dict) and isinstance(role.get("permissions"), list):
                        yield role["permissions"]


def _is_v1_permission(rule: Any) -> bool:
    return isinstance(rule, dict) and "allow" not in rule and any(action in rule for action in V1_ACTIONS)


def is_version_1(raw: Any) -> bool:
    """Whether ``raw`` (a parsed config) is a version 1 config this module upgrades."""
    if not isinstance(raw, dict):
        return False
    version = raw.get("version", None)
    if version == 1:
        return True
    return version is None and any(_is_v1_permission(rule) for rules in _permissions(raw) for rule in rules)


def upgrade(raw: Dict[str, Any]) -> Dict[str, Any]:
    """``raw`` as version 2, permissions converted as ``crossbar upgrade`` converts them
    (an action left out is not allowed; nothing disclosed; cached). ``version`` comes first,
    as Crossbar.io writes it. A starred URI keeps its spelling: the loader reads it (see
    :mod:`node.config.starred`)."""
    for rules in _permissions(raw):
        for index, rule in enumerate(rules):
            if _is_v1_permission(rule):
                rules[index] = {"uri": rule.get("uri"),
                                "allow": {action: rule.get(action, False) for action in V1_ACTIONS},
                                "disclose": {"caller": False, "publisher": False},
                                "cache": True}
    rest = {key: value for key, value in raw.items() if key != "version"}
    return {"version": 2, **rest}
