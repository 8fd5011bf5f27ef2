"""Who may read a ``metrics`` or ``dashboard`` path: networks, then HTTP basic authentication.

Metrics and the dashboard reveal load, realm names and URIs, so both paths take
``allowed_networks`` (anyone else gets 403, and no login is asked) and
``credentials`` (user -> password; a request without a listed pair gets 401 with
``WWW-Authenticate: Basic``, which makes a browser ask for them and Prometheus
send its ``basic_auth``). Passwords are compared in constant time.

A wrong user or password is a failed login like a WAMP one: the same log line
(``method=http-basic``, so a fail2ban filter for WAMP logins sees these too) and
the same per-address tracker (:mod:`node.router.auth.failures`): past the free
failures, every answer to that address comes late.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from typing import Any, Callable, List, Optional, Tuple, Union

from twisted.web.server import NOT_DONE_YET

from node.config.model import PathAccess
from node.router.auth.failures import log_failure

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class Refusal:
    """Why a request is not answered: HTTP status, headers and a one-line text."""

    def __init__(self, code: int, text: str, headers: Tuple[Tuple[bytes, bytes], ...] = ()) -> None:
        self.code = code
        self.text = text
        self.headers = headers

    def write(self, request: Any) -> bytes:
        request.setResponseCode(self.code)
        request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")
        for name, value in self.headers:
            request.setHeader(name, value)
        return (self.text + "\n").encode("utf-8")


def client_address(request: Any) -> Optional[str]:
    """The IP address of the request's peer; None on a Unix socket."""
    address = request.getClientAddress()
    host = getattr(address, "host", None)
    return host if isinstance(host, str) else None


class Access:
    """The ``allowed_networks`` and ``credentials`` of one path."""

    def __init__(self, config: PathAccess, what: str, failures: Any = None, clock: Any = None) -> None:
        self.networks: List[Network] = [ipaddress.ip_network(n, strict=False) for n in config.allowed_networks]
        self.credentials = {user.encode("utf-8"): password.encode("utf-8") for user, password in config.credentials}
        self.what = what  # "metrics" or "dashboard", for the answers and the log
        self.failures = failures  # node.router.auth.failures.FailureTracker, or None
        self.clock = clock

    def refusal(self, request: Any) -> Optional[Refusal]:
        """None if the request may be answered, else what to answer instead."""
        address = client_address(request)
        if self.networks and not self._allowed(address):
            return Refusal(403, f"Forbidden: {address or 'this peer'} is not in allowed_networks of this "
                                f"{self.what} path")
        if self.credentials and not self._authenticated(request, address):
            return Refusal(401, f"Unauthorized: this {self.what} path needs a user and password (HTTP basic auth)",
                           ((b"WWW-Authenticate", f'Basic realm="wampnode {self.what}", charset="UTF-8"'.encode()),))
        return None

    def delay(self, request: Any) -> float:
        """Seconds to hold the answer to this request's address (many failed logins from it)."""
        address = client_address(request)
        if self.failures is None or not self.credentials or address is None:
            return 0.0
        return self.failures.delay(address)

    def _allowed(self, address: Optional[str]) -> bool:
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)

    def _authenticated(self, request: Any, address: Optional[str]) -> bool:
        user, password = basic_credentials(request.getHeader(b"authorization"))
        if user is None:
            return False  # no credentials sent: a browser asks for them now, no failure
        expected = self.credentials.get(user)
        # compared in constant time even for an unknown user, so timing tells nothing
        ok = hmac.compare_digest(expected if expected is not None else b"\0" * 32, password or b"")
        if ok and expected is not None:
            return True
        log_failure(address or "unix", "http-basic", None, user.decode("utf-8", "replace"),
                    f"wrong user or password for the {self.what} path")
        if self.failures is not None and address is not None:
            self.failures.failed(address)
        return False


def basic_credentials(header: Optional[bytes]) -> Tuple[Optional[bytes], Optional[bytes]]:
    """(user, password) of an ``Authorization: Basic`` header; (None, None) if there is none or it is malformed."""
    if not header or not header[:6].lower() == b"basic ":
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None, None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None, None
    return user, password


def guarded(access: Access, request: Any, answer: Callable[[], Any], reactor: Any) -> Any:
    """Answer ``request`` with ``answer()`` if ``access`` lets it through, else with the refusal;
    late (NOT_DONE_YET) for an address with many failed logins."""
    refusal = access.refusal(request)
    wait = access.delay(request)
    if wait <= 0 or reactor is None:
        return refusal.write(request) if refusal is not None else answer()

    def late() -> None:
        if getattr(request, "_disconnected", False):
            return
        body = refusal.write(request) if refusal is not None else answer()
        if body is not NOT_DONE_YET:
            request.write(body)
            request.finish()

    reactor.callLater(wait, late)
    return NOT_DONE_YET
