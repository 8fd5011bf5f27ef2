"""Server-side TLS: one ``TlsOptions`` block becomes a reloadable OpenSSL context.

:func:`server_tls` returns a :class:`ServerTls`, which provides Twisted's
``IOpenSSLServerConnectionCreator``; wrap any listening factory with
``TLSMemoryBIOFactory(server_tls(options), False, factory)``. ``reload()`` builds a
fresh context from the files (certificate renewal, SIGHUP) and swaps it in only
if the whole build succeeds (else it raises ``TlsError`` and the old context
stays); handshakes under way keep the context they started with.

Why pyOpenSSL's ``Context`` and not ``twisted.internet.ssl.CertificateOptions``:
CertificateOptions cannot set a key-exchange group list or TLS 1.3 suites, it
rewrites a cipher string through its own expansion (so a user's string would not
be "honoured as given"), and it caches one context for its lifetime. The calls
below are the ones ``CertificateOptions._makeContext`` makes (Twisted 26.10),
plus those three.

Defaults and the reasons for them (dated, as they age):

- Versions: TLS 1.2 minimum. RFC 8996 (March 2021) deprecates TLS 1.0 and 1.1;
  Mozilla's "intermediate" profile (Server Side TLS 5.7, 2023; 6.0, 2025) offers
  TLS 1.2 and 1.3. Nothing below 1.2 can be configured.
- TLS 1.2 ciphers: the intermediate profile's list, ECDHE key exchange with AEAD
  ciphers only (RFC 7525 section 4.2: forward secrecy and authenticated
  encryption), DHE-RSA only when ``dhparam`` names a group OpenSSL accepts (one
  it refuses as too small turns DHE off with a warning, :mod:`node.tls.dh`). TLS 1.3 suites stay
  at OpenSSL's defaults (all AEAD, RFC 8446 section 9.1) unless ``ciphersuites``.
- Groups: always set explicitly, default ``prime256v1`` (P-256). OpenSSL's own
  default list prefers X25519 and also offers X448 and P-521, which the
  intermediate profile does not list (scanners flag them). In a colon list the
  order is the server's preference for TLS 1.2; in TLS 1.3 the client's key
  share wins among the listed groups (measured with OpenSSL 4.0: ``P-256:X25519``
  gives X25519 on TLS 1.3 to a client that sends an X25519 share, P-256 on
  TLS 1.2), and a client without a share of a listed group gets a
  HelloRetryRequest for the first one. A ``dhparam`` holding an RFC 7919 group
  adds that group at the end (see :func:`group_list`).
- Server cipher preference on (issue 3). Mozilla's intermediate profile lets
  the client choose since 5.0 (2019), which is equally safe when every offered
  suite is AEAD with forward secrecy, as our defaults are; with a user's
  cipher string the server's order protects clients that list weak suites first.
- No TLS compression (CRIME, RFC 7457 section 2.6) and no renegotiation
  (RFC 7457 section 2.10, a client-initiated CPU DoS; TLS 1.3 removed it).
- Session tickets on, with keys rotated hourly by rebuilding the context from
  the loaded material (:meth:`ServerTls.rotate_ticket_keys`); an OCSP
  response from ``ocsp_staple`` is stapled for clients that ask.

Files are read by :mod:`node.tls.files`, once per build (start-up, reload);
:attr:`ServerTls.material` keeps what was read, for ticket-key rotation and for
the hygiene warnings of :mod:`node.tls.hygiene`. The calls pyOpenSSL has no
public API for are in :mod:`node.tls.openssl`, SNI selection in :mod:`node.tls.sni`.
"""
from __future__ import annotations

import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from cryptography import x509
from OpenSSL import SSL, crypto
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.logger import Logger
from zope.interface import implementer

from node.config.model import TlsOptions
from node.errors import TlsError
from node.tls.dh import usable_dh
from node.tls.files import DhParameters, Identity, Material, attempt, load_material
from node.tls.files import option_path as _at
from node.tls.openssl import (
    can_set_group_lists,
    can_set_tls13_ciphersuites,
    clear_openssl_errors,
    set_groups,
    use_dh_parameters,
)
from node.tls.pem import DhGroup, load_dh_parameters
from node.tls.reused_buffers import server_connection
from node.tls.sni import install_sni

