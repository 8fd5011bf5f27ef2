"""Outgoing TLS trust, end to end: a node's ``tcpbridge`` paths reach TLS echo servers.

The servers present certificates from a test CA (root -> intermediate -> leaf).
Each path has its own ``trust`` block (default, cafile, JIT with and without the
root in the bundle, short TTL, pins, a server lying about its AKID, a chain
without its intermediate, a name mismatch). The echo servers count TCP
connections, which shows when JIT trust retried and when the cache let the
first attempt succeed. ``wampnode trust diagnose`` is run against the same servers.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import time
from pathlib import Path
from typing import Any, Dict, Iterator, Optional, Tuple

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from bridgekit import EchoServer, bridge_config, bridge_path, tcp_target, wait_until
from conftest import free_port, run_cli, start_node, tcp
from pki import days_ahead, days_ago, issue, make_pki, new_key, write_certs, write_key
from wsraw import RawWebSocket, frame

from node.tls.certinfo import spki_sha256, subject_key_id

ROOT_NAME = "CN=wampnode test root CA,O=wampnode tests"


def lying_leaf(pki: Any, directory: Path) -> Tuple[Path, Path]:
    """A leaf that names the real root as issuer (name and AKID) but is signed by another key."""
    root = x509.load_pem_x509_certificate(pki.root_crt.read_bytes())
    leaf_key, forger = new_key("ec"), new_key("ec")
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(root.subject).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(days_ago(1)).not_valid_after(days_ahead(30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier(subject_key_id(root), None, None), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(forger, hashes.SHA256()))
    return write_key(directory / "liar.key", leaf_key), write_certs(directory / "liar.crt", [cert])


@pytest.fixture(scope="module")
def trust_setup(tmp_path_factory: Any) -> Iterator[Any]:
    directory = tmp_path_factory.mktemp("trust")
    pki = make_pki(directory / "pki")
    other_key, other_crt = issue(pki, "other", hosts=("other.example",))
    other_chain = write_certs(directory / "other-chain.crt", [x509.load_pem_x509_certificate(other_crt.read_bytes()),
                                                              x509.load_pem_x509_certificate(pki.intermediate_crt.read_bytes())])
    liar_key, liar_crt = lying_leaf(pki, directory)
    bundle = directory / "bundle-with-root.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + pki.root_crt.read_bytes())
    servers = {
        "good": EchoServer("--tls", str(pki.chain_crt), str(pki.leaf_key)),
        "leafonly": EchoServer("--tls", str(pki.leaf_crt), str(pki.leaf_key)),
        "liar": EchoServer("--tls", str(liar_crt), str(liar_key)),
        "other": EchoServer("--tls", str(other_chain), str(other_key)),
    }
    leaf_pin = spki_sha256(x509.load_pem_x509_certificate(pki.leaf_crt.read_bytes()))
    other_pin = base64.b64encode(b"\7" * 32).decode()
    root = str(pki.root_crt)

    def path(server: str, trust: Optional[Dict[str, Any]] = None, **tls: Any) -> Dict[str, Any]:
        return bridge_path(tcp_target(servers[server].port, tls=dict(tls, **({"trust": trust} if trust else {}))))

    jit = {"store": "jit", "jit_bundle": str(bundle)}
    paths = {
        "default": path("good"),
        "cafile": path("good", {"cafile": root}),
        "jit": path("good", jit),
        "jitshort": path("good", dict(jit, jit_ttl=1)),
        "jitcertifi": path("good", {"store": "jit"}),
        "pinok": path("good", {"pin_sha256": [leaf_pin]}),
        "pinbad": path("good", {"pin_sha256": [other_pin]}),
        "liar": path("liar", jit),
        "leafonly": path("leafonly"),
        "mismatch": path("other", {"cafile": root}),
        "hostname": path("other", {"cafile": root}, hostname="other.example"),
    }
    port = free_port()
    node = start_node(bridge_config(port, paths), directory / "node")
    yield port, servers, node, pki
    node.stop()
    for server in servers.values():
        server.stop()


def through(port: int, path: str) -> Tuple[bool, Optional[int], str]:
    """Send one message over bridge ``path``: (echoed, close code, close reason)."""
    ws = RawWebSocket(port, f"/{path}")
    try:
        ws.send(frame(2, b"trust me"))
        fin, opcode, payload = ws.read_frame()
        if opcode == 2:
            ws.close()
            return payload == b"trust me", None, ""
        code = int.from_bytes(payload[:2], "big")
        return False, code, payload[2:].decode()
    finally:
        ws.shutdown()


def connections_for(server: EchoServer, path_call: Any) -> int:
    """How many TCP connections the server accepted while ``path_call`` ran.

    Every connection the bridge made for the call was accepted (and reported) before
    the call returned; :meth:`EchoServer.sync` makes sure those lines have been read.
    """
    server.sync()
    before = server.count("accepted")
    path_call()
    server.sync()
    return server.count("accepted") - before


def test_default_trust_fails_with_a_diagnosis(trust_setup: Any) -> None:
    """With the system store the test CA is unknown: close 1011, and the log names host, issuer, AKID, chain, fix."""
    port, servers, node, pki = trust_setup
    ok, code, reason = through(port, "default")
    assert (ok, code) == (False, 1011)
    assert "certificate not trusted" in reason
    root_skid = ":".join(f"{b:02x}" for b in subject_key_id(x509.load_pem_x509_certificate(pki.root_crt.read_bytes())))
    target = f"127.0.0.1:{servers['good'].port}"
    expected = (f"TLS to {target}: certificate not trusted (unable to get local issuer certificate): "
                f"missing issuer '{ROOT_NAME}' (AKID {root_skid}); chain complete (2 certificate(s) sent, "
                f"root not sent, as usual). Add the CA certificate '{ROOT_NAME}' (SKID {root_skid}) to "
                f"workers[0].transports[0].paths.default.target.tls.trust.cafile, a PEM file")
    assert wait_until(lambda: expected in node.output()), node.output()[-2000:]


def test_cafile_trusts_the_company_ca(trust_setup: Any) -> None:
    """cafile with the test root makes the same server trusted."""
    port, _, _, _ = trust_setup
    assert through(port, "cafile") == (True, None, "")


def test_jit_trust_retries_once_then_uses_the_cache(trust_setup: Any) -> None:
    """JIT with the root in its bundle: the first bridge connection needs a retry (2 TLS connections), the next one not."""
    port, servers, node, _ = trust_setup
    good = servers["good"]
    results = []
    assert connections_for(good, lambda: results.append(through(port, "jit"))) == 2
    assert connections_for(good, lambda: results.append(through(port, "jit"))) == 1
    assert results == [(True, None, "")] * 2
    assert f"JIT trust: 127.0.0.1:{good.port} needs CA '{ROOT_NAME}' (SKID " in node.output()


def test_jit_bundle_without_the_root_fails(trust_setup: Any) -> None:
    """JIT with certifi's bundle (no test root in it) cannot find the issuer: 1011 after one attempt."""
    port, servers, node, _ = trust_setup
    results = []
    assert connections_for(servers["good"], lambda: results.append(through(port, "jitcertifi"))) == 1
    assert results[0][:2] == (False, 1011)
    assert wait_until(lambda: "paths.jitcertifi.target.tls.trust.cafile" in node.output())


