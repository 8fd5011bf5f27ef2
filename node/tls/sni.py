"""SNI: which identity (key and certificate) serves the host name a client asks for.

One rule, used twice: by the server's SNI callback (:func:`install_sni`) to
switch a handshake to the named context, and by ``wampnode check --host``
(:mod:`node.tls.hygiene`) to judge the certificate that name would get.
"""
from __future__ import annotations

from typing import Dict, Optional, TypeVar

from OpenSSL import SSL

__all__ = ["sni_lookup", "install_sni"]

T = TypeVar("T")


def sni_lookup(names: Dict[str, T], server_name: Optional[str]) -> Optional[T]:
    """The entry for ``server_name``: exact match first, then ``*.parent`` (one label).

    ``names`` are lower-case; host names compare case-insensitively (RFC 6066
    section 3, RFC 4343).
    """
    if not server_name:
        return None
    host = server_name.rstrip(".").lower()
    if host in names:
        return names[host]
    head, dot, parent = host.partition(".")
    if head and dot and parent:
        return names.get(f"*.{parent}")
    return None


def install_sni(default: SSL.Context, by_name: Dict[str, SSL.Context]) -> None:
    """Make handshakes on ``default`` switch to ``by_name[server name]`` when one matches."""

    def switch(connection: SSL.Connection) -> None:
        raw = connection.get_servername()
        name = raw.decode("ascii", "replace") if raw else None
        chosen = sni_lookup(by_name, name)
        if chosen is not None:
            connection.set_context(chosen)

    default.set_tlsext_servername_callback(switch)
