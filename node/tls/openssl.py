"""What pyOpenSSL has no public call for: the few private bindings wampnode uses.

Everything here reaches into ``OpenSSL._util`` (the cffi bindings pyOpenSSL and
``cryptography`` ship) because pyOpenSSL 26 offers no public way to:

- empty OpenSSL's per-thread error queue (:func:`clear_openssl_errors`);
- set a list of key-exchange groups, not just one curve (:func:`set_groups`);
- set DH parameters from memory rather than from a path
  (:func:`use_dh_parameters`), so that a ``dhparam`` file is read once, not at
  every context build (start, each SNI name, each ticket-key rotation).

It is the leaf of :mod:`node.tls`: it imports nothing of wampnode, so every
other TLS module may use it.
"""
from __future__ import annotations

from OpenSSL import SSL, crypto
from OpenSSL._util import exception_from_error_queue
from OpenSSL._util import ffi as _openssl_ffi
from OpenSSL._util import lib as _openssl_lib

__all__ = [
    "clear_openssl_errors", "can_set_group_lists", "can_set_tls13_ciphersuites",
    "set_groups", "use_dh_parameters",
]


def clear_openssl_errors() -> None:
    """Empty OpenSSL's per-thread error queue.

    A failed load can leave entries there, and pyOpenSSL reads that queue when a
    later ``SSL_read``/``SSL_write`` on an unrelated connection fails in a
    syscall, turning a clean close into a bogus error.
    """
    _openssl_lib.ERR_clear_error()


def can_set_group_lists() -> bool:
    """Whether a ``curve`` list of several groups (and a dhparam's RFC 7919 group
    beside the curve) can be set: cryptography 44 and later bind the call; PyPy
    3.9's newest wheel is cryptography 43."""
    return hasattr(_openssl_lib, "SSL_CTX_set1_curves_list")


def can_set_tls13_ciphersuites() -> bool:
    """Whether ``ciphersuites`` can be set: pyOpenSSL 25.2 and later (PyPy 3.9 gets 25.1)."""
    return hasattr(SSL.Context, "set_tls13_ciphersuites")


def set_groups(context: SSL.Context, groups: str) -> bool:
    """Set the key-exchange groups (curves) of ``context``, most preferred first.

    ``groups`` is an OpenSSL group list such as ``"prime256v1:X25519"``. Returns
    False (and leaves the error queue clean) when OpenSSL rejects a name.
    pyOpenSSL 26 offers only ``set_tmp_ecdh`` (one curve), so this uses the
    ``SSL_CTX_set1_curves_list`` binding (``SSL_CTX_set1_groups_list`` is not
    bound); both names are the same OpenSSL function.
    """
    try:
        raw = groups.encode("ascii")
    except UnicodeEncodeError:
        return False
    if not groups or "::" in groups or groups.startswith(":") or groups.endswith(":"):
        return False
    if not can_set_group_lists():
        return _set_one_curve(context, groups)
    ok = _openssl_lib.SSL_CTX_set1_curves_list(context._context, raw) == 1
    clear_openssl_errors()
    return ok


def _set_one_curve(context: SSL.Context, group: str) -> bool:
    """cryptography < 44 binds no group-list call (PyPy 3.9's newest wheel is 43):
    one named EC curve through the public ``set_tmp_ecdh``; a list is refused."""
    if ":" in group:
        return False
    try:
        context.set_tmp_ecdh(crypto.get_elliptic_curve(group))
    except ValueError:
        return False
    finally:
        clear_openssl_errors()
    return True


def use_dh_parameters(context: SSL.Context, pem: bytes) -> None:
    """Set the finite-field DH group for DHE suites from PEM ``pem`` (already read).

    The calls are those of pyOpenSSL's ``Context.load_tmp_dh``, with a memory
    BIO in place of a file BIO.

    Raises:
        SSL.Error: OpenSSL refuses the group (e.g. "dh key too small" under
            security level 2), with OpenSSL's reasons as ``load_tmp_dh`` gives
            them; the error queue is left empty.
    """
    bio = _openssl_lib.BIO_new_mem_buf(pem, len(pem))
    if bio == _openssl_ffi.NULL:
        exception_from_error_queue(SSL.Error)
    bio = _openssl_ffi.gc(bio, _openssl_lib.BIO_free)
    dh = _openssl_lib.PEM_read_bio_DHparams(bio, _openssl_ffi.NULL, _openssl_ffi.NULL, _openssl_ffi.NULL)
    if dh == _openssl_ffi.NULL:
        exception_from_error_queue(SSL.Error)
    dh = _openssl_ffi.gc(dh, _openssl_lib.DH_free)
    if _openssl_lib.SSL_CTX_set_tmp_dh(context._context, dh) != 1:
        exception_from_error_queue(SSL.Error)
