"""Session tickets with rotating keys, and OCSP stapling.

Ticket rotation is checked twice: in memory with a clock the test turns (a
pyOpenSSL client resumes, then cannot once the keys rotated), and against a
node process with ``openssl s_client -sess_out/-sess_in`` across a reload.
"""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import List, Optional

import pytest
from cryptography.x509 import ocsp
from OpenSSL import SSL
from OpenSSL._util import lib as openssl_lib

from conftest import free_port, router_config, run_cli, tcp, wait_until
from membio import shake_hands
from node.errors import TlsError
from node.tls.context import TICKET_KEY_SECONDS, server_tls
from node.tls.hygiene import tls_warnings
from pki import make_pki, ocsp_response, tls_options

W = "workers[0].transports[0].endpoint.tls"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


# --- in memory: a handshake through memory BIOs ------------------------------------


def client_context(pki) -> SSL.Context:
    """A TLS 1.2 client (sessions resume only within one client context)."""
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
    ctx.load_verify_locations(str(pki.root_crt))
    ctx.set_verify(SSL.VERIFY_PEER)
    return ctx


def resume(tls, ctx: SSL.Context, session: Optional[SSL.Session] = None):
    """One handshake, offering ``session``; returns (reused?, the new session)."""
    client = SSL.Connection(ctx, None)
    client.set_connect_state()
    if session is not None:
        client.set_session(session)
    server = tls.serverConnectionForTLS(None)
    server.set_accept_state()
    shake_hands(client, server)
    assert client.get_protocol_version_name() == "TLSv1.2"
    # Freeing a connection that was not shut down marks its session not resumable
    # (OpenSSL's ssl_clear_bad_session), so say it was.
    client.set_shutdown(SSL.SENT_SHUTDOWN | SSL.RECEIVED_SHUTDOWN)
    return bool(openssl_lib.SSL_session_reused(client._ssl)), client.get_session()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ticket_resumes_until_keys_rotate(pki):
    """A ticket resumes a session until the keys are an hour old; then a full handshake."""
    tls = server_tls(tls_options(pki.leaf_key, pki.chain_crt))
    clock = Clock()
    tls._clock = clock
    tls._keys_since = clock.now
    ctx = client_context(pki)
    reused, session = resume(tls, ctx)
    assert not reused
    assert resume(tls, ctx, session)[0]
    first = tls.context
    clock.now += TICKET_KEY_SECONDS - 1
    assert resume(tls, ctx, session)[0] and tls.context is first
    clock.now += 1
    reused, fresh = resume(tls, ctx, session)
    assert not reused and tls.context is not first
    assert resume(tls, ctx, fresh)[0]  # the new keys' tickets resume again


def test_rotation_reads_no_certificate_file(pki, tmp_path):
    """Rotation builds from the loaded key and chain: the files may be gone meanwhile."""
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    key.write_bytes(pki.leaf_key.read_bytes())
    crt.write_bytes(pki.chain_crt.read_bytes())
    tls = server_tls(tls_options(key, crt))
    key.unlink()
    crt.unlink()
    old = tls.context
    assert tls.rotate_ticket_keys() and tls.context is not old
    rotated = tls.context
    assert not resume(tls, client_context(pki))[0]  # a full handshake with the new context
    with pytest.raises(TlsError):
        tls.reload()  # reload does read the files, and keeps the context on failure
    assert tls.context is rotated


# --- a node process and openssl s_client -------------------------------------------


def s_client(port: int, *args: str, sess_out: Optional[Path] = None) -> str:
    """One s_client run. With ``sess_out`` its stdin stays open until the session is
    saved there: a TLS 1.3 session ticket comes after the handshake."""
    if sess_out is not None:
        args += ("-sess_out", str(sess_out))
    proc = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    if sess_out is not None and not wait_until(lambda: session_saved(sess_out), 10):
        proc.kill()
        raise AssertionError(f"s_client saved no session:\n{proc.communicate()[0]}")
    out, _ = proc.communicate("", timeout=20)
    return out


def session_saved(path: Path) -> bool:
    return path.exists() and "-----END SSL SESSION PARAMETERS-----" in path.read_text(errors="replace")


def reuse_word(out: str) -> str:
    for line in out.splitlines():
        if line.startswith(("New,", "Reused,")):
            return line.split(",")[0]
    raise AssertionError(out)


