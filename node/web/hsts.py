"""The ``Strict-Transport-Security`` header of a web transport (RFC 6797).

Two config forms: Crossbar's ``"hsts": true`` with ``"hsts_max_age"``, and
``"hsts": {"max_age": N, "include_subdomains": true}``. Off by default: once a
browser has seen the header it refuses plain HTTP (and certificate warnings)
for that host until max-age runs out, which is a commitment an administrator
should make knowingly. Sent only over TLS (RFC 6797 section 7.2: a header on
plain HTTP must be ignored, and could be forged).
"""
from __future__ import annotations

from typing import Optional

from node.config.model import HstsOptions, WebOptions


def hsts_header(options: WebOptions) -> Optional[bytes]:
    """The header value for a web transport's ``options``, or None when HSTS is off."""
    setting = options.hsts
    if isinstance(setting, HstsOptions):
        max_age = setting.max_age
        subdomains = setting.include_subdomains
    elif setting:
        max_age = options.hsts_max_age
        subdomains = False
    else:
        return None
    value = b"max-age=%d" % max_age
    return value + b"; includeSubDomains" if subdomains else value
