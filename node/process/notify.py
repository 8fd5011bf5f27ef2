"""The listening side of sd_notify: the node's children tell it they are ready.

Router processes of a cluster (:mod:`node.process.supervisor`) and container
workers (:mod:`node.process.children`) report ``READY=1`` (and ``STATUS=``) with
systemd's own datagram protocol, each naming itself with ``MAINPID``. The parent
listens on an abstract Unix datagram socket (no file to clean up, nothing left
behind by a killed node), private to it by a random name.
"""
from __future__ import annotations

import os
import secrets
import socket
from typing import Any, Callable, Dict

Handler = Callable[[int, Dict[str, str]], None]  # (pid, fields) of one datagram


def notify_name(kind: str = "wampnode") -> str:
    """A fresh abstract socket name for this process (``@`` + it is the ``NOTIFY_SOCKET`` form)."""
    return f"{kind}-{os.getpid()}-{secrets.token_hex(4)}"


def parse_datagram(data: bytes) -> Dict[str, str]:
    """``KEY=value`` lines of one sd_notify datagram."""
    return dict(line.split("=", 1) for line in data.decode("utf-8", "replace").splitlines() if "=" in line)


class NotifyListener:
    """sd_notify datagrams from children, on an abstract Unix datagram socket.

    An ``IReadDescriptor`` added with ``reactor.addReader`` (Twisted's datagram port
    would log its opening and closing). A datagram without a numeric ``MAINPID``
    cannot be told apart and is dropped.
    """

    def __init__(self, name: str, handler: Handler) -> None:
        self.name = name
        self.handler = handler
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind("\0" + name)
        self.socket.setblocking(False)

    @property
    def address(self) -> str:
        """The ``NOTIFY_SOCKET`` value naming this listener."""
        return "@" + self.name

    def fileno(self) -> int:
        return self.socket.fileno()

    def logPrefix(self) -> str:  # noqa: N802 (Twisted's name)
        return "sd_notify"

    def doRead(self) -> None:  # noqa: N802
        while True:
            try:
                data = self.socket.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            fields = parse_datagram(data)
            if fields.get("MAINPID", "").isdigit():
                self.handler(int(fields["MAINPID"]), fields)

    def connectionLost(self, reason: Any) -> None:  # noqa: N802
        self.socket.close()
