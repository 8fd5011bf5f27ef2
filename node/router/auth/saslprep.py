"""SASLprep (RFC 4013) of a SCRAM user name, with the standard library's ``stringprep``.

SCRAM signs ``n=<saslprep(authid)>``; autobahn's client (and Crossbar.io) prepare it
with passlib's ``saslprep``. This is the same profile, so that the router does not
need passlib: map (RFC 3454 B.1 to nothing, C.1.2 to a space), NFKC, then refuse
prohibited characters (C.1.2 - C.9), unassigned code points, and mixed-direction text.
"""
from __future__ import annotations

import stringprep
import unicodedata

_PROHIBITED = (
    stringprep.in_table_c12, stringprep.in_table_c21_c22, stringprep.in_table_c3, stringprep.in_table_c4,
    stringprep.in_table_c5, stringprep.in_table_c6, stringprep.in_table_c7, stringprep.in_table_c8,
    stringprep.in_table_c9,
)


def saslprep(text: str) -> str:
    """``text`` prepared per RFC 4013 (stored-string rules).

    @raise ValueError: it holds a character the profile prohibits.
    """
    mapped = "".join(" " if stringprep.in_table_c12(c) else c for c in text if not stringprep.in_table_b1(c))
    prepared = unicodedata.normalize("NFKC", mapped)
    for c in prepared:
        if any(test(c) for test in _PROHIBITED):
            raise ValueError(f"prohibited character U+{ord(c):04X}")
        if stringprep.in_table_a1(c):
            raise ValueError(f"unassigned code point U+{ord(c):04X}")
    if any(stringprep.in_table_d1(c) for c in prepared):  # RFC 3454 6: right-to-left text
        if any(stringprep.in_table_d2(c) for c in prepared):
            raise ValueError("mixes right-to-left and left-to-right characters")
        if not (stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1])):
            raise ValueError("right-to-left text must start and end with right-to-left characters")
    return prepared
