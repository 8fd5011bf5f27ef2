"""One ``trust`` block in use: OpenSSL client contexts, per-connection checks, JIT state.

Verification happens in one OpenSSL verify callback per connection, which keeps
what it saw (the certificates as sent, each error) in an :class:`Attempt`, so a
failed handshake can be explained (:func:`node.trust.chain.diagnose`) and JIT
trust can look the missing CA up. The callback also checks:

- the host name (RFC 6125, with ``service_identity``) at depth 0 once the chain
  is valid, so a name mismatch fails the handshake instead of being checked later;
- pins (``pin_sha256``): the leaf's SubjectPublicKeyInfo hash must be pinned;
  then CA and name checks are skipped, as ssh's known_hosts works. Proof of the
  key comes from the handshake itself (CertificateVerify), so a pinned key is
  enough to authenticate the server.

Why pyOpenSSL and not ``twisted.internet.ssl.optionsForClientTLS``: that verifies
through its own callback and drops the failing certificates, which diagnosis and
JIT trust both need, and it has no hook for pins.
"""
from __future__ import annotations

import ipaddress
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from cryptography import x509
from OpenSSL import SSL, crypto
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from zope.interface import implementer

from node.config.model import TrustOptions
from node.errors import ConnectError, TlsError
from node.trust import bundle
from node.tls.certinfo import spki_sha256, subject_key_id
from node.trust.chain import Evidence, diagnose, find_cas
from node.trust.jit import JitCache


class Attempt:
    """What one connection's certificate verification saw."""

    def __init__(self, address: str, hostname: str, pins: Sequence[str]) -> None:
        self.address = address
        self.hostname = hostname
        self.pins = tuple(pins)
        self.presented: Tuple[x509.Certificate, ...] = ()
        self.errors: List[Tuple[int, int]] = []
        self.hostname_mismatch = False
        self.pin_mismatch: Optional[str] = None
        self.verified = False

    @property
    def rejected(self) -> bool:
        """True when our checks (not the network or the protocol) refused the server."""
        return bool(self.errors) or self.hostname_mismatch or self.pin_mismatch is not None

    def evidence(self) -> Evidence:
        return Evidence(address=self.address, hostname=self.hostname, presented=self.presented,
                        errors=tuple(self.errors), hostname_mismatch=self.hostname_mismatch,
                        pin_mismatch=self.pin_mismatch)

    def verify(self, connection: SSL.Connection, cert: crypto.X509, errno: int, depth: int, ok: int) -> bool:
        """The OpenSSL verify callback; returning False fails the handshake."""
        if not self.presented:
            self.presented = tuple(connection.get_peer_cert_chain(as_cryptography=True) or ())
        if self.pins:
            if depth > 0:
                return True
            pin = spki_sha256(cert.to_cryptography())
            if pin in self.pins:
                self.verified = True
                return True
            self.pin_mismatch = pin
            return False
        if not ok:
            self.errors.append((depth, errno))
            return False
        if depth == 0:
            if not name_matches(cert.to_cryptography(), self.hostname):
                self.hostname_mismatch = True
                return False
            self.verified = True
        return True


def name_matches(cert: x509.Certificate, hostname: str) -> bool:
    """RFC 6125 host name (or IP address) check with ``service_identity``."""
    from service_identity import CertificateError, VerificationError
    from service_identity.cryptography import verify_certificate_hostname, verify_certificate_ip_address

    try:
        try:
            address = ipaddress.ip_address(hostname.strip("[]"))
        except ValueError:
            verify_certificate_hostname(cert, hostname)
        else:
            verify_certificate_ip_address(cert, str(address))
    except (VerificationError, CertificateError):
        return False
    return True


def is_address(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname.strip("[]"))
    except ValueError:
        return False
    return True


@implementer(IOpenSSLClientConnectionCreator)
class ConnectionCreator:
    """Twisted's TLS client hook: one :class:`Attempt` per connection it makes."""

    def __init__(self, context: SSL.Context, address: str, hostname: str, pins: Sequence[str]) -> None:
        self.context = context
        self.address = address
        self.hostname = hostname
        self.pins = pins
        self.attempt: Optional[Attempt] = None

    def connection(self, sock: object = None) -> SSL.Connection:
        """A client connection (memory BIO for Twisted, or over ``sock``) with a fresh Attempt."""
        self.attempt = Attempt(self.address, self.hostname, self.pins)
        connection = SSL.Connection(self.context, sock)
        if not is_address(self.hostname):  # RFC 6066 section 3: no addresses in SNI
            connection.set_tlsext_host_name(self.hostname.encode("idna"))
        connection.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, self.attempt.verify)
        connection.set_connect_state()
        return connection

    def clientConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:  # noqa: N802 (Twisted API)
        return self.connection()


