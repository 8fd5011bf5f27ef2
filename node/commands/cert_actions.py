"""The ``wampnode cert`` actions: :mod:`node.tls.devcerts` does the work (``cryptography``);
this module refuses to overwrite (unless ``--force``), says what it wrote, and
prints what PEM files hold (``show``).
"""
from __future__ import annotations

import argparse
import datetime
import os
from typing import Any, Callable, Dict, List, Sequence

from cryptography import x509

from node.errors import TlsError
from node.tls.certinfo import (
    chain_problems,
    fingerprint,
    is_ca,
    is_self_issued,
    key_description,
    san_names,
    signature_hash,
    subject_text,
)
from node.tls.devcerts import DEFAULT_HOSTS, issue_leaf, make_ca, make_csr, make_selfsigned
from node.tls.pem import file_mode, load_certificates, load_private_key, read_file

__all__ = ["ACTIONS", "describe_file", "describe_certificate"]


def _paths(args: argparse.Namespace, second: str) -> Dict[str, str]:
    """The key path and the second file's path; refuse existing ones unless --force."""
    os.makedirs(args.dir, exist_ok=True)
    paths = {"key": os.path.join(args.dir, f"{args.name}.key"),
             second: os.path.join(args.dir, f"{args.name}.{second}")}
    if not args.force:
        for path in paths.values():
            if os.path.exists(path):
                raise TlsError(path, "already exists", "Remove it, choose --name/--dir, or --force")
    return paths


def _key_args(args: argparse.Namespace) -> Dict[str, Any]:
    if args.rsa is None:
        return {"key_type": "ec"}
    return {"key_type": "rsa", "rsa_bits": args.rsa}


def _report(paths: Dict[str, str], cert: Any, use: str = "") -> None:
    print(f"wrote {paths['key']} ({key_description(cert.public_key())}, mode 0600)")
    second = next(p for k, p in paths.items() if k != "key")
    sans = san_names(cert)  # a CSR has extensions too
    detail = subject_text(cert)
    if sans:
        detail += f"; SAN {', '.join(sans)}"
    if hasattr(cert, "not_valid_after_utc"):
        detail += f"; valid until {cert.not_valid_after_utc:%Y-%m-%d}"
    print(f"wrote {second} ({detail})")
    if use:
        print(use)


def _tls_snippet(paths: Dict[str, str]) -> str:
    return (f'Use it in an endpoint: "tls": {{"key": "{paths["key"]}", '
            f'"certificate": "{paths["crt"]}"}}')


def cmd_selfsigned(args: argparse.Namespace) -> int:
    paths = _paths(args, "crt")
    cert = make_selfsigned(paths["key"], paths["crt"], hosts=args.host or DEFAULT_HOSTS,
                           days=args.days,
                           overwrite=args.force, **_key_args(args))
    _report(paths, cert, _tls_snippet(paths))
    return 0


def cmd_ca(args: argparse.Namespace) -> int:
    paths = _paths(args, "crt")
    cert = make_ca(paths["key"], paths["crt"], name=args.cn, days=args.days,
                   overwrite=args.force, **_key_args(args))
    _report(paths, cert, f"Issue from it: wampnode cert issue --ca {args.dir} --host NAME; "
                         f"clients trust {paths['crt']}. Keep {paths['key']} offline if you can.")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    ca_key = os.path.join(args.ca, f"{args.ca_name}.key")
    ca_crt = os.path.join(args.ca, f"{args.ca_name}.crt")
    paths = _paths(args, "crt")
    cert = issue_leaf(ca_key, ca_crt, paths["key"], paths["crt"], hosts=args.host,
                      days=args.days, client=args.client, overwrite=args.force,
                      **_key_args(args))
    if args.client:
        use = (f"Client side: --cert {paths['crt']} --key {paths['key']}; server side: "
               f'"ca_certificates": ["{ca_crt}"], "verify_client": "required"')
    else:
        use = _tls_snippet(paths) + f"; clients trust {ca_crt}"
    _report(paths, cert, use)
    return 0


