"""TLS of a real node process, observed by the system ``openssl s_client``.

One node with several TLS transports (one per configuration under test) serves
most tests, to keep the suite fast; reload, client certificates and start-up
errors get nodes of their own.
"""
from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from conftest import free_port, router_config, run_cli, start_node, tcp
from pki import dhparam, expired_leaf, issue, make_pki, mismatched_key
from stack import needs_ciphersuites, needs_group_lists
from wampclient import connect, leave, run

from node.config import shown_path
from node.tls.openssl import can_set_group_lists, can_set_tls13_ciphersuites

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

# `openssl dhparam -out dh1024.pem 1024` output, as Crossbar.io's rest/publisher_tls
# example ships one (generating it takes 0.4 to 2 s here, so it is committed).
DH1024 = Path(__file__).resolve().parent / "data" / "dh1024.pem"


def small_dh_warning(bits: int) -> str:
    """The end of the warning about a dhparam file OpenSSL refuses as too small (after its path)."""
    return (f"holds {bits}-bit DH parameters, which OpenSSL refuses as too small for its security level "
            "(2048 bits at the default level 2), so no DHE cipher suite is offered (ECDHE and TLS 1.3 "
            "are unaffected). Fix: make a 2048-bit group with `openssl dhparam -out dhparam.pem 2048`, "
            "use RFC 7919 ffdhe2048, or remove dhparam")


def ws_transport(port: int, tls: Dict, interface: str = "127.0.0.1", version: int = 4) -> Dict:
    return {"type": "websocket", "endpoint": tcp(port, tls, interface, version)}


def s_client(port: int, *args: str, host: str = "127.0.0.1", send: str = "") -> subprocess.CompletedProcess:
    """One handshake with ``openssl s_client``; stdout and stderr together in ``.stdout``."""
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return subprocess.run(
        ["openssl", "s_client", "-connect", address, *args],
        input=send, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=20,
    )


def temp_key(output: str) -> str:
    """The key exchange s_client reports: e.g. 'ECDH, prime256v1, 256 bits'."""
    match = re.search(r"(?:Server|Peer) Temp Key: (.*)", output)
    return match.group(1).strip() if match else ""


