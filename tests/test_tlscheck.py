"""node.tlscheck: warnings about certificates, keys and DH groups that still load."""
from __future__ import annotations

import datetime
import os

import pytest

from node.tlscheck import tls_warnings
from pki import (
    ca_as_leaf,
    days_ahead,
    dhparam,
    expired_leaf,
    future_leaf,
    issue,
    make_pki,
    tls_options,
)

W = "workers[0].transports[0].endpoint.tls"


@pytest.fixture(scope="module")
def ec_pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("ec"))


def options(pki, **overrides):
    return tls_options(pki.leaf_key, pki.chain_crt, **overrides)


def _warnings_for(pki, key, crt, **kw):
    return tls_warnings(tls_options(key, crt), **kw)


def test_no_warnings_for_a_good_leaf(ec_pki):
    """A fresh leaf with a 0600 key has no warnings."""
    assert tls_warnings(options(ec_pki)) == []


def test_expired_warning(ec_pki):
    """An expired leaf is a warning with its end date."""
    key, crt = expired_leaf(ec_pki)
    (line,) = _warnings_for(ec_pki, key, crt)
    assert line.startswith(f"{W}.certificate: certificate {crt} (CN=expired,O=wampnode tests) expired on ")
    assert line.endswith(" UTC. Renew it; clients refuse expired certificates")


def test_expiring_soon_warning(ec_pki):
    """A leaf that ends within 30 days is a warning."""
    key, crt = issue(ec_pki, "soon", not_after=days_ahead(5))
    (line,) = _warnings_for(ec_pki, key, crt)
    assert " expires on " in line and line.endswith("Renew it soon, then reload")


def test_not_yet_valid_warning(ec_pki):
    """A leaf valid only from a future date is a warning naming the clock."""
    key, crt = future_leaf(ec_pki)
    (line,) = _warnings_for(ec_pki, key, crt)
    assert " is not valid before " in line and line.endswith("Check this machine's clock, or wait")


def test_ca_as_leaf_warning(ec_pki):
    """A CA certificate used as the server certificate is a warning."""
    key, crt = ca_as_leaf(ec_pki)
    assert _warnings_for(ec_pki, key, crt) == [
        f"{W}.certificate: the first certificate in {crt} (CN=ca-leaf,O=wampnode tests) "
        "is a CA certificate, not a server certificate. "
        "Put the server (leaf) certificate first, or issue one from this CA"
    ]


def test_key_mode_warning(ec_pki, tmp_path):
    """A key file readable by others is a warning with the chmod that fixes it."""
    key = tmp_path / "open.key"
    key.write_bytes(ec_pki.leaf_key.read_bytes())
    os.chmod(key, 0o644)
    assert _warnings_for(ec_pki, key, ec_pki.chain_crt) == [
        f"{W}.key: private key {key} is readable by group or others (mode 0644). chmod 600 {key}"
    ]


def test_small_dh_warning(ec_pki, tmp_path):
    """A DH group under 2048 bits, and one that is not from RFC 7919, are warnings."""
    small = dhparam(tmp_path, small=True)
    assert tls_warnings(options(ec_pki, dhparam=small)) == [
        f"{W}.dhparam: DH parameters in {small} have 1536 bits, under 2048 (Logjam). "
        "Use RFC 7919 ffdhe2048 or: openssl dhparam -out dhparam.pem 2048",
        f"{W}.dhparam: DH parameters in {small} are not an RFC 7919 group, so clients "
        "that list FFDHE groups (OpenSSL 4.0 does) get no DHE suite. "
        "Use ffdhe2048: https://ssl-config.mozilla.org/ffdhe2048.txt",
    ]


def test_ffdhe2048_no_warning(ec_pki, tmp_path):
    """The RFC 7919 ffdhe2048 group gives no warning."""
    assert tls_warnings(options(ec_pki, dhparam=dhparam(tmp_path))) == []


def test_warnings_at_a_given_time(ec_pki):
    """tls_warnings takes the time to judge by: a good leaf is expired next year+."""
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=400)
    (line,) = tls_warnings(options(ec_pki), now=later)
    assert " expired on " in line