def cmd_csr(args: argparse.Namespace) -> int:
    paths = _paths(args, "csr")
    csr = make_csr(paths["key"], paths["csr"], hosts=args.host, overwrite=args.force,
                   **_key_args(args))
    _report(paths, csr, f"Send {paths['csr']} to your CA; put the certificate it returns "
                        "(with its intermediates, leaf first) next to the key.")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    for i, path in enumerate(args.files):
        if i:
            print()
        for line in describe_file(path):
            print(line)
    return 0


# --- show -------------------------------------------------------------------------


def _validity_text(cert: Any, now: datetime.datetime) -> str:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    text = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    if end < now:
        return f"{text} (EXPIRED {(now - end).days} days ago)"
    if start > now:
        return f"{text} (NOT YET VALID)"
    return f"{text} ({(end - now).days} days left)"


def _role(cert: Any, index: int) -> str:
    if is_ca(cert):
        return "root CA" if is_self_issued(cert) else "intermediate CA"
    if index:
        return "leaf, but not first"
    return "self-signed leaf" if is_self_issued(cert) else "leaf"


def describe_certificate(cert: Any, index: int, now: datetime.datetime) -> List[str]:
    """The ``show`` lines of one certificate."""
    sans = san_names(cert)
    return [
        f"certificate {index + 1} ({_role(cert, index)}):",
        f"  subject:      {subject_text(cert)}",
        f"  SAN:          {', '.join(sans) if sans else '(none)'}",
        f"  issuer:       {cert.issuer.rfc4514_string() or '(empty)'}",
        f"  validity:     {_validity_text(cert, now)}",
        f"  key:          {key_description(cert.public_key())}",
        f"  signature:    {signature_hash(cert) or 'built into the key type'}",
        f"  serial:       {cert.serial_number:x}",
        f"  SHA-256:      {fingerprint(cert)}",
    ]


def _chain_lines(certs: Sequence[Any]) -> List[str]:
    if len(certs) < 2:
        return []
    problems = chain_problems(certs)
    if not problems:
        return ["chain order:  OK (each certificate is issued by the next)"]
    return [f"chain order:  WRONG: {p}" for p in problems]


def describe_file(path: str) -> List[str]:
    """What ``wampnode cert show`` prints for one PEM file (certificates, CSR or key).

    Raises:
        TlsError: unreadable file or no PEM certificate, CSR or key in it.
    """
    data = read_file(path, path)
    now = datetime.datetime.now(datetime.timezone.utc)
    if b"-----BEGIN CERTIFICATE-----" in data:
        certs = load_certificates(path, path)
        lines = [f"{path}: {len(certs)} certificate(s)"]
        for i, cert in enumerate(certs):
            lines += describe_certificate(cert, i, now)
        return lines + _chain_lines(certs)
    if b"CERTIFICATE REQUEST-----" in data:
        return _describe_csr(path, data)
    if b"PRIVATE KEY-----" in data:
        return _describe_key(path)
    raise TlsError(path, "holds no PEM certificate, certificate request or private key",
                   "Give a PEM file (-----BEGIN ...-----)")


def _describe_csr(path: str, data: bytes) -> List[str]:
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as e:
        raise TlsError(path, f"holds a damaged certificate request ({e})") from None
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n.value) for n in san]
    except x509.ExtensionNotFound:
        names = []
    return [
        f"{path}: certificate signing request",
        f"  subject:      {csr.subject.rfc4514_string() or '(empty)'}",
        f"  SAN:          {', '.join(names) or '(none)'}",
        f"  key:          {key_description(csr.public_key())}",
        f"  signature:    {'valid' if csr.is_signature_valid else 'INVALID'}",
    ]


def _describe_key(path: str) -> List[str]:
    key = load_private_key(path, path)
    mode = file_mode(path)
    note = "" if not mode & 0o077 else f" (readable by group or others: chmod 600 {path})"
    return [
        f"{path}: private key",
        f"  key:          {key_description(key.public_key())}",  # type: ignore[attr-defined]
        f"  mode:         {mode:04o}{note}",
    ]


ACTIONS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "selfsigned": cmd_selfsigned, "ca": cmd_ca, "issue": cmd_issue, "csr": cmd_csr,
    "show": cmd_show,
}