def field(output: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}: (.*)$", output, re.M)
    return match.group(1).strip() if match else ""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A node with one TLS transport per configuration; yields names -> ports."""
    base = tmp_path_factory.mktemp("tls-node")
    ec = make_pki(base / "ec")
    rsa = make_pki(base / "rsa", key_type="rsa")
    dh = str(dhparam(base))
    chain = {"key": str(ec.leaf_key), "certificate": str(ec.chain_crt)}
    ports = {name: free_port() for name in (
        "default", "rsa_dh", "rsa_dh_ciphers", "p384", "list", "tls13", "suites")}
    ports["v6"] = free_port("::1")
    transports: List[Dict] = [
        ws_transport(ports["default"], chain),
        ws_transport(ports["p384"], dict(chain, curve="secp384r1")),
        ws_transport(ports["tls13"], dict(chain, min_version="TLSv1.3")),
        ws_transport(ports["v6"], chain, interface="::1", version=6),
    ]
    if can_set_group_lists():  # else these tests skip (tests/stack.py)
        transports += [
            ws_transport(ports["rsa_dh"], {
                "key": str(rsa.leaf_key), "certificate": str(rsa.leaf_crt),
                "chain_certificates": [str(rsa.intermediate_crt)], "dhparam": dh}),
            ws_transport(ports["rsa_dh_ciphers"], {
                "key": str(rsa.leaf_key), "certificate": str(rsa.chain_crt), "dhparam": dh,
                "ciphers": "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256"}),
            ws_transport(ports["list"], dict(chain, curve="prime256v1:X25519")),
        ]
    if can_set_tls13_ciphersuites():
        transports.append(ws_transport(ports["suites"], dict(chain, ciphersuites="TLS_CHACHA20_POLY1305_SHA256")))
    node = start_node(router_config(transports), base / "node")
    try:
        yield {"ports": ports, "ec": ec, "rsa": rsa, "node": node}
    finally:
        node.stop()


def test_default_is_tls13_with_p256(served):
    """The default configuration negotiates TLS 1.3 with group prime256v1."""
    out = s_client(served["ports"]["default"], "-brief").stdout
    assert field(out, "Protocol version") == "TLSv1.3", out
    assert temp_key(out) == "ECDH, prime256v1, 256 bits", out


def test_default_tls12_is_ecdhe_gcm_p256(served):
    """With -tls1_2 the default offers an ECDHE AES-GCM suite over P-256."""
    out = s_client(served["ports"]["default"], "-brief", "-tls1_2").stdout
    assert re.fullmatch(r"ECDHE-(ECDSA|RSA)-AES(128|256)-GCM-SHA(256|384)",
                        field(out, "Ciphersuite")), out
    assert temp_key(out) == "ECDH, prime256v1, 256 bits", out


@pytest.mark.parametrize("version", ["-tls1_1", "-tls1"])
def test_old_versions_refused(served, version):
    """TLS 1.1 and 1.0 are refused even by a client that allows weak ciphers."""
    result = s_client(served["ports"]["default"], version, "-cipher", "DEFAULT:@SECLEVEL=0")
    assert result.returncode != 0
    assert "alert protocol version" in result.stdout, result.stdout


@needs_group_lists
@pytest.mark.parametrize("name", ["rsa_dh", "rsa_dh_ciphers"])
def test_dhe_with_dhparam(served, name):
    """With dhparam (default or explicit DHE ciphers), a DHE-only client gets DHE."""
    out = s_client(served["ports"][name], "-brief", "-tls1_2",
                   "-cipher", "DHE-RSA-AES128-GCM-SHA256").stdout
    assert field(out, "Ciphersuite") == "DHE-RSA-AES128-GCM-SHA256", out
    assert temp_key(out) == "DH, 2048 bits", out


def test_no_dhe_without_dhparam(served):
    """Without dhparam a DHE-only client is refused."""
    result = s_client(served["ports"]["default"], "-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256")
    assert result.returncode != 0
    assert "handshake failure" in result.stdout, result.stdout


@pytest.mark.parametrize("version", [[], ["-tls1_2"]])
def test_curve_secp384r1(served, version):
    """curve secp384r1 gives P-384 on TLS 1.3 and 1.2."""
    out = s_client(served["ports"]["p384"], "-brief", *version).stdout
    assert temp_key(out) == "ECDH, secp384r1, 384 bits", out


@needs_group_lists
def test_curve_list(served):
    """prime256v1:X25519: TLS 1.3 follows the client's X25519 share, TLS 1.2 takes P-256."""
    out13 = s_client(served["ports"]["list"], "-brief").stdout
    out12 = s_client(served["ports"]["list"], "-brief", "-tls1_2").stdout
    assert temp_key(out13) == "X25519, 253 bits", out13
    assert temp_key(out12) == "ECDH, prime256v1, 256 bits", out12


@needs_group_lists
def test_hello_retry_only_with_p256_alone(served):
    """An X25519-first client (OpenSSL's default) gets a HelloRetryRequest from the P-256-only
    default (two ServerHello messages) and none from prime256v1:X25519 (README: Defaults)."""
    def server_hellos(port: int) -> int:
        return s_client(port, "-msg").stdout.count("ServerHello")

    assert server_hellos(served["ports"]["default"]) == 2
    assert server_hellos(served["ports"]["list"]) == 1


def test_groups_outside_profile_refused(served):
    """A client offering only X448 and P-521 is refused by the default group list."""
    result = s_client(served["ports"]["default"], "-groups", "X448:P-521")
    assert result.returncode != 0, result.stdout


def test_min_tls13(served):
    """min_version TLSv1.3 refuses a TLS 1.2 client and accepts TLS 1.3."""
    assert s_client(served["ports"]["tls13"], "-tls1_2").returncode != 0
    out = s_client(served["ports"]["tls13"], "-brief").stdout
    assert field(out, "Protocol version") == "TLSv1.3", out


@needs_ciphersuites
def test_ciphersuites(served):
    """ciphersuites limits TLS 1.3 to the named suite."""
    out = s_client(served["ports"]["suites"], "-brief").stdout
    assert field(out, "Ciphersuite") == "TLS_CHACHA20_POLY1305_SHA256", out


@pytest.mark.parametrize("name", ["default", pytest.param("rsa_dh", marks=needs_group_lists)])
def test_chain_served_and_verifies(served, name):
    """The intermediate is served (from the certificate file or chain_certificates)."""
    pki = served["ec"] if name == "default" else served["rsa"]
    shown = s_client(served["ports"][name], "-showcerts").stdout
    assert shown.count("-----BEGIN CERTIFICATE-----") == 2, shown
    result = s_client(served["ports"][name], "-verify_return_error", "-CAfile", str(pki.root_crt))
    assert result.returncode == 0, result.stdout
    assert "Verify return code: 0 (ok)" in result.stdout


