"""Outgoing TLS trust: the ``trust`` block (CA sources, pins, JIT trust, diagnosis).

Used by ``tcpbridge`` targets with ``tls``, ``wampnode tunnel`` and
``wampnode trust diagnose``; future outgoing links (router-to-router) share it.
A ``trust`` block given on the command line becomes ``TrustOptions`` through
:func:`node.config.build.trust_from_values`, with the schema's defaults.
"""
from __future__ import annotations

from node.trust.policy import ClientTrust

__all__ = ["ClientTrust"]