def test_ticket_lifetime_hint_and_tickets_off(node_factory, pki):
    """Tickets carry a one-hour lifetime hint; with session_tickets false none is sent."""
    ports = [free_port(), free_port()]
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt)}
    node_factory(router_config([
        {"type": "websocket", "endpoint": tcp(ports[0], tls)},
        {"type": "websocket", "endpoint": tcp(ports[1], dict(tls, session_tickets=False))},
    ]))
    hint = f"TLS session ticket lifetime hint: {TICKET_KEY_SECONDS} (seconds)"
    assert hint in s_client(ports[0], "-tls1_2")
    without = s_client(ports[1], "-tls1_2")
    assert "Protocol  : TLSv1.2" in without and "TLS session ticket" not in without, without


@pytest.mark.parametrize("version", ["-tls1_3", "-tls1_2"])
def test_node_resumes_and_reload_rotates(tmp_path, node_factory, pki, version):
    """openssl s_client resumes with a ticket; after SIGHUP the old ticket gives a new session."""
    port = free_port()
    node = node_factory(router_config([{"type": "websocket", "endpoint": tcp(port, {
        "key": str(pki.leaf_key), "certificate": str(pki.chain_crt)})}]))
    session = tmp_path / "session.pem"
    assert reuse_word(s_client(port, version, sess_out=session)) == "New"
    assert reuse_word(s_client(port, version, "-sess_in", str(session))) == "Reused"
    node.signal(signal.SIGHUP)
    assert node.wait_for("TLS certificates and keys reloaded")
    assert reuse_word(s_client(port, version, "-sess_in", str(session))) == "New"


# --- OCSP stapling -------------------------------------------------------------------


def test_ocsp_staple_served(tmp_path, node_factory, pki):
    """With ocsp_staple, s_client -status gets the response; without it, none."""
    staple = ocsp_response(pki, tmp_path / "server.ocsp")
    ports = [free_port(), free_port()]
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt)}
    node_factory(router_config([
        {"type": "websocket", "endpoint": tcp(ports[0], dict(tls, ocsp_staple=str(staple)))},
        {"type": "websocket", "endpoint": tcp(ports[1], tls)},
    ]))
    stapled = s_client(ports[0], "-status")
    assert "OCSP Response Status: successful (0x0)" in stapled, stapled
    assert "Cert Status: good" in stapled
    plain = s_client(ports[1], "-status")
    assert "OCSP response: no response sent" in plain, plain


def test_ocsp_staple_for_another_certificate(tmp_path, pki):
    """A response about another certificate refuses to start: exit 2, one line."""
    from pki import issue

    _, other = issue(pki, "other")
    staple = ocsp_response(pki, tmp_path / "other.ocsp", leaf_path=other)
    config = router_config([{"type": "websocket", "endpoint": tcp(free_port(), {
        "key": str(pki.leaf_key), "certificate": str(pki.chain_crt), "ocsp_staple": str(staple)})}])
    (tmp_path / "config.json").write_text(__import__("json").dumps(config))
    result = run_cli("check", "--cbdir", str(tmp_path))
    assert result.returncode == 2
    assert f"{W}.ocsp_staple: {staple} answers for serial " in result.stderr
    assert "Fetch the response for the certificate this endpoint serves" in result.stderr


def test_ocsp_staple_not_der(tmp_path, pki):
    """A file that is not a DER OCSP response is refused with one line."""
    bad = tmp_path / "bad.ocsp"
    bad.write_bytes(pki.leaf_crt.read_bytes())
    with pytest.raises(TlsError) as caught:
        server_tls(tls_options(pki.leaf_key, pki.chain_crt, ocsp_staple=bad))
    assert caught.value.line() == (f"{W}.ocsp_staple: {bad} holds PEM text, not a DER OCSP "
                                   "response. Fetch it again: openssl ocsp ... -respout FILE (DER)")


def test_ocsp_staple_out_of_date_and_revoked_warnings(tmp_path, pki):
    """An out-of-date staple and a REVOKED one are check warnings."""
    old = ocsp_response(pki, tmp_path / "old.ocsp", next_update=-1)
    lines: List[str] = tls_warnings(tls_options(pki.leaf_key, pki.chain_crt, ocsp_staple=old))
    (line,) = lines
    assert line.startswith(f"{W}.ocsp_staple: OCSP response {old} is out of date since ")
    revoked = ocsp_response(pki, tmp_path / "revoked.ocsp", status=ocsp.OCSPCertStatus.REVOKED)
    assert tls_warnings(tls_options(pki.leaf_key, pki.chain_crt, ocsp_staple=revoked)) == [
        f"{W}.ocsp_staple: OCSP response {revoked} says the certificate is REVOKED; clients "
        "will refuse it. Get a new certificate, then reload"
    ]
