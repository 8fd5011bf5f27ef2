"""Byte ranges of a static file, merged so that no request is answered with more than the file.

Twisted answers each range of a ``Range`` header as asked: ``bytes=0-,0-,...``
with 2,000 ranges on a 1 MB file announced a 2 GB multipart answer (the "Apache
Killer" of CVE-2011-3192). RFC 9110 section 14.3 lets a server merge ranges that
overlap, and calls many overlapping or small ranges a sign of an attack that a
server may ignore. wampnode does both, as Apache does since that CVE:

- overlapping and adjacent ranges are merged (the merged range takes the place
  of the first of them; otherwise the order of the request is kept, as RFC 9110
  section 15.3.7.2 asks), so the bytes sent never exceed the file's size;
- a request still holding more than ``max_ranges`` ranges gets the whole file
  (200), as with nginx's ``max_ranges``, Apache's ``MaxRanges`` and Go's
  ``http.ServeContent``: a plain GET costs the same, and a client that was only
  greedy still gets its bytes, where 416 would fail it.
"""
from __future__ import annotations

from typing import Iterable, List, Tuple


def merge_ranges(spans: Iterable[Tuple[int, int]]) -> List[Tuple[int, int]]:
    """``(offset, size)`` spans with empty ones dropped and overlapping or adjacent ones merged.

    Each merged span sits where the first of its parts was in ``spans``.
    """
    ordered = sorted((offset, offset + size, i) for i, (offset, size) in enumerate(spans) if size > 0)
    merged: List[List[int]] = []  # [start, end, index of its first part]
    for start, end, index in ordered:
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            last[1] = max(last[1], end)
            last[2] = min(last[2], index)
        else:
            merged.append([start, end, index])
    merged.sort(key=lambda span: span[2])
    return [(start, end - start) for start, end, _ in merged]
