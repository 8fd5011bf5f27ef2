"""The Mozilla "intermediate" profile as judged by sslyze, against a real node.

sslyze runs from its own cached virtualenv (tests/sslyze_venv.py). It exits 0
even when it cannot reach the server, so every test also reads its JSON
output: the scan must have connected and completed.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Dict, Tuple

import pytest

from conftest import free_port, router_config, run_cli, start_node, tcp
from pki import dhparam, make_pki
from sslyze_venv import ensure_sslyze
from stack import PYPY

pytestmark = pytest.mark.skipif(
    PYPY, reason="sslyze's nassl has no PyPy build, and the seed transport's dhparam needs cryptography 44")

SEED_CIPHERS = ("ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:"
                "DHE-RSA-AES128-SHA256:ECDHE-RSA-AES128-SHA:DHE-RSA-AES128-SHA")


@pytest.fixture(scope="module")
def sslyze() -> Path:
    return ensure_sslyze()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One node: default ECDSA P-256, default RSA, and RSA with the seed guide's ciphers + dhparam."""
    base = tmp_path_factory.mktemp("sslyze")
    ec = make_pki(base / "ec")
    rsa = make_pki(base / "rsa", key_type="rsa")
    ports = {name: free_port() for name in ("ecdsa", "rsa", "seed")}
    transports = [
        {"type": "websocket", "endpoint": tcp(ports["ecdsa"], {
            "key": str(ec.leaf_key), "certificate": str(ec.chain_crt)})},
        {"type": "websocket", "endpoint": tcp(ports["rsa"], {
            "key": str(rsa.leaf_key), "certificate": str(rsa.chain_crt)})},
        {"type": "websocket", "endpoint": tcp(ports["seed"], {
            "key": str(rsa.leaf_key), "certificate": str(rsa.chain_crt),
            "dhparam": str(dhparam(base)), "ciphers": SEED_CIPHERS})},
    ]
    node = start_node(router_config(transports), base / "node")
    try:
        yield {"ports": ports, "roots": {"ecdsa": ec.root_crt, "rsa": rsa.root_crt,
                                         "seed": rsa.root_crt}, "cbdir": base / "node"}
    finally:
        node.stop()


def scan(sslyze: Path, served: Dict, name: str, tmp_path: Path) -> Tuple[int, str, Dict]:
    """Run sslyze --mozilla_config=intermediate on one transport: (exit code, text, scan JSON)."""
    target = f"127.0.0.1:{served['ports'][name]}"
    report = tmp_path / f"{name}.json"
    done = subprocess.run(
        [str(sslyze), "--mozilla_config=intermediate", "--certinfo_ca_file",
         str(served["roots"][name]), "--json_out", str(report), target],
        capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    result = json.loads(report.read_text())["server_scan_results"]
    assert len(result) == 1, output
    assert result[0]["connectivity_status"] == "COMPLETED", output
    assert result[0]["scan_status"] == "COMPLETED", output
    return done.returncode, output, result[0]["scan_result"]


def _accepted(scan_result: Dict, version: str) -> set:
    suites = scan_result[f"tls_{version}_cipher_suites"]["result"]["accepted_cipher_suites"]
    return {s["cipher_suite"]["name"] for s in suites}


@pytest.mark.parametrize("name", ["ecdsa", "rsa"])
def test_default_config_is_intermediate_compliant(sslyze, served, name, tmp_path):
    """Without any cipher option, sslyze finds the ECDSA and the RSA node compliant."""
    code, output, result = scan(sslyze, served, name, tmp_path)
    assert f"127.0.0.1:{served['ports'][name]}: OK - Compliant." in output, output
    assert code == 0, output
    assert not _accepted(result, "1_0") and not _accepted(result, "1_1")
    assert _accepted(result, "1_3")
    curves = result["elliptic_curves"]["result"]["supported_curves"]
    assert [c["name"] for c in curves] == ["secp256r1"]  # P-256 only (sslyze's name)


def test_seed_guide_ciphers_not_compliant(sslyze, served, tmp_path):
    """The seed guide's cipher list fails the profile, sslyze naming its CBC suites."""
    code, output, result = scan(sslyze, served, "seed", tmp_path)
    assert f"127.0.0.1:{served['ports']['seed']}: FAILED - Not compliant." in output, output
    assert code == 1, output
    cbc = {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
           "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"}
    assert cbc <= _accepted(result, "1_2")
    flagged = next(line for line in output.splitlines() if "* ciphers:" in line)
    for suite in cbc:
        assert suite in flagged, flagged


def test_check_flags_what_sslyze_rejects(served):
    """wampnode check --strict flags the same transport's four CBC suites, and only it."""
    result = run_cli("check", "--strict", "--cbdir", str(served["cbdir"]))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors and all("transports[2].endpoint.tls.ciphers" in line for line in errors)
    assert ("enables 4 suite(s) CBC (not AEAD): ECDHE-RSA-AES128-SHA256, DHE-RSA-AES128-SHA256, "
            "ECDHE-RSA-AES128-SHA, DHE-RSA-AES128-SHA") in errors[0]
