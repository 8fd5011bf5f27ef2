"""CA certificates from files, directories and the ``certifi`` bundle, indexed by SKID.

JIT trust looks a missing issuer up by the AKID its child names; the index maps
SKID -> certificates (a list: cross-signed CAs share a key, so a SKID can name
several certificates). A bundle is parsed once per process and file version
(path, mtime, size), as libwebsockets indexes its trust blob once.
"""
from __future__ import annotations

import os
import re
import ssl
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from node.errors import TlsError
from node.tls.pem import read_file
from node.tls.certinfo import subject_key_id

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_CERT_FILE = re.compile(r"(\.(pem|crt|cer)|\.[0-9]+)$")


@dataclass
class CaIndex:
    """CA certificates of one source, by SKID; ``source`` names it for messages."""

    source: str
    certificates: List[x509.Certificate] = field(default_factory=list)
    by_skid: Dict[bytes, List[x509.Certificate]] = field(default_factory=dict)

    def add(self, cert: x509.Certificate) -> None:
        fingerprint = cert.fingerprint(hashes.SHA256())
        same = self.by_skid.setdefault(subject_key_id(cert), [])
        if all(c.fingerprint(hashes.SHA256()) != fingerprint for c in same):
            same.append(cert)
            self.certificates.append(cert)

    def lookup(self, skid: bytes) -> List[x509.Certificate]:
        return list(self.by_skid.get(skid, ()))

    def __len__(self) -> int:
        return len(self.certificates)


def parse_pem_certificates(data: bytes) -> List[x509.Certificate]:
    """Every certificate that parses; a bundle with one odd entry still serves the rest."""
    certs = []
    with warnings.catch_warnings():  # a bundle's old roots may break RFC 5280 in small ways
        warnings.simplefilter("ignore")
        for block in _PEM_BLOCK.findall(data):
            try:
                cert = x509.load_pem_x509_certificate(block)
                subject_key_id(cert)  # parses the extensions now, warnings and all
            except ValueError:
                continue
            certs.append(cert)
    return certs


def certifi_path(where: str = "trust.jit_bundle") -> str:
    """The PEM bundle of the ``certifi`` package (Mozilla's CA list)."""
    try:
        import certifi
    except ImportError:
        raise TlsError(where, "the `certifi` package is not installed",
                       "pip install certifi, or name a PEM bundle file instead") from None
    return certifi.where()


def system_cafile() -> Optional[str]:
    """The system's CA bundle file, as OpenSSL (or Debian/Red Hat/Alpine) knows it."""
    paths = ssl.get_default_verify_paths()
    candidates = [os.environ.get("SSL_CERT_FILE"), paths.cafile, paths.openssl_cafile,
                  "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                  "/etc/ssl/cert.pem"]
    for path in candidates:
        if path and os.path.isfile(path):
            return path
    return None


def _file_key(path: str) -> Tuple[str, float, int]:
    info = os.stat(path)
    return path, info.st_mtime, info.st_size


_CACHE: Dict[Tuple[str, float, int], CaIndex] = {}


def load_file(path: str, where: str) -> CaIndex:
    """Index the certificates of one PEM file (parsed once per file version).

    @raise TlsError: unreadable file, or no certificate in it.
    """
    try:
        key = _file_key(path)
    except OSError:
        read_file(where, path)  # raises the precise one-line error
        raise
    if key not in _CACHE:
        certs = parse_pem_certificates(read_file(where, path))
        if not certs:
            raise TlsError(where, f"{path} holds no PEM certificate", "Name a PEM file of CA certificates")
        index = CaIndex(path)
        for cert in certs:
            index.add(cert)
        _CACHE[key] = index
    return _CACHE[key]


def load_directory(path: str, where: str) -> CaIndex:
    """Index every certificate file in a directory (``*.pem``, ``*.crt``, hashed names).

    @raise TlsError: not a directory.
    """
    if not os.path.isdir(path):
        raise TlsError(where, f"{path} is not a directory", "Name a directory of PEM CA certificates")
    index = CaIndex(path)
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if _CERT_FILE.search(name) and os.path.isfile(full):
            try:
                data = read_file(where, full)
            except TlsError:
                continue
            for cert in parse_pem_certificates(data):
                index.add(cert)
    return index


def load_source(source: str, where: str) -> CaIndex:
    """``certifi``, ``system``, a PEM file or a directory, as an index."""
    if source == "certifi":
        index = load_file(certifi_path(where), where)
        return index
    if source == "system":
        cafile = system_cafile()
        return load_file(cafile, where) if cafile else CaIndex("system store (none found)")
    if os.path.isdir(source):
        return load_directory(source, where)
    return load_file(source, where)
