"""``allowed_origins`` entries matched the way browsers send ``Origin``: default ports left out.

autobahn checks an ``Origin`` header by rewriting it as ``scheme://host:port``,
with the scheme's default port filled in (``https://good.example`` becomes
``https://good.example:443``), and matching that against the configured
patterns. An entry written as a browser sends it, without the port, so matched
nothing: only ``https://good.example:443`` let that origin in. Here an entry
without a port gets its scheme's default (80 for http and ws, 443 for https and
wss), and its host is written as autobahn writes it (lower case, an IPv6
address without brackets); entries with a port, a wildcard host end
(``http://localhost*``) or another form are kept as written.
"""
from __future__ import annotations

import re
from typing import Iterable, List, Optional
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}

_ORIGIN = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[^\]/]*\]|[^/:\[\]]+)/?$")


def with_default_ports(entries: Iterable[str]) -> List[str]:
    """``entries`` with the scheme's default port added where an entry names none."""
    result = []
    for entry in entries:
        match = _ORIGIN.match(entry)
        scheme = match.group("scheme").lower() if match else ""
        if match and scheme in DEFAULT_PORTS and not match.group("host").endswith("*"):
            host = match.group("host").strip("[]").lower()
            entry = f"{scheme}://{host}:{DEFAULT_PORTS[scheme]}"
        result.append(entry)
    return result


def origin_key(origin: str) -> Optional[str]:
    """``scheme://host:port`` of an ``Origin`` (the scheme's default port filled in), as
    autobahn matches them; None for a value that is not an origin."""
    try:
        parts = urlsplit(origin)
        scheme, host, port = parts.scheme.lower(), (parts.hostname or ""), parts.port
    except ValueError:
        return None
    if not scheme or not host:
        return None
    port = port or DEFAULT_PORTS.get(scheme)
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"
