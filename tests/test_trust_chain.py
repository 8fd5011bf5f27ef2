"""Trust logic as plain objects: chain ordering by AKID/SKID, JIT lookup, the JIT cache, diagnosis text."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List

import pytest
from cryptography import x509

from node.trust.bundle import CaIndex, load_file, parse_pem_certificates
from node.tls.certinfo import authority_key_id, hex_id, subject_key_id
from node.trust.chain import Evidence, diagnose, find_cas, trust_path, wanted_ca_ids
from node.trust.jit import JitCache
from pki import make_pki, new_key, sign


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


@pytest.fixture
def chain(tmp_path: Path) -> Any:
    pki = make_pki(tmp_path)
    return pki, load(pki.leaf_crt), load(pki.intermediate_crt), load(pki.root_crt)


def test_trust_path_orders_a_shuffled_chain(chain: Any) -> None:
    """Certificates sent in any order are put leaf -> intermediate -> root by AKID/SKID."""
    _, leaf, inter, root = chain
    assert trust_path([leaf, root, inter]) == [leaf, inter, root]
    assert trust_path([leaf, inter]) == [leaf, inter]
    assert trust_path([leaf]) == [leaf]


def test_unrelated_certificates_are_left_out_of_the_path(chain: Any, tmp_path: Path) -> None:
    """A certificate the path does not lead to (another CA) is not part of the claimed path."""
    _, leaf, inter, _ = chain
    stranger = sign(new_key(), "stranger CA", is_ca=True)
    assert trust_path([leaf, stranger, inter]) == [leaf, inter]


def test_wanted_ids_start_with_the_top_akid(chain: Any) -> None:
    """The first key id JIT asks for is the AKID at the top of the claimed path (the root's SKID)."""
    _, leaf, inter, root = chain
    ids = wanted_ca_ids([leaf, inter])
    assert ids[0] == subject_key_id(root) == authority_key_id(inter)
    assert subject_key_id(inter) in ids  # the leaf's AKID, for cross-signed intermediates


def test_find_cas_uses_the_index(chain: Any) -> None:
    """The root is found by the intermediate's AKID in a bundle index; an index without it finds nothing."""
    _, leaf, inter, root = chain
    index = CaIndex("bundle")
    for other in (sign(new_key(), f"other {i}", is_ca=True) for i in range(5)):
        index.add(other)
    assert find_cas([leaf, inter], index) == []
    index.add(root)
    assert find_cas([inter, leaf], index) == [root]


def test_bundle_index_skips_broken_entries(chain: Any, tmp_path: Path) -> None:
    """A bundle with one damaged PEM block still indexes the others."""
    pki, _, inter, root = chain
    broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    path = tmp_path / "bundle.pem"
    path.write_bytes(pki.root_crt.read_bytes() + broken + pki.intermediate_crt.read_bytes())
    assert len(parse_pem_certificates(path.read_bytes())) == 2
    index = load_file(str(path), "trust.jit_bundle")
    assert index.lookup(subject_key_id(root)) == [root]


def test_jit_cache_expires_and_stays_bounded() -> None:
    """Entries expire after the TTL; beyond max_hosts the least recently used host is dropped."""
    now = [0.0]
    cache = JitCache(ttl=10, max_hosts=2, clock=lambda: now[0])
    cache.put("a", (b"1",))
    cache.put("b", (b"2",))
    assert cache.get("a") == (b"1",)  # a is now the most recently used
    cache.put("c", (b"3",))
    assert cache.get("b") is None and cache.get("a") == (b"1",) and len(cache) == 2
    now[0] = 10.0
    assert cache.get("a") is None and cache.get("c") is None


def evidence(presented: List[x509.Certificate], errno: int = 20) -> Evidence:
    return Evidence(address="example.test:443", hostname="example.test", presented=tuple(presented),
                    errors=((len(presented) - 1, errno),))


def test_diagnosis_of_a_missing_root(chain: Any) -> None:
    """Leaf and intermediate sent, root unknown: the line names the root, its AKID and a complete chain."""
    _, leaf, inter, root = chain
    line = diagnose(evidence([leaf, inter]), []).line()
    assert line.startswith("TLS to example.test:443: certificate not trusted (unable to get local issuer certificate)")
    assert f"missing issuer 'CN=wampnode test root CA,O=wampnode tests' (AKID {hex_id(subject_key_id(root))})" in line
    assert "chain complete (2 certificate(s) sent, root not sent, as usual)" in line
    assert line.endswith("to trust.cafile, a PEM file")


def test_diagnosis_of_a_missing_intermediate(chain: Any) -> None:
    """Leaf only, and a known source holds the (non-root) issuer: the chain is called incomplete."""
    _, leaf, inter, _ = chain
    known = CaIndex("/etc/company/bundle.pem")
    known.add(inter)
    line = diagnose(evidence([leaf]), [known]).line()
    assert "chain INCOMPLETE: the server did not send intermediate CA 'CN=wampnode test intermediate CA" in line
    assert "Configure the server to send its intermediate certificate(s)" in line


def test_diagnosis_names_where_a_known_root_is(chain: Any) -> None:
    """When the missing root is in a local file, the fix names that file."""
    _, leaf, inter, root = chain
    known = CaIndex("/srv/ca/company-root.pem")
    known.add(root)
    assert "(it is in /srv/ca/company-root.pem) to --cafile" in diagnose(evidence([leaf, inter]), [known], "--cafile").line()


def test_diagnosis_of_a_self_signed_certificate() -> None:
    """A self-signed server certificate is named as such, with its own SKID to add."""
    key = new_key()
    cert = sign(key, "selfie", is_ca=False, hosts=("example.test",))
    line = diagnose(evidence([cert], errno=18), []).line()
    assert "(self-signed certificate)" in line and "ending in the self-signed certificate" in line
    assert f"(AKID {hex_id(subject_key_id(cert))})" in line