def test_jit_cache_expires_after_its_ttl(trust_setup: Any) -> None:
    """With jit_ttl 1 the cached CA is forgotten after a second: the retry happens again."""
    port, servers, _, _ = trust_setup
    good = servers["good"]
    assert connections_for(good, lambda: through(port, "jitshort")) == 2
    assert connections_for(good, lambda: through(port, "jitshort")) == 1
    time.sleep(1.2)  # the 1 s TTL under test must pass: there is nothing to poll for
    assert connections_for(good, lambda: through(port, "jitshort")) == 2


def test_server_lying_about_its_akid_still_fails(trust_setup: Any) -> None:
    """A leaf naming the bundle's root as issuer but signed by another key fails on the JIT retry, uncached."""
    port, servers, node, _ = trust_setup
    liar = servers["liar"]
    for _ in range(2):
        results = []
        assert connections_for(liar, lambda: results.append(through(port, "liar"))) == 2
        assert results[0][:2] == (False, 1011)
    assert wait_until(lambda: "certificate rejected: certificate signature failure" in node.output())


def test_pin_accepts_the_right_key_and_refuses_another(trust_setup: Any) -> None:
    """pin_sha256 of the server's key is trusted without any CA; another pin is refused with the key's pin named."""
    port, _, node, pki = trust_setup
    assert through(port, "pinok") == (True, None, "")
    ok, code, _ = through(port, "pinbad")
    assert (ok, code) == (False, 1011)
    pin = spki_sha256(x509.load_pem_x509_certificate(pki.leaf_crt.read_bytes()))
    assert wait_until(lambda: f"the server's key (pin_sha256 {pin}) matches no pin" in node.output())


