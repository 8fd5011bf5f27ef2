"""URI checks for the loose and strict rules of the WAMP spec.

autobahn's parsers already reject URIs that break the *loose* rules; a realm with
``uri_check: strict`` additionally refuses anything but ``[0-9a-z_]`` components.
Pattern-based subscriptions and registrations allow empty components (wildcard)
or an empty last component (prefix). A realm also bounds a URI's length
(``max_uri_length``), checked before anything else looks at the URI.
"""
from __future__ import annotations

import re
from typing import Optional

_LOOSE = {
    "exact": re.compile(r"^([^\s.#]+\.)*([^\s.#]+)$"),
    "prefix": re.compile(r"^([^\s.#]+\.)*([^\s.#]*)$"),
    "wildcard": re.compile(r"^(([^\s.#]+\.)|\.)*([^\s.#]+)?$"),
}
_STRICT = {
    "exact": re.compile(r"^([0-9a-z_]+\.)*([0-9a-z_]+)$"),
    "prefix": re.compile(r"^([0-9a-z_]+\.)*([0-9a-z_]*)$"),
    "wildcard": re.compile(r"^(([0-9a-z_]+\.)|\.)*([0-9a-z_]+)?$"),
}

MATCH_POLICIES = ("exact", "prefix", "wildcard")


def is_valid_uri(uri: object, strict: bool = False, match: str = "exact") -> bool:
    """True if ``uri`` is a string valid for ``match`` under the loose or strict rules.

    An unknown ``match`` policy is never valid (callers report it separately).
    """
    if not isinstance(uri, str) or match not in MATCH_POLICIES:
        return False
    table = _STRICT if strict else _LOOSE
    if match == "prefix" and uri == "":
        return True  # the empty prefix matches every URI: Crossbar allows it
    return table[match].match(uri) is not None


def uri_length_problem(uri: str, limit: int) -> Optional[str]:
    """Why ``uri`` is refused for being longer than ``limit`` UTF-8 octets, or None
    (also for ``limit`` 0: no limit). Encodes only when the character count cannot
    decide, and never quotes the URI (it may be megabytes)."""
    if not limit:
        return None
    length = len(uri)
    if length > limit:
        size = f"{length} characters"
    elif length * 4 <= limit or uri.isascii():
        return None  # a character takes at most 4 octets in UTF-8
    else:
        octets = len(uri.encode("utf-8", "surrogatepass"))
        if octets <= limit:
            return None
        size = f"{octets} octets"
    return f"URI of {size} is longer than the {limit} octets this realm allows (realm option max_uri_length)"