__all__ = [
    "ServerTls", "server_tls", "load_server_tls", "build_context", "check_tls",
    "default_ciphers", "group_list", "TICKET_KEY_SECONDS",
]

log = Logger()

TLS_VERSIONS: Dict[str, int] = {
    "TLSv1.2": SSL.TLS1_2_VERSION,
    "TLSv1.3": SSL.TLS1_3_VERSION,
}

# Mozilla Server Side TLS "intermediate" (5.7, 2023), TLS 1.2 part, in its order.
ECDHE_AEAD_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)
DHE_AEAD_CIPHERS = (
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
)


# Ticket keys (and the session cache) are replaced this often. RFC 5077
# section 5.5 and RFC 8446 section 8 ask for regular rotation: a stolen key
# decrypts every session whose ticket it sealed, so its lifetime bounds what
# forward secrecy is lost. One hour, as large operators rotate (a client whose
# ticket is older simply makes a full handshake).
TICKET_KEY_SECONDS = 3600

_OPTIONS = (
    SSL.OP_NO_COMPRESSION
    | SSL.OP_NO_RENEGOTIATION
    | SSL.OP_CIPHER_SERVER_PREFERENCE
    | SSL.OP_SINGLE_DH_USE
    | SSL.OP_SINGLE_ECDH_USE
)


def default_ciphers(with_dhe: bool) -> str:
    """The TLS 1.2 cipher string used when the config has no ``ciphers``."""
    return f"{ECDHE_AEAD_CIPHERS}:{DHE_AEAD_CIPHERS}" if with_dhe else ECDHE_AEAD_CIPHERS


# --- context settings -----------------------------------------------------------


def _versions(options: TlsOptions, ctx: SSL.Context) -> None:
    low = _version(options, "min_version", options.min_version)
    ctx.set_min_proto_version(low)
    if options.max_version is not None:
        high = _version(options, "max_version", options.max_version)
        if high < low:
            raise TlsError(
                _at(options, "max_version"),
                f"{options.max_version} is below min_version {options.min_version}",
                "Raise max_version or remove it",
            )
        ctx.set_max_proto_version(high)


def _version(options: TlsOptions, key: str, name: str) -> int:
    if name in TLS_VERSIONS:
        return TLS_VERSIONS[name]
    raise TlsError(
        _at(options, key),
        f'"{name}" is not offered: TLS below 1.2 is deprecated (RFC 8996)',
        "Use TLSv1.2 or TLSv1.3",
    )


def _ciphers(options: TlsOptions, ctx: SSL.Context, dh: Optional[DhParameters]) -> None:
    text = options.ciphers or default_ciphers(dh is not None)
    try:
        ctx.set_cipher_list(text.encode("ascii"))
    except (SSL.Error, UnicodeEncodeError):
        clear_openssl_errors()
        raise TlsError(
            _at(options, "ciphers"),
            f'"{text}" selects no cipher this OpenSSL supports',
            "Check the names with: openssl ciphers -v 'STRING'",
        ) from None
    if options.ciphersuites is None:
        return
    if not can_set_tls13_ciphersuites():
        raise TlsError(_at(options, "ciphersuites"), "this pyOpenSSL cannot set TLS 1.3 cipher suites",
                       "Remove ciphersuites, or install pyOpenSSL 25.2 or later")
    try:
        ctx.set_tls13_ciphersuites(options.ciphersuites.encode("ascii"))
    except (SSL.Error, UnicodeEncodeError):
        clear_openssl_errors()
        raise TlsError(
            _at(options, "ciphersuites"),
            f'"{options.ciphersuites}" selects no TLS 1.3 cipher suite',
            "Use names such as TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
        ) from None