def test_incomplete_chain_is_named(trust_setup: Any) -> None:
    """A server that sends its leaf without the intermediate is diagnosed as a probably incomplete chain."""
    port, servers, node, _ = trust_setup
    assert through(port, "leafonly")[:2] == (False, 1011)
    assert wait_until(lambda: "chain probably INCOMPLETE: the server sent only its own certificate; "
                              "if 'CN=wampnode test intermediate CA,O=wampnode tests' is an intermediate CA"
                              in node.output())


def test_name_mismatch_is_refused_and_hostname_fixes_it(trust_setup: Any) -> None:
    """A certificate for other.example is refused for 127.0.0.1; with tls.hostname other.example it is accepted."""
    port, _, node, _ = trust_setup
    assert through(port, "mismatch")[:2] == (False, 1011)
    assert wait_until(lambda: "the certificate is not valid for 127.0.0.1 (it names DNS:other.example)" in node.output())
    assert through(port, "hostname") == (True, None, "")


def test_missing_cafile_is_a_config_error(tmp_path: Path) -> None:
    """`wampnode check` names a trust.cafile that does not exist."""
    config = bridge_config(free_port(), {"b": bridge_path(tcp_target(1, tls={"trust": {"cafile": "nope.pem"}}))})
    (tmp_path / "config.json").write_text(json.dumps(config))
    result = run_cli("check", "--cbdir", str(tmp_path))
    assert result.returncode == 2
    assert "paths.b.target.tls.trust.cafile: file" in result.stderr and "does not exist" in result.stderr


def test_start_refuses_every_bad_trust_file_before_listening(tmp_path: Path) -> None:
    """`wampnode start` names each bridge's bad trust file (two on one transport), exit 2, nothing listens."""
    paths = {"a": bridge_path(tcp_target(1, tls={"trust": {"cafile": "nope.pem"}})),
             "b": bridge_path(tcp_target(1, tls={"trust": {"capath": "nodir"}}))}
    config = bridge_config(free_port(), paths)
    config["workers"][0]["transports"].insert(0, {"type": "rawsocket", "endpoint": tcp(free_port())})
    node = start_node(config, tmp_path, wait=False)
    assert node.proc.wait(30) == 2
    out = node.output()
    assert f"transports[1].paths.a.target.tls.trust.cafile: file {tmp_path / 'nope.pem'} does not exist." in out, out
    assert f"transports[1].paths.b.target.tls.trust.capath: {tmp_path / 'nodir'} is not a directory." in out, out
    assert "Listening:" not in out and "Traceback" not in out, out


def test_trust_diagnose_prints_the_chain_and_the_verdict(trust_setup: Any) -> None:
    """`wampnode trust diagnose` shows each certificate, the SAN match and the same diagnosis; --cafile makes it trusted."""
    _, servers, _, pki = trust_setup
    url = f"https://localhost:{servers['good'].port}"
    result = run_cli("trust", "diagnose", url)
    assert result.returncode == 1
    out = result.stdout
    assert "Chain sent by the server (2 certificate(s)):" in out
    assert "subject  CN=localhost,O=wampnode tests" in out
    assert "issuer   CN=wampnode test intermediate CA,O=wampnode tests" in out
    assert "(matches localhost)" in out and "(valid now)" in out
    assert "Result: NOT trusted" in out
    assert f"missing issuer '{ROOT_NAME}'" in out and "to --cafile, a PEM file" in out
    trusted = run_cli("trust", "diagnose", url, "--cafile", str(pki.root_crt))
    assert trusted.returncode == 0 and "Result: trusted (TLSv1.3)" in trusted.stdout
