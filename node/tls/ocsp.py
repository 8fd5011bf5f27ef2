"""OCSP stapling: serve a CA's signed "still good" answer inside the handshake.

Clients that ask (``status_request``, RFC 6066 section 8) get the response
from the ``ocsp_staple`` file, so they need not ask the CA themselves (a
privacy leak and a delay). wampnode does not fetch responses: a cron job does,
as for certificate renewal, then ``wampnode reload``::

    openssl ocsp -issuer chain.pem -cert server.crt -url "$(openssl x509 -in server.crt \\
        -noout -ocsp_uri)" -respout server.ocsp -noverify

A response that does not parse, failed, or is for another certificate is an
error (a wrong staple makes strict clients fail); one that is out of date is
a ``check`` warning, because clients then ignore it rather than fail.
"""
from __future__ import annotations

import datetime
from typing import List, Optional, Sequence

from cryptography import x509
from cryptography.x509 import ocsp

from node.errors import TlsError
from node.tls.certinfo import subject_text
from node.tls.pem import read_file

__all__ = ["load_staple", "staple_warnings"]


def _parse(where: str, path: str, data: bytes) -> ocsp.OCSPResponse:
    fix = "Fetch it again: openssl ocsp ... -respout FILE (DER)"
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError:
        what = "PEM text" if data.lstrip().startswith(b"-----") else "no DER OCSP response"
        raise TlsError(where, f"{path} holds {what}, not a DER OCSP response", fix) from None
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise TlsError(
            where,
            f"{path} is an unsuccessful OCSP response ({response.response_status.name})",
            fix,
        )
    return response


def load_staple(where: str, path: str, chain: Sequence[x509.Certificate]) -> bytes:
    """The DER bytes of the OCSP response in ``path``, checked against ``chain[0]``.

    Raises:
        TlsError: unreadable file, not a successful DER OCSP response, or a
            response about another certificate (serial number).
    """
    data = read_file(where, path)
    response = _parse(where, path, data)
    leaf = chain[0]
    if response.serial_number != leaf.serial_number:
        raise TlsError(
            where,
            f"{path} answers for serial {response.serial_number:x}, not for the "
            f"certificate ({subject_text(leaf)}, serial {leaf.serial_number:x})",
            "Fetch the response for the certificate this endpoint serves",
        )
    return data


def _utc(response: ocsp.OCSPResponse, name: str) -> Optional[datetime.datetime]:
    """``this_update``/``next_update`` as aware UTC (the ``_utc`` names need cryptography 43)."""
    if hasattr(response, f"{name}_utc"):
        return getattr(response, f"{name}_utc")
    naive = getattr(response, name)
    return naive.replace(tzinfo=datetime.timezone.utc) if naive is not None else None


def staple_warnings(where: str, path: str, data: bytes, now: datetime.datetime) -> List[str]:
    """Out-of-date or revoked staples (others are :func:`load_staple` errors).

    ``data`` is the response :func:`load_staple` read from ``path``.
    """
    try:
        response = _parse(where, path, data)
    except TlsError:
        return []
    found: List[str] = []
    next_update, this_update = _utc(response, "next_update"), _utc(response, "this_update")
    if next_update is not None and next_update < now:
        found.append(TlsError(
            where,
            f"OCSP response {path} is out of date since {next_update:%Y-%m-%d %H:%M} UTC; "
            "clients ignore it",
            "Fetch a fresh one and run wampnode reload (e.g. daily from cron)",
        ).line())
    if this_update is not None and this_update > now:
        found.append(TlsError(
            where,
            f"OCSP response {path} is not valid before {this_update:%Y-%m-%d %H:%M} UTC",
            "Check this machine's clock",
        ).line())
    if response.certificate_status == ocsp.OCSPCertStatus.REVOKED:
        found.append(TlsError(
            where,
            f"OCSP response {path} says the certificate is REVOKED; clients will refuse it",
            "Get a new certificate, then reload",
        ).line())
    return found