def _groups(options: TlsOptions, ctx: SSL.Context, dh: Optional[DhParameters]) -> None:
    groups = group_list(options, dh.group if dh is not None else DhGroup(0, None))
    if set_groups(ctx, groups):
        return
    if groups != options.curve and not can_set_group_lists() and set_groups(ctx, options.curve):
        raise TlsError(
            _at(options, "dhparam"),
            f"this cryptography cannot offer the dhparam's group ({groups.rsplit(':', 1)[1]}) "
            "beside the curve, which RFC 7919 clients need to get DHE",
            "Remove dhparam, or install cryptography 44 and pyOpenSSL 25.2 or later",
        )
    probe = SSL.Context(SSL.TLS_SERVER_METHOD)
    bad = [n for n in options.curve.split(":") if not set_groups(probe, n)]
    named = ", ".join(f'"{n}"' for n in bad) or f'"{options.curve}"'
    raise TlsError(
        _at(options, "curve"),
        f"unknown or unsupported group {named}",
        "Use names from: openssl list -groups (e.g. prime256v1, secp384r1, X25519)",
    )


def group_list(options: TlsOptions, dh: Optional[DhGroup] = None) -> str:
    """The group list set on the context: ``curve``, plus the dhparam's RFC 7919 name.

    RFC 7919 section 4: a client whose supported_groups lists FFDHE groups
    (measured: OpenSSL 4.0 clients do, 3.0 ones in TLS 1.2 do not) gets a DHE
    suite only if the server supports one of those groups, so a ``dhparam``
    file holding e.g. ffdhe2048 must also appear in the group list. It goes
    last, so ECDHE stays preferred. A custom DH group has no name to list;
    :func:`node.tls.hygiene.tls_warnings` says so. ``dh`` is the dhparam's
    group as loaded; without it the file is read here.
    """
    if dh is None and options.dhparam:
        try:
            dh = load_dh_parameters(_at(options, "dhparam"), options.dhparam)
        except TlsError:  # building the context reports it
            dh = None
    name = dh.rfc7919_name if dh is not None and options.dhparam else None
    listed = [n.lower() for n in options.curve.split(":")]
    if name is None or name in listed:
        return options.curve
    return f"{options.curve}:{name}"


def _dhparam(options: TlsOptions, ctx: SSL.Context, dh: Optional[DhParameters]) -> None:
    """Use the dhparam's group for DHE; one that did not load is already listed, and
    one OpenSSL refuses as too small is not given (:func:`node.tls.dh.usable_dh`)."""
    if options.dhparam is None or dh is None:
        return
    try:
        use_dh_parameters(ctx, dh.pem)
    except SSL.Error as e:
        clear_openssl_errors()
        raise TlsError(_at(options, "dhparam"), f"OpenSSL refused {options.dhparam} ({e})") from None


def _use_identity(ctx: SSL.Context, identity: Identity) -> None:
    ctx.use_certificate(crypto.X509.from_cryptography(identity.chain[0]))
    ctx.use_privatekey(crypto.PKey.from_cryptography_key(identity.key))  # type: ignore[arg-type]
    for cert in identity.chain[1:]:
        ctx.add_extra_chain_cert(crypto.X509.from_cryptography(cert))
    ctx.check_privatekey()


def _verify_client(options: TlsOptions, ctx: SSL.Context, cas: List[x509.Certificate]) -> None:
    store = ctx.get_cert_store()
    for ca in cas:
        store.add_cert(crypto.X509.from_cryptography(ca))  # type: ignore[union-attr]
        ctx.add_client_ca(ca)
    if options.verify_client == "required":
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT)
    elif options.verify_client == "optional":
        ctx.set_verify(SSL.VERIFY_PEER)


def _alpn(options: TlsOptions, ctx: SSL.Context) -> None:
    """Pick the first of our ``alpn`` protocols the client offers (RFC 7301)."""
    ours = [p.encode("ascii") for p in options.alpn]
    if not ours:
        return

    def select(connection: SSL.Connection, offered: List[bytes]) -> object:
        for proto in ours:
            if proto in offered:
                return proto
        return SSL.NO_OVERLAPPING_PROTOCOLS

    ctx.set_alpn_select_callback(select)