class ClientTrust:
    """Whom outgoing TLS connections trust, after one ``trust`` block.

    ``cafile_option`` is how a person adds a CA, for messages: ``trust.cafile``
    (with the block's JSON path) in a config, ``--cafile`` on the command line.
    """

    def __init__(self, options: TrustOptions, cafile_option: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self.cafile_option = cafile_option or f"{options.path}.cafile"
        self.jit: Optional[JitCache] = None
        if options.store == "jit" and not options.pin_sha256:
            self.jit = JitCache(options.jit_ttl, options.jit_cache_size, clock)
        self._contexts: Dict[Tuple[bytes, ...], SSL.Context] = {}
        self._extra: Optional[List[x509.Certificate]] = None

    # --- sources --------------------------------------------------------------

    def check(self) -> List[TlsError]:
        """Every file problem of this block (missing cafile, empty bundle ...), all at once."""
        problems = []
        for load in (self.extra_cas, self.jit_bundle):
            try:
                load()
            except TlsError as e:
                problems.append(e)
        return problems

    def extra_cas(self) -> List[x509.Certificate]:
        """``cafile`` and ``capath`` certificates (trusted on top of the store)."""
        if self._extra is None:
            certs: List[x509.Certificate] = []
            if self.options.cafile:
                certs += bundle.load_file(self.options.cafile, f"{self.options.path}.cafile").certificates
            if self.options.capath:
                certs += bundle.load_directory(self.options.capath, f"{self.options.path}.capath").certificates
            self._extra = certs
        return self._extra

    def jit_bundle(self) -> Optional[bundle.CaIndex]:
        if self.jit is None:
            return None
        return bundle.load_source(self.options.jit_bundle, f"{self.options.path}.jit_bundle")

    def known_sources(self) -> List[bundle.CaIndex]:
        """CA sources a diagnosis may recognise the missing issuer in."""
        sources: List[bundle.CaIndex] = []
        for source, where in ((self.options.cafile, "cafile"), (self.options.capath, "capath"),
                              (self.options.jit_bundle if self.jit else None, "jit_bundle"),
                              ("system", "store"), ("certifi", "store")):
            if source:
                try:
                    sources.append(bundle.load_source(source, f"{self.options.path}.{where}"))
                except TlsError:
                    continue
        return sources

    # --- contexts ---------------------------------------------------------------

    def context(self, jit_cas: Sequence[x509.Certificate] = ()) -> SSL.Context:
        """A client context trusting the configured store plus ``jit_cas`` (cached)."""
        key = tuple(subject_key_id(c) for c in jit_cas)
        if key not in self._contexts:
            self._contexts[key] = self._build_context(jit_cas)
            if len(self._contexts) > 64:
                self._contexts.pop(next(iter(self._contexts)))
        return self._contexts[key]

    def _build_context(self, jit_cas: Sequence[x509.Certificate]) -> SSL.Context:
        context = SSL.Context(SSL.TLS_CLIENT_METHOD)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)  # RFC 8996: nothing older
        context.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_NO_RENEGOTIATION)
        if not self.options.pin_sha256:
            if self.options.store == "system":
                context.set_default_verify_paths()
            elif self.options.store == "certifi":
                context.load_verify_locations(bundle.certifi_path(f"{self.options.path}.store"))
            store = context.get_cert_store()
            for cert in list(self.extra_cas()) + list(jit_cas):
                store.add_cert(crypto.X509.from_cryptography(cert))
        return context

    def creator(self, address: str, hostname: str, jit_cas: Sequence[x509.Certificate] = ()) -> ConnectionCreator:
        return ConnectionCreator(self.context(jit_cas), address, hostname, self.options.pin_sha256)

    # --- JIT ----------------------------------------------------------------------

    def cached_cas(self, hostname: str) -> Optional[List[x509.Certificate]]:
        """The CAs a previous JIT success found for ``hostname``, if still cached."""
        if self.jit is None:
            return None
        skids = self.jit.get(hostname)
        index = self.jit_bundle()
        if skids is None or index is None:
            return None
        cas = [c for skid in skids for c in index.lookup(skid)]
        return cas or None

    def cas_for(self, evidence: Evidence) -> List[x509.Certificate]:
        """The bundle CAs the failed handshake's AKIDs ask for (empty: JIT cannot help)."""
        index = self.jit_bundle()
        if index is None or not evidence.issuer_unknown:
            return []
        return find_cas(evidence.presented, index)

    def remember(self, hostname: str, cas: Sequence[x509.Certificate]) -> None:
        if self.jit is not None:
            self.jit.put(hostname, tuple(subject_key_id(c) for c in cas))

    def forget(self, hostname: str) -> None:
        if self.jit is not None:
            self.jit.forget(hostname)

    def diagnose(self, evidence: Evidence) -> ConnectError:
        return diagnose(evidence, self.known_sources(), self.cafile_option)