def test_ipv6(served):
    """TLS works on an IPv6 endpoint (::1) with the same defaults."""
    out = s_client(served["ports"]["v6"], "-brief", "-verify_return_error",
                   "-CAfile", str(served["ec"].root_crt), host="::1").stdout
    assert field(out, "Protocol version") == "TLSv1.3", out
    assert temp_key(out) == "ECDH, prime256v1, 256 bits", out


# --- nodes of their own ---------------------------------------------------------------


def test_bad_key_is_one_line_exit_2(tmp_path):
    """A key that does not match the certificate stops start-up: exit 2, one line."""
    pki = make_pki(tmp_path / "pki")
    other = mismatched_key(pki)
    config = router_config([ws_transport(free_port(), {
        "key": str(other), "certificate": str(pki.chain_crt)})])
    node = start_node(config, tmp_path / "node", wait=False)
    code = node.proc.wait(20)
    out = node.output()
    assert code == 2, out
    assert (f"workers[0].transports[0].endpoint.tls.key: key {other} does not match "
            f"certificate {pki.chain_crt}. Use the key the certificate was issued for") in out
    assert "Traceback" not in out


def test_bad_key_refused_before_anything_listens(tmp_path):
    """A bad key on the second transport stops start-up before the first (plain) one listens."""
    pki = make_pki(tmp_path / "pki")
    config = router_config([
        {"type": "rawsocket", "endpoint": tcp(free_port())},
        ws_transport(free_port(), {"key": str(mismatched_key(pki)), "certificate": str(pki.chain_crt)})])
    node = start_node(config, tmp_path / "node", wait=False)
    assert node.proc.wait(20) == 2
    out = node.output()
    assert "workers[0].transports[1].endpoint.tls.key: key " in out, out
    assert "Listening:" not in out and "Traceback" not in out, out


def test_check_reports_tls_errors(tmp_path):
    """wampnode check lists every TLS fault, one line each, exit 2."""
    pki = make_pki(tmp_path / "pki")
    cbdir = tmp_path / "node"
    cbdir.mkdir()
    config = router_config([ws_transport(free_port(), {
        "key": "missing.key", "certificate": str(pki.chain_crt),
        "ciphers": "NOPE", "curve": "nocurve"})])
    (cbdir / "config.json").write_text(__import__("json").dumps(config))
    result = run_cli("check", "--cbdir", str(cbdir))
    out = result.stdout + result.stderr
    assert result.returncode == 2, out
    assert f"endpoint.tls.key: file {cbdir / 'missing.key'} does not exist." in out
    assert 'endpoint.tls.ciphers: "NOPE" selects no cipher' in out
    assert 'endpoint.tls.curve: unknown or unsupported group "nocurve"' in out
    assert "Traceback" not in out


def _small_dh_config(tmp_path: Path) -> Tuple[Path, List[int], Dict]:
    """Two RSA transports with the 1024-bit dhparam: default ciphers, and an explicit DHE string."""
    pki = make_pki(tmp_path / "pki", key_type="rsa")
    cbdir = tmp_path / "node"
    cbdir.mkdir()
    (cbdir / "dhparam.pem").write_bytes(DH1024.read_bytes())
    ports = [free_port(), free_port()]
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt), "dhparam": "dhparam.pem"}
    config = router_config([
        ws_transport(ports[0], tls),
        ws_transport(ports[1], dict(tls, ciphers="ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256"))])
    return cbdir, ports, config


def _dh_lines(text: str) -> List[str]:
    return [line for line in text.splitlines() if "tls.dhparam" in line]


def test_small_dhparam_check_warns_exit_0(tmp_path):
    """wampnode check: a 1024-bit dhparam is one warning line per endpoint (file, bits, DHE off, fix),
    exit 0, with --strict too (nothing weak is served); no Logjam hygiene line beside it."""
    cbdir, _, config = _small_dh_config(tmp_path)
    (cbdir / "config.json").write_text(__import__("json").dumps(config))
    dh = cbdir / "dhparam.pem"
    for args in ([], ["--strict"]):
        result = run_cli("check", "--cbdir", str(cbdir), *args)
        out = result.stdout + result.stderr
        assert result.returncode == 0, out
        assert _dh_lines(result.stderr) == [
            f"warning: {shown_path(str(cbdir / 'config.json'))}: workers[0].transports[{i}].endpoint.tls.dhparam: "
            f"{dh} {small_dh_warning(1024)}" for i in (0, 1)], out
        assert "Logjam" not in out and "Traceback" not in out, out


