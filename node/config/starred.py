"""Crossbar.io's starred URIs: ``"uri": "com.example.*"`` with no ``match``.

Crossbar.io reads a permission (or event-history) URI containing ``*`` and no
``match`` as the pattern it spells (``com.example.*`` a prefix, ``com.*.proc`` a
wildcard, ``*`` every URI), through autobahn's ``convert_starred_uri``. Configs
written that way keep working here: the URI and ``match`` are rewritten before
the schema sees them, so everything after (checks, errors, routing) knows only
the explicit form.
"""
from __future__ import annotations

from typing import Any

from autobahn.wamp.uri import convert_starred_uri

_RULE_LISTS = ("permissions", "event-history")


def expand_starred_uris(raw: Any) -> Any:
    """``raw`` with every starred rule URI made explicit (changed in place, and returned)."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key in _RULE_LISTS and isinstance(value, list):
                for rule in value:
                    _expand(rule)
            expand_starred_uris(value)
    elif isinstance(raw, list):
        for item in raw:
            expand_starred_uris(item)
    return raw


def _expand(rule: Any) -> None:
    if isinstance(rule, dict) and "match" not in rule and isinstance(rule.get("uri"), str) and "*" in rule["uri"]:
        rule["uri"], rule["match"] = convert_starred_uri(rule["uri"])
