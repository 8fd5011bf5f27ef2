"""A test PKI made with ``cryptography``: root CA -> intermediate -> server leaf.

Independent of ``node/tls/devcerts.py`` on purpose, so that a bug there cannot hide in
the fixtures that test it. Keys are ECDSA P-256 or RSA 2048; DH parameters are
the standard RFC 7919 / RFC 3526 groups pasted below (generating DH parameters
takes seconds to minutes, too slow for a test).

Usage::

    pki = make_pki(tmp_path)                 # ECDSA
    pki = make_pki(tmp_path, key_type="rsa")
    pki.leaf_key, pki.leaf_crt, pki.intermediate_crt, pki.root_crt, pki.chain_crt
    key, crt = issue(pki, "expired", not_after=days_ago(1))
"""
from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Optional, Sequence, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from node.config.model import TlsOptions

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")

# RFC 7919 appendix A.1 ffdhe2048, as printed by
# `openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048`.
FFDHE2048_PEM = b"""-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
"""

# RFC 3526 section 2, the 1536-bit MODP group (too small: for the warning test).
MODP1536_PEM = b"""-----BEGIN DH PARAMETERS-----
MIHHAoHBAP//////////yQ/aoiFowjTExmKLgNwc0SkCTgiKZ8x0Agu+pjsTmyJR
Sgh5jjQE3e+VGbPNOkMbMCsKbfJfFDdP4TVtbVHCReSFtXZiXn7G9ExC6aY37WsL
/1y29Aa37e44a/taiZ+lrp8kEXxLH+ZJKGZR7ORbPcIAfLihY78FmNpINhxV05pp
Fj+o/STPX4NlXSPco62WHGLzViCFUrue1SkHcJaWbWcMNU5KvJgE8XRsCMojcyf/
/////////wIBAg==
-----END DH PARAMETERS-----
"""


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def days_ago(days: float) -> datetime.datetime:
    return now() - datetime.timedelta(days=days)


def days_ahead(days: float) -> datetime.datetime:
    return now() + datetime.timedelta(days=days)


@dataclass(frozen=True)
class Pki:
    """Paths of a three-level PKI; ``chain_crt`` holds leaf then intermediate."""

    directory: Path
    key_type: str
    root_key: Path
    root_crt: Path
    intermediate_key: Path
    intermediate_crt: Path
    leaf_key: Path
    leaf_crt: Path
    chain_crt: Path


def new_key(key_type: str = "ec") -> object:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def write_key(path: Path, key: object, password: Optional[bytes] = None) -> Path:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    data = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return path


def write_certs(path: Path, certs: Iterable[x509.Certificate]) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))
    return path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wampnode tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _san(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def sign(
    subject_key: object,
    common_name: str,
    issuer: Optional[Tuple[object, x509.Certificate]] = None,
    *,
    is_ca: bool = False,
    hosts: Sequence[str] = (),
    not_before: Optional[datetime.datetime] = None,
    not_after: Optional[datetime.datetime] = None,
    client: bool = False,
) -> x509.Certificate:
    """A certificate for ``subject_key``; self-signed when ``issuer`` is None."""
    public = subject_key.public_key()  # type: ignore[attr-defined]
    issuer_key, issuer_cert = issuer if issuer else (subject_key, None)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer_cert.subject if issuer_cert else _name(common_name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or days_ago(1))
        .not_valid_after(not_after or days_ahead(90))
        .add_extension(
            x509.BasicConstraints(ca=is_ca, path_length=None), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if issuer_cert is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                issuer_cert.public_key()  # type: ignore[arg-type]
            ),
            critical=False,
        )
    if is_ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                key_cert_sign=True, crl_sign=True, encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if hosts:
        builder = builder.add_extension(_san(hosts), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]