def test_small_dhparam_starts_without_dhe(tmp_path, node_factory):
    """wampnode start with a 1024-bit dhparam logs the warning and serves ECDHE and TLS 1.3, not DHE."""
    cbdir, ports, config = _small_dh_config(tmp_path)
    node = node_factory(config, cbdir)
    lines = _dh_lines(node.output())
    assert len(lines) == 2, node.output()
    for i, line in enumerate(lines):
        assert "warn" in line.lower(), line
        assert line.endswith(f"config.json: workers[0].transports[{i}].endpoint.tls.dhparam: "
                             f"{cbdir / 'dhparam.pem'} {small_dh_warning(1024)}"), line
    for port in ports:
        refused = s_client(port, "-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256")
        assert refused.returncode != 0, refused.stdout
        assert "handshake failure" in refused.stdout, refused.stdout
        out = s_client(port, "-brief", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256").stdout
        assert field(out, "Ciphersuite") == "ECDHE-RSA-AES128-GCM-SHA256", out
        assert temp_key(out) == "ECDH, prime256v1, 256 bits", out
        out = s_client(port, "-brief", "-tls1_3").stdout
        assert field(out, "Protocol version") == "TLSv1.3", out


def test_expired_certificate_starts_with_warning(tmp_path, node_factory):
    """An expired certificate is logged as a warning and the node still serves."""
    pki = make_pki(tmp_path / "pki")
    key, crt = expired_leaf(pki)
    port = free_port()
    node = node_factory(router_config([ws_transport(port, {"key": str(key), "certificate": str(crt)})]))
    assert f"certificate {crt} (CN=expired,O=wampnode tests) expired on " in node.output()
    assert field(s_client(port, "-brief").stdout, "Protocol version") == "TLSv1.3"


def test_client_certificate_required(tmp_path, node_factory):
    """verify_client required: no certificate is refused, one from the CA connects."""
    pki = make_pki(tmp_path / "pki")
    key, crt = issue(pki, "alice", hosts=[], client=True)
    port = free_port()
    node_factory(router_config([ws_transport(port, {
        "key": str(pki.leaf_key), "certificate": str(pki.chain_crt),
        "ca_certificates": [str(pki.root_crt)], "verify_client": "required"})]))
    request = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    # TLS 1.3 checks the client certificate after the client's handshake is
    # done: -ign_eof makes s_client read on and see the server's alert.
    refused = s_client(port, "-brief", "-ign_eof", send=request)
    assert "alert certificate required" in refused.stdout, refused.stdout
    accepted = s_client(port, "-brief", "-ign_eof", "-cert", str(crt), "-key", str(key),
                        "-cert_chain", str(pki.intermediate_crt), send=request)
    assert "alert" not in accepted.stdout, accepted.stdout
    assert "HTTP/1.1 " in accepted.stdout, accepted.stdout


def test_sni_names(tmp_path, node_factory):
    """Two SNI names and the default each get their own certificate."""
    pki = make_pki(tmp_path / "pki")
    a_key, a_crt = issue(pki, "a.example.test", hosts=["a.example.test"])
    w_key, w_crt = issue(pki, "wild.example.test", hosts=["*.example.org"])
    inter = str(pki.intermediate_crt)
    port = free_port()
    node_factory(router_config([ws_transport(port, {
        "key": str(pki.leaf_key), "certificate": str(pki.chain_crt),
        "sni": {"a.example.test": {"key": str(a_key), "certificate": str(a_crt),
                                   "chain_certificates": [inter]},
                "*.example.org": {"key": str(w_key), "certificate": str(w_crt),
                                  "chain_certificates": [inter]}}})]))

    def subject(*args: str) -> str:
        return field(s_client(port, "-brief", *args).stdout, "Peer certificate")

    assert subject("-servername", "a.example.test") == "O = wampnode tests, CN = a.example.test"
    assert subject("-servername", "x.example.org") == "O = wampnode tests, CN = wild.example.test"
    assert subject("-servername", "other.test") == "O = wampnode tests, CN = localhost"


def _served_subject(port: int, cafile: Path) -> str:
    out = s_client(port, "-brief", "-verify_return_error", "-CAfile", str(cafile)).stdout
    return field(out, "Peer certificate")


def test_sighup_reload(tmp_path, node_factory):
    """SIGHUP serves a renewed certificate, refuses a broken one, and keeps sessions open."""
    pki = make_pki(tmp_path / "pki")
    cbdir = tmp_path / "node"
    cbdir.mkdir()
    key, crt = cbdir / "server.key", cbdir / "server.crt"
    key.write_bytes(pki.leaf_key.read_bytes())
    crt.write_bytes(pki.chain_crt.read_bytes())
    port = free_port()
    node = node_factory(router_config([ws_transport(port, {
        "key": "server.key", "certificate": "server.crt"})]), cbdir)
    assert _served_subject(port, pki.root_crt) == "O = wampnode tests, CN = localhost"

    async def scenario() -> None:
        session = await connect(f"wss://localhost:{port}/", cafile=str(pki.root_crt))
        await session.register(lambda: "pong", "test.ping")

        new_key, new_crt = issue(pki, "renewed")
        key.write_bytes(new_key.read_bytes())
        crt.write_bytes(new_crt.read_bytes() + pki.intermediate_crt.read_bytes())
        node.signal(signal.SIGHUP)
        await asyncio.to_thread(node.wait_for, "TLS certificates and keys reloaded")
        subject = await asyncio.to_thread(_served_subject, port, pki.root_crt)
        assert subject == "O = wampnode tests, CN = renewed"

        key.write_bytes(mismatched_key(pki, "broken.key").read_bytes())
        node.signal(signal.SIGHUP)
        assert await asyncio.to_thread(node.wait_for, "Reload refused")
        subject = await asyncio.to_thread(_served_subject, port, pki.root_crt)
        assert subject == "O = wampnode tests, CN = renewed"

        assert await session.call("test.ping") == "pong"
        await leave(session)

    run(scenario())
    out = node.output()
    assert f"endpoint.tls.key: key {key} does not match" in out
    assert out.count("TLS certificates and keys reloaded") == 1, out


@needs_group_lists
def test_reload_with_small_dh_turns_dhe_off(tmp_path, node_factory):
    """A reload with a DH group OpenSSL refuses as too small (1536 bits) is accepted, as at start:
    one warning, DHE off, ECDHE still served, open sessions kept."""
    pki = make_pki(tmp_path / "pki", key_type="rsa")
    cbdir = tmp_path / "node"
    cbdir.mkdir()
    dh = dhparam(cbdir)  # ffdhe2048 at cbdir/dhparam.pem
    port = free_port()
    node = node_factory(router_config([ws_transport(port, {
        "key": str(pki.leaf_key), "certificate": str(pki.chain_crt), "dhparam": "dhparam.pem"})]),
        cbdir)

    def dhe() -> subprocess.CompletedProcess:
        return s_client(port, "-brief", "-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256")

    def ecdhe_key() -> str:
        out = s_client(port, "-brief", "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256").stdout
        return temp_key(out)

    assert temp_key(dhe().stdout) == "DH, 2048 bits"

    async def scenario() -> None:
        session = await connect(f"wss://localhost:{port}/", cafile=str(pki.root_crt))
        await session.register(lambda: "pong", "test.ping")
        dh.write_bytes(dhparam(tmp_path, small=True).read_bytes())
        node.signal(signal.SIGHUP)
        assert await asyncio.to_thread(node.wait_for, "TLS certificates and keys reloaded")
        refused = await asyncio.to_thread(dhe)
        assert refused.returncode != 0 and "handshake failure" in refused.stdout, refused.stdout
        assert await asyncio.to_thread(ecdhe_key) == "ECDH, prime256v1, 256 bits"
        assert await session.call("test.ping") == "pong"
        await leave(session)

    run(scenario())
    out = node.output()
    assert "Reload refused" not in out, out
    (line,) = _dh_lines(out)  # logged by the reload, not at start (ffdhe2048 then)
    assert line.endswith(f"config.json: workers[0].transports[0].endpoint.tls.dhparam: {dh} "
                         f"{small_dh_warning(1536)}"), out