def _sessions(options: TlsOptions, ctx: SSL.Context) -> None:
    """Session resumption: a server-side cache and (by default) tickets.

    A session id context is required for resumption with client certificates
    (SSL_CTX_set_session_id_context(3)). Ticket keys: OpenSSL makes random
    ones for each new context, and pyOpenSSL 26 binds neither
    ``SSL_CTX_set_tlsext_ticket_keys`` nor the ticket key callback, so
    :class:`ServerTls` rotates them by building a fresh context every
    :data:`TICKET_KEY_SECONDS` (and on every reload). Sessions live as long as
    a key (RFC 8446 section 4.6.1 allows up to 7 days), so a ticket is not
    offered long after its key is gone.
    """
    ctx.set_session_id(b"wampnode")
    ctx.set_session_cache_mode(SSL.SESS_CACHE_SERVER)
    ctx.set_timeout(TICKET_KEY_SECONDS)
    if not options.session_tickets:
        ctx.set_options(SSL.OP_NO_TICKET)


def _base_context(options: TlsOptions, dh: Optional[DhParameters],
                  errors: List[TlsError]) -> SSL.Context:
    """A context with every setting except the identity; faults go to ``errors``.

    ``dh`` is the group to serve DHE with, as :func:`node.tls.dh.usable_dh` returns it.
    """
    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    ctx.set_options(_OPTIONS)
    ctx.set_mode(SSL.MODE_RELEASE_BUFFERS)
    attempt(errors, _versions, options, ctx)
    attempt(errors, _ciphers, options, ctx, dh)
    attempt(errors, _groups, options, ctx, dh)
    attempt(errors, _dhparam, options, ctx, dh)
    attempt(errors, _alpn, options, ctx)
    attempt(errors, _sessions, options, ctx)
    return ctx


# --- building -------------------------------------------------------------------


def _staple(ctx: SSL.Context, response: bytes) -> None:
    """Answer a client's status_request (RFC 6066 section 8) with ``response``."""

    def staple(connection: SSL.Connection, data: object) -> bytes:
        return response

    ctx.set_ocsp_server_callback(staple)


def _assemble(
    options: TlsOptions, material: Material, errors: List[TlsError]
) -> Optional[SSL.Context]:
    """The default context (SNI contexts hang off it) from loaded ``material``; reads no file."""
    dh, _ = usable_dh(options, material.dh)  # _build reported the warning

    def context_for(identity: Identity) -> SSL.Context:
        ctx = _base_context(options, dh, errors)
        _use_identity(ctx, identity)
        _verify_client(options, ctx, list(material.cas))
        return ctx

    try:
        default = context_for(material.default)
        if material.ocsp is not None:
            _staple(default, material.ocsp)
        if errors:
            return None
        if material.sni:
            install_sni(default, {i.sni_name.lower(): context_for(i)  # type: ignore[union-attr]
                                  for i in material.sni})
        return default
    except SSL.Error as e:  # a fault OpenSSL found after our own checks passed
        errors.append(TlsError(options.path or "tls", f"OpenSSL refused the settings ({e})"))
        return None
    finally:
        clear_openssl_errors()


_Built = Tuple[Optional[SSL.Context], List[TlsError], Material, List[TlsError]]


def _build(options: TlsOptions) -> _Built:
    """Read every file once and build the contexts, collecting every fault, then the warnings
    about settings served otherwise than written (a dhparam OpenSSL refuses as too small)."""
    try:
        material, errors = load_material(options)
    finally:
        clear_openssl_errors()
    dh, warning = usable_dh(options, material.dh)
    warnings = [warning] if warning is not None else []
    if errors:
        _base_context(options, dh, errors)  # report the settings' faults too
        return None, errors, material, warnings
    return _assemble(options, material, errors), errors, material, warnings


def _built(options: TlsOptions) -> Tuple[SSL.Context, Material, List[TlsError]]:
    context, errors, material, warnings = _build(options)
    if errors or context is None:
        raise errors[0]
    return context, material, warnings


