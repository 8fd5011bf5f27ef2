"""``wampnode trust diagnose https://host:port``: the server's chain and the verdict, for a person.

It makes the same handshake an outgoing connection makes (same contexts and
checks, :class:`~node.trust.policy.ClientTrust`), blocking, and prints every
certificate the server sent (subject, issuer, validity, SAN and whether it
names the host, SKID/AKID), then "trusted" or the diagnosis line the log would
show. With ``--trust-store jit`` it also shows the JIT lookup and retry.
"""
from __future__ import annotations

import datetime
import select
import socket
import time
from typing import List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from cryptography import x509
from OpenSSL import SSL

from node.errors import ConfigError, ConnectError
from node.tls.certinfo import (
    authority_key_id,
    dns_names,
    hex_id,
    name_text,
    not_after,
    not_before,
    spki_sha256,
    subject_key_id,
)
from node.trust.connect import describe_failure
from node.trust.policy import Attempt, ClientTrust, is_address, name_matches


def parse_target(url: str) -> Tuple[str, int]:
    """``https://host:port`` (or ``wss://``, or ``host:port``) -> (host, port)."""
    if "://" not in url:
        url = "https://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("https", "wss") or not parts.hostname:
        raise ConfigError("URL", f"{url!r} is not an https:// or wss:// URL", "Write it as https://host:port")
    try:
        return parts.hostname, parts.port or 443
    except ValueError:
        raise ConfigError("URL", f"bad port in {url!r}", "Write it as https://host:port") from None


def handshake(host: str, port: int, trust: ClientTrust, timeout: float,
              cas: Sequence[x509.Certificate] = ()) -> Tuple[Attempt, Optional[str]]:
    """One blocking handshake; (what verification saw, TLS version or None on failure).

    @raise ConnectError: no TCP connection, or a TLS failure other than trust.
    """
    address = f"{host}:{port}"
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        raise ConnectError(address, f"cannot connect: {e.strerror or e}", "Check the host and port") from None
    creator = trust.creator(address, host, cas)
    connection = creator.connection(sock)
    try:
        while True:
            try:
                connection.do_handshake()
                return creator.attempt, connection.get_protocol_version_name()  # type: ignore[return-value]
            except SSL.WantReadError:
                if not select.select([sock], [], [], max(0.0, deadline - time.monotonic()))[0]:
                    raise ConnectError(address, f"no TLS handshake within {timeout:g} s", "Is this a TLS port?")
            except SSL.Error as e:
                if creator.attempt is not None and creator.attempt.rejected:
                    return creator.attempt, None
                raise ConnectError(address, f"TLS handshake failed: {describe_failure(e)}",
                                   "Check that the server speaks TLS on that port") from None
    finally:
        sock.close()


def describe_chain(certs: Sequence[x509.Certificate], host: str) -> List[str]:
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [f"Chain sent by the server ({len(certs)} certificate(s)):"]
    for i, cert in enumerate(certs):
        start, end = not_before(cert), not_after(cert)
        if start.tzinfo is None:  # type: ignore[attr-defined]
            start, end = (t.replace(tzinfo=datetime.timezone.utc) for t in (start, end))  # type: ignore[attr-defined]
        state = "valid now" if start <= now <= end else ("EXPIRED" if now > end else "NOT YET VALID")
        akid = authority_key_id(cert)
        lines += [f"  [{i}] subject  {name_text(cert.subject)}",
                  f"      issuer   {name_text(cert.issuer)}",
                  f"      validity {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC ({state})",
                  f"      SKID     {hex_id(subject_key_id(cert))}",
                  f"      AKID     {hex_id(akid) if akid else '-'}"]
        if i == 0:
            names = ", ".join(dns_names(cert)) or "none"
            verdict = "matches" if name_matches(cert, host) else "does NOT match"
            lines += [f"      SAN      {names} ({verdict} {host})",
                      f"      pin      pin_sha256 {spki_sha256(cert)}"]
    return lines


def _sources(trust: ClientTrust) -> str:
    o = trust.options
    if o.pin_sha256:
        return f"pins only ({len(o.pin_sha256)})"
    parts = [{"system": "system store", "certifi": "certifi bundle", "none": "no store",
              "jit": f"JIT from {o.jit_bundle}"}[o.store]]
    parts += [f"cafile {o.cafile}"] if o.cafile else []
    parts += [f"capath {o.capath}"] if o.capath else []
    return " + ".join(parts)


def diagnose_url(url: str, trust: ClientTrust, timeout: float) -> Tuple[str, bool]:
    """The report text, and whether the server is trusted."""
    host, port = parse_target(url)
    attempt, version = handshake(host, port, trust, timeout)
    lines = [f"Server {host}:{port}" + ("" if is_address(host) else f" (SNI {host})"),
             *describe_chain(attempt.presented, host), f"Trust: {_sources(trust)}"]
    if version is None:
        cas = trust.cas_for(attempt.evidence())
        if cas:
            names = ", ".join(f"'{name_text(c.subject)}'" for c in cas)
            lines.append(f"JIT trust: the chain asks for {names}, found in {trust.options.jit_bundle}; retrying")
            retry, version = handshake(host, port, trust, timeout, cas)
            if version is None:
                attempt = retry
    if version is not None:
        lines.append(f"Result: trusted ({version})")
        return "\n".join(lines), True
    lines.append("Result: NOT trusted")
    lines.append(trust.diagnose(attempt.evidence()).line())
    return "\n".join(lines), False