def make_pki(
    directory: Path, key_type: str = "ec", hosts: Sequence[str] = DEFAULT_HOSTS
) -> Pki:
    """Write root, intermediate and leaf keys and certificates into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    root_key = new_key(key_type)
    root = sign(root_key, "wampnode test root CA", is_ca=True, not_after=days_ahead(3650))
    inter_key = new_key(key_type)
    inter = sign(inter_key, "wampnode test intermediate CA", (root_key, root), is_ca=True,
                 not_after=days_ahead(1825))
    leaf_key = new_key(key_type)
    leaf = sign(leaf_key, hosts[0] if hosts else "server", (inter_key, inter), hosts=hosts)
    p = directory
    return Pki(
        directory=p,
        key_type=key_type,
        root_key=write_key(p / "root.key", root_key),
        root_crt=write_certs(p / "root.crt", [root]),
        intermediate_key=write_key(p / "intermediate.key", inter_key),
        intermediate_crt=write_certs(p / "intermediate.crt", [inter]),
        leaf_key=write_key(p / "server.key", leaf_key),
        leaf_crt=write_certs(p / "server.crt", [leaf]),
        chain_crt=write_certs(p / "server-chain.crt", [leaf, inter]),
    )


def _load_issuer(pki: Pki) -> Tuple[object, x509.Certificate]:
    key = serialization.load_pem_private_key(pki.intermediate_key.read_bytes(), None)
    return key, x509.load_pem_x509_certificate(pki.intermediate_crt.read_bytes())


def issue(
    pki: Pki,
    name: str,
    *,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    not_before: Optional[datetime.datetime] = None,
    not_after: Optional[datetime.datetime] = None,
    is_ca: bool = False,
    client: bool = False,
    key_type: Optional[str] = None,
) -> Tuple[Path, Path]:
    """Issue another leaf from the intermediate; returns (key path, cert path)."""
    key = new_key(key_type or pki.key_type)
    cert = sign(key, name, _load_issuer(pki), is_ca=is_ca, hosts=hosts,
                not_before=not_before, not_after=not_after, client=client)
    return (
        write_key(pki.directory / f"{name}.key", key),
        write_certs(pki.directory / f"{name}.crt", [cert]),
    )


def expired_leaf(pki: Pki) -> Tuple[Path, Path]:
    return issue(pki, "expired", not_before=days_ago(100), not_after=days_ago(10))


def future_leaf(pki: Pki) -> Tuple[Path, Path]:
    return issue(pki, "future", not_before=days_ahead(10), not_after=days_ahead(100))


def ca_as_leaf(pki: Pki) -> Tuple[Path, Path]:
    return issue(pki, "ca-leaf", is_ca=True)


def encrypted_key(pki: Pki, name: str = "encrypted.key") -> Path:
    key = serialization.load_pem_private_key(pki.leaf_key.read_bytes(), None)
    return write_key(pki.directory / name, key, password=b"secret")


def mismatched_key(pki: Pki, name: str = "other.key") -> Path:
    return write_key(pki.directory / name, new_key(pki.key_type))


def dhparam(directory: Path, small: bool = False) -> Path:
    """Write RFC 7919 ffdhe2048 (or the 1536-bit RFC 3526 group when ``small``)."""
    path = Path(directory) / ("dh1536.pem" if small else "dhparam.pem")
    path.write_bytes(MODP1536_PEM if small else FFDHE2048_PEM)
    return path


def tls_options(key: Path, certificate: Path, **overrides: object) -> TlsOptions:
    """A ``TlsOptions`` with the schema's defaults, as ``node.config`` would build it."""
    from node.config.model import TlsOptions

    values: dict = dict(
        key=str(key), certificate=str(certificate), chain_certificates=(),
        ca_certificates=(), dhparam=None, ciphers=None, ciphersuites=None,
        curve="prime256v1", min_version="TLSv1.2", max_version=None,
        verify_client="none", alpn=(), session_tickets=True, sni={},
        path="workers[0].transports[0].endpoint.tls", ocsp_staple=None,
    )
    values.update(overrides)
    for name in ("chain_certificates", "ca_certificates", "alpn"):
        values[name] = tuple(str(v) for v in values[name])
    for name in ("dhparam", "ocsp_staple"):
        if values[name] is not None:
            values[name] = str(values[name])
    return TlsOptions(**values)


def ocsp_response(pki: Pki, path: Path, status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
                  leaf_path: Optional[Path] = None, next_update: float = 1.0) -> Path:
    """A DER OCSP response for the leaf (``next_update`` days from now), signed by the
    intermediate (its issuer)."""
    leaf = x509.load_pem_x509_certificate((leaf_path or pki.leaf_crt).read_bytes())
    issuer = x509.load_pem_x509_certificate(pki.intermediate_crt.read_bytes())
    issuer_key = serialization.load_pem_private_key(pki.intermediate_key.read_bytes(), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    revoked = status == ocsp.OCSPCertStatus.REVOKED
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(cert=leaf, issuer=issuer, algorithm=hashes.SHA256(), cert_status=status,
                      this_update=now - datetime.timedelta(days=2),
                      next_update=now + datetime.timedelta(days=next_update),
                      revocation_time=now - datetime.timedelta(days=3) if revoked else None,
                      revocation_reason=None)
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
        .sign(issuer_key, hashes.SHA256())
    )
    path.write_bytes(response.public_bytes(serialization.Encoding.DER))
    return path