def load_server_tls(options: TlsOptions) -> Tuple[Optional["ServerTls"], List[TlsError]]:
    """Read every file of ``options`` once and build the server TLS; every fault found.

    Start-up and ``wampnode check`` both call this, so they report the same
    faults: the ServerTls is None when the list is not empty.
    """
    context, errors, material, warnings = _build(options)
    if errors or context is None:
        return None, errors
    return ServerTls(options, context, material, warnings=warnings), errors


def build_context(options: TlsOptions) -> SSL.Context:
    """Build a server context from ``options`` (reading every file now).

    Raises:
        TlsError: the first fault found (:func:`check_tls` lists all of them).
    """
    return _built(options)[0]


def check_tls(options: TlsOptions) -> List[TlsError]:
    """Every fault in ``options`` (files and settings), without listening."""
    return _build(options)[1]


@implementer(IOpenSSLServerConnectionCreator)
class ServerTls:
    """Creates server TLS connections from a context that is replaced over time.

    :meth:`reload` replaces it from the files (renewal); and once the context
    is :data:`TICKET_KEY_SECONDS` old, the next handshake first gets a fresh
    one built from the material already in memory, which gives new random
    session-ticket keys (see :func:`_sessions`). ``clock`` returns seconds
    (``time.monotonic`` by default; tests pass their own). ``warnings`` are
    those of the build (see :attr:`warnings`).
    """

    def __init__(self, options: TlsOptions, context: SSL.Context, material: Material,
                 clock: Callable[[], float] = time.monotonic,
                 ticket_key_seconds: float = TICKET_KEY_SECONDS,
                 warnings: Sequence[TlsError] = ()) -> None:
        self.options = options
        self._context = context
        self._material = material
        self._warnings = list(warnings)
        self._clock = clock
        self.ticket_key_seconds = ticket_key_seconds
        self._keys_since = clock()

    @property
    def context(self) -> SSL.Context:
        """The context new handshakes start with (an SNI callback may switch it)."""
        return self._context

    @property
    def material(self) -> Material:
        """The files the context was built from, as read (for the hygiene warnings)."""
        return self._material

    @property
    def warnings(self) -> List[TlsError]:
        """Settings of the last build (start or reload) served otherwise than written, each a
        one-line warning: a ``dhparam`` OpenSSL refuses as too small (DHE is off)."""
        return list(self._warnings)

    def serverConnectionForTLS(self, tlsProtocol: object) -> SSL.Connection:
        """Twisted's ``IOpenSSLServerConnectionCreator``: a connection for one peer."""
        if self._clock() - self._keys_since >= self.ticket_key_seconds:
            self.rotate_ticket_keys()
        return server_connection(self._context)

    def rotate_ticket_keys(self) -> bool:
        """Swap in a context with new ticket keys, built from the loaded material.

        No file is read. On failure the old context stays, the next try is one
        period later, and False is returned (with a warning logged).
        """
        self._keys_since = self._clock()
        errors: List[TlsError] = []
        context = _assemble(self.options, self._material, errors)
        if context is None:
            log.warn("TLS session ticket keys not rotated, the old ones stay: {problem}",
                     problem=errors[0].line() if errors else "unknown fault")
            return False
        self._context = context
        return True

    def reload(self, options: Optional[TlsOptions] = None) -> None:
        """Read key, certificates, DH, OCSP and SNI files again (each once); swap them in if all load.

        ``options`` replaces the settings too (a reloaded config file).
        Connections already open keep their context; only new handshakes see
        the new one (with new ticket keys). :attr:`warnings` become the new build's.

        Raises:
            TlsError: a file or setting cannot be used; the context in service
                stays and OpenSSL's error queue is left empty.
        """
        wanted = options if options is not None else self.options
        context, material, warnings = _built(wanted)
        self.options = wanted
        self._context = context
        self._material = material
        self._warnings = warnings
        self._keys_since = self._clock()


def server_tls(options: TlsOptions) -> ServerTls:
    """Build the server TLS of one endpoint.

    Raises:
        TlsError: a file or setting cannot be used (the first fault found).
    """
    context, material, warnings = _built(options)
    return ServerTls(options, context, material, warnings=warnings)
