"""Make keys and certificates with ``cryptography`` (no shelling out to openssl).

Three uses: a self-signed development certificate (``wampnode init``), a private
root CA, and server or client leaves issued from that CA. Choices and why:

- Keys: ECDSA P-256 by default (Mozilla intermediate's recommended certificate
  type, fast handshakes); RSA (>= 2048 bits, default 3072) on request.
- Leaves live at most 397 days: CA/Browser Forum Baseline Requirements 6.3.2
  and Apple/Chrome root programs reject longer TLS leaves issued since
  2020-09-01; wampnode's default is 90.
- Host names go in subjectAltName, DNS names and IP addresses apart: clients
  ignore the CN since RFC 6125 section 6.4.4 (2011) and Chrome 58 (2017).
- Leaves carry basicConstraints CA:FALSE, serverAuth (or clientAuth) extended
  key usage, and subject/authority key identifiers so chains can be ordered.
- Private keys are written mode 0600 from the moment the file exists.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
from typing import Any, Iterable, Optional, Sequence, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from node.errors import TlsError
from node.tls.pem import load_certificates, load_private_key, same_public_key

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_LEAF_DAYS = 397
CLOCK_SKEW = datetime.timedelta(minutes=5)


def new_private_key(key_type: str = "ec", rsa_bits: int = 3072) -> object:
    """A new private key: ``"ec"`` (P-256) or ``"rsa"`` (``rsa_bits`` >= 2048).

    Raises:
        TlsError: unknown key type or an RSA size under 2048 bits.
    """
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        if rsa_bits < 2048:
            raise TlsError("--rsa", f"{rsa_bits} bits is too small", "Use 2048 or more")
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    raise TlsError("key type", f'unknown key type "{key_type}"', 'Use "ec" or "rsa"')


def write_private_key(path: str, key: object, overwrite: bool = False) -> None:
    """Write ``key`` as unencrypted PKCS#8 PEM, mode 0600 from creation on.

    Raises:
        TlsError: the file exists and ``overwrite`` is false, or cannot be written.
    """
    data = key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(path, data, 0o600, overwrite)


def write_certificates(
    path: str, certificates: Iterable[x509.Certificate], overwrite: bool = False
) -> None:
    """Write certificates as PEM in the given order (leaf first for a chain)."""
    pem = serialization.Encoding.PEM
    _write(path, b"".join(c.public_bytes(pem) for c in certificates), 0o644, overwrite)


def _write(path: str, data: bytes, mode: int, overwrite: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise TlsError(path, "already exists", "Remove it first, or choose another name") from None
    except OSError as e:
        raise TlsError(path, f"cannot write: {e.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), mode)  # an existing file keeps its old mode otherwise
        f.write(data)


def _name(common_name: str, organization: Optional[str] = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def subject_alt_names(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    """DNS names and IP addresses (``127.0.0.1``, ``::1``) as a SAN extension."""
    names = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _key_usage(key: object, ca: bool) -> x509.KeyUsage:
    # RSA key exchange (TLS 1.2 non-ECDHE suites) needs keyEncipherment; we never
    # offer it by default but a user's cipher string might.
    return x509.KeyUsage(
        digital_signature=True, content_commitment=False,
        key_encipherment=isinstance(key, rsa.RSAPrivateKey) and not ca,
        data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
        encipher_only=False, decipher_only=False,
    )


def build_certificate(
    key: object,
    subject: x509.Name,
    issuer: Optional[Tuple[object, x509.Certificate]],
    days: int,
    *,
    ca: bool = False,
    hosts: Sequence[str] = (),
    client: bool = False,
) -> x509.Certificate:
    """Sign a certificate for ``key``: self-signed when ``issuer`` is None."""
    public = key.public_key()  # type: ignore[attr-defined]
    signer, issuer_cert = issuer if issuer is not None else (key, None)
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer_public = issuer_cert.public_key() if issuer_cert is not None else public
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_key_usage(key, ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if not ca:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if hosts:
        builder = builder.add_extension(subject_alt_names(hosts), critical=False)
    return builder.sign(signer, hashes.SHA256())  # type: ignore[arg-type]


def _check_leaf_days(days: int) -> None:
    if not 1 <= days <= MAX_LEAF_DAYS:
        raise TlsError(
            "--days",
            f"{days} days is outside 1..{MAX_LEAF_DAYS}",
            "Browsers reject TLS leaves valid for more than 398 days (CA/B Forum, 2020)",
        )


def _require_hosts(hosts: Sequence[str], example: str) -> None:
    if not hosts:
        raise TlsError("--host", "no host name given", f"Name at least one, e.g. {example}")


def _write_key_and_certificate(key_path: str, key: Any, cert_path: str, cert: x509.Certificate,
                               overwrite: bool) -> None:
    write_private_key(key_path, key, overwrite)
    write_certificates(cert_path, [cert], overwrite)


def make_selfsigned(
    key_path: str,
    cert_path: str,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    days: int = 90,
    key_type: str = "ec",
    rsa_bits: int = 3072,
    overwrite: bool = False,
) -> x509.Certificate:
    """Write a new key (0600) and a self-signed server certificate for ``hosts``.

    The certificate's CN is the first host; every host is in subjectAltName.

    Raises:
        TlsError: no hosts, days outside 1..397, or a file exists (``overwrite``).
    """
    _require_hosts(hosts, "localhost")
    _check_leaf_days(days)
    key = new_private_key(key_type, rsa_bits)
    cert = build_certificate(key, _name(hosts[0]), None, days, hosts=hosts)
    _write_key_and_certificate(key_path, key, cert_path, cert, overwrite)
    return cert


def make_ca(
    key_path: str,
    cert_path: str,
    name: str = "wampnode private CA",
    days: int = 3650,
    key_type: str = "ec",
    rsa_bits: int = 3072,
    overwrite: bool = False,
) -> x509.Certificate:
    """Write a new private root CA: key (0600) and self-signed CA certificate."""
    key = new_private_key(key_type, rsa_bits)
    cert = build_certificate(key, _name(name, "wampnode"), None, days, ca=True)
    _write_key_and_certificate(key_path, key, cert_path, cert, overwrite)
    return cert


def issue_leaf(
    ca_key_path: str,
    ca_cert_path: str,
    key_path: str,
    cert_path: str,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    days: int = 90,
    key_type: str = "ec",
    rsa_bits: int = 3072,
    client: bool = False,
    overwrite: bool = False,
) -> x509.Certificate:
    """Issue a leaf from the CA in ``ca_key_path``/``ca_cert_path``.

    ``client`` issues a client certificate (clientAuth, CN = first host, e.g. a
    user name) for mutual TLS; otherwise a server certificate for ``hosts``.

    Raises:
        TlsError: the CA files do not load or do not belong together, no hosts,
            or days outside 1..397.
    """
    _require_hosts(hosts, "localhost")
    _check_leaf_days(days)
    ca_key = load_private_key("--ca key", ca_key_path)
    ca_cert = load_certificates("--ca certificate", ca_cert_path)[0]
    if not same_public_key(ca_key, ca_cert):
        raise TlsError(
            "--ca", f"key {ca_key_path} does not match certificate {ca_cert_path}",
            "Give the key and certificate of the same CA",
        )
    key = new_private_key(key_type, rsa_bits)
    san = () if client else hosts
    cert = build_certificate(key, _name(hosts[0]), (ca_key, ca_cert), days,
                             hosts=san, client=client)
    _write_key_and_certificate(key_path, key, cert_path, cert, overwrite)
    return cert


def make_csr(
    key_path: str,
    csr_path: str,
    hosts: Sequence[str],
    key_type: str = "ec",
    rsa_bits: int = 3072,
    overwrite: bool = False,
) -> x509.CertificateSigningRequest:
    """Write a new key (0600) and a CSR for ``hosts`` to send to a public CA.

    Raises:
        TlsError: no hosts, or a file exists (``overwrite``).
    """
    _require_hosts(hosts, "example.com")
    key = new_private_key(key_type, rsa_bits)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_name(hosts[0]))
        .add_extension(subject_alt_names(hosts), critical=False)
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    write_private_key(key_path, key, overwrite)
    _write(csr_path, csr.public_bytes(serialization.Encoding.PEM), 0o644, overwrite)
    return csr
