"""Outgoing TLS trust: the ``trust`` block (CA sources, pins, JIT trust, diagnosis).

Used by ``tcpbridge`` targets with ``tls``, ``wampnode tunnel`` and
``wampnode trust diagnose``; future outgoing links (router-to-router) share it.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from node.config.model import TrustOptions
from node.trust.policy import ClientTrust

__all__ = ["ClientTrust", "trust_from_values"]


def trust_from_values(values: Dict[str, Any], where: str = "trust") -> TrustOptions:
    """A ``TrustOptions`` from command-line values, defaults taken from the schema.

    ``values`` uses the config's key names; unset keys get the schema's default,
    which stays the one place defaults live.
    """
    import os

    from node.config.validation import load_schema

    properties = load_schema()["$defs"]["trust"]["properties"]

    def value(name: str) -> Any:
        given = values.get(name)
        return given if given is not None else properties[name].get("default")

    def path(name: str) -> Optional[str]:
        given = values.get(name)
        return os.path.abspath(os.path.expanduser(given)) if given else None

    bundle = value("jit_bundle")
    pins: Sequence[str] = values.get("pin_sha256") or ()
    return TrustOptions(store=value("store"), cafile=path("cafile"), capath=path("capath"),
                        pin_sha256=tuple(pins),
                        jit_bundle=bundle if bundle == "certifi" else os.path.abspath(bundle),
                        jit_ttl=int(value("jit_ttl")), jit_cache_size=int(value("jit_cache_size")), path=where)
