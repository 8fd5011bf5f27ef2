"""``wampnode cert``: make and inspect keys and certificates, no openssl needed.

::

    wampnode cert selfsigned --host localhost 127.0.0.1   # dev: server.key + server.crt
    wampnode cert ca --dir ca                              # a private root CA: ca/ca.key + ca/ca.crt
    wampnode cert issue --ca ca --host node.example.com    # a leaf from it
    wampnode cert issue --ca ca --host alice --client      # a client certificate (mTLS)
    wampnode cert csr --host example.com www.example.com   # key + CSR for a public CA
    wampnode cert show server.crt                          # what is in a PEM file

The work is :mod:`node.tls.devcerts` (``cryptography``); this module only parses
arguments, refuses to overwrite (unless ``--force``), and says what it wrote.
Heavy imports happen inside the functions: the parser is built on every
``wampnode`` run, and ``start`` must stay fast.
"""
from __future__ import annotations

import argparse
import datetime
import os
from typing import Any, Callable, Dict, List, Sequence

from node.errors import TlsError

# The development certificate's names, as `wampnode init` makes it (node.tls.devcerts).
DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")

__all__ = ["add_cert_parser", "run_cert", "describe_file"]


def _output_options(parser: argparse.ArgumentParser, name: str, leaf: bool = True,
                    hosts: Sequence[str] = ()) -> None:
    parser.add_argument("--dir", default=".", help="directory to write into (default: .)")
    parser.add_argument("--name", default=name,
                        help=f"file base name: NAME.key, NAME.crt (default: {name})")
    parser.add_argument("--rsa", type=int, nargs="?", const=3072, default=None, metavar="BITS",
                        help="an RSA key (default 3072 bits) instead of ECDSA P-256")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    if leaf:
        default = f" (default: {' '.join(hosts)})" if hosts else ""
        parser.add_argument("--host", nargs="+", action="extend", default=None,
                            required=not hosts, metavar="NAME",
                            help=f"DNS names and IP addresses (subjectAltName){default}")


def add_cert_parser(commands: Any) -> None:
    """Add ``cert`` and its subcommands to the ``wampnode`` subparsers."""
    cert = commands.add_parser("cert", help="make and inspect TLS keys and certificates")
    sub = cert.add_subparsers(dest="cert_command", metavar="ACTION")
    sub.required = True

    selfsigned = sub.add_parser("selfsigned", help="a self-signed development certificate")
    _output_options(selfsigned, "server", hosts=DEFAULT_HOSTS)
    selfsigned.add_argument("--days", type=int, default=90, help="validity (1..397, default 90)")

    ca = sub.add_parser("ca", help="a private root CA (key + self-signed CA certificate)")
    _output_options(ca, "ca", leaf=False)
    ca.add_argument("--cn", default="wampnode private CA", help="the CA's common name")
    ca.add_argument("--days", type=int, default=3650, help="validity (default 3650)")

    issue = sub.add_parser("issue", help="a server (or --client) certificate from a private CA")
    _output_options(issue, "server")
    issue.add_argument("--ca", required=True, metavar="DIR",
                       help="directory of the CA made by `wampnode cert ca`")
    issue.add_argument("--ca-name", default="ca", help="CA file base name in DIR (default: ca)")
    issue.add_argument("--days", type=int, default=90, help="validity (1..397, default 90)")
    issue.add_argument("--client", action="store_true",
                       help="a client certificate (clientAuth; CN = first --host) for mutual TLS")

    csr = sub.add_parser("csr", help="a key and a certificate signing request for a public CA")
    _output_options(csr, "server")

    show = sub.add_parser("show", help="print what PEM certificates, CSRs or keys hold")
    show.add_argument("files", nargs="+", metavar="FILE")


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
    from node.tls.certinfo import key_description, san_names, subject_text

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
    from node.tls.devcerts import make_selfsigned

    paths = _paths(args, "crt")
    cert = make_selfsigned(paths["key"], paths["crt"], hosts=args.host or DEFAULT_HOSTS,
                           days=args.days,
                           overwrite=args.force, **_key_args(args))
    _report(paths, cert, _tls_snippet(paths))
    return 0


def cmd_ca(args: argparse.Namespace) -> int:
    from node.tls.devcerts import make_ca

    paths = _paths(args, "crt")
    cert = make_ca(paths["key"], paths["crt"], name=args.cn, days=args.days,
                   overwrite=args.force, **_key_args(args))
    _report(paths, cert, f"Issue from it: wampnode cert issue --ca {args.dir} --host NAME; "
                         f"clients trust {paths['crt']}. Keep {paths['key']} offline if you can.")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    from node.tls.devcerts import issue_leaf

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
    from node.tls.devcerts import make_csr

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
    from node.tls.certinfo import is_ca, is_self_issued

    if is_ca(cert):
        return "root CA" if is_self_issued(cert) else "intermediate CA"
    if index:
        return "leaf, but not first"
    return "self-signed leaf" if is_self_issued(cert) else "leaf"


def describe_certificate(cert: Any, index: int, now: datetime.datetime) -> List[str]:
    """The ``show`` lines of one certificate."""
    from node.tls.certinfo import fingerprint, key_description, san_names, signature_hash, subject_text

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
    from node.tls.certinfo import chain_problems

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
    from node.tls.pem import read_file

    data = read_file(path, path)
    now = datetime.datetime.now(datetime.timezone.utc)
    if b"-----BEGIN CERTIFICATE-----" in data:
        from node.tls.pem import load_certificates

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
    from cryptography import x509

    from node.tls.certinfo import key_description

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
    from node.tls.certinfo import key_description
    from node.tls.pem import file_mode, load_private_key

    key = load_private_key(path, path)
    mode = file_mode(path)
    note = "" if not mode & 0o077 else f" (readable by group or others: chmod 600 {path})"
    return [
        f"{path}: private key",
        f"  key:          {key_description(key.public_key())}",  # type: ignore[attr-defined]
        f"  mode:         {mode:04o}{note}",
    ]


_ACTIONS: Dict[str, Callable[[argparse.Namespace], int]] = {
    "selfsigned": cmd_selfsigned, "ca": cmd_ca, "issue": cmd_issue, "csr": cmd_csr,
    "show": cmd_show,
}


def run_cert(args: argparse.Namespace) -> int:
    """Run one ``wampnode cert`` action; errors are TlsErrors the CLI prints in one line."""
    return _ACTIONS[args.cert_command](args)
