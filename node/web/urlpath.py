"""What a URL path must be before it is routed: UTF-8 text without NUL.

Twisted unquotes each path segment to bytes and hands it on: a ``%00`` reached
``FilePath`` as an embedded NUL (``ValueError``: a 500 and a critical log line),
and a segment that is not UTF-8 made ``File.getChild`` log a traceback. No path
of a web transport can match such a segment (config paths are JSON strings), so
the client's request is bad: 400, and a one-line warning naming the peer.
"""
from __future__ import annotations

from typing import Iterable, Optional


def url_path_problem(segments: Iterable[bytes]) -> Optional[str]:
    """Why the unquoted path ``segments`` cannot be routed, or None."""
    for segment in segments:
        if b"\x00" in segment:
            return "holds a NUL octet (%00)"
        try:
            segment.decode("utf-8")
        except UnicodeDecodeError:
            return "is not UTF-8 text"
    return None
