"""sd_notify without a dependency: a few datagrams to ``$NOTIFY_SOCKET``.

systemd's ``Type=notify`` waits for ``READY=1``; wampnode sends it only after every
transport listens, so units ordered after it can connect immediately. The
environment is a parameter (as in Twisted's ``ListenFDs.fromEnvironment``) so tests
pass a dict.
"""
from __future__ import annotations

import os
import socket
import time
from typing import Any, Mapping, Optional


class Notifier:
    def __init__(self, address: Optional[str], watchdog_usec: Optional[int] = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec

    @classmethod
    def from_environment(cls, environ: Optional[Mapping[str, str]] = None) -> "Notifier":
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        watchdog = env.get("WATCHDOG_USEC")
        if watchdog and env.get("WATCHDOG_PID") not in (None, "", str(os.getpid())):
            watchdog = None
        return cls(address, int(watchdog) if watchdog and watchdog.isdigit() else None)

    def notify(self, state: str) -> bool:
        """Send one state string; False when not under systemd or the socket is gone."""
        if not self.address:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.connect(target)
            sock.sendall(state.encode("utf-8"))
            return True
        except OSError:
            return False
        finally:
            sock.close()

    def ready(self, status: str) -> None:
        self.notify(f"READY=1\nSTATUS={status}\nMAINPID={os.getpid()}")

    def reloading(self) -> None:
        """RELOADING=1 with the CLOCK_MONOTONIC time, which systemd >= 253 pairs with the next READY=1."""
        self.notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def start_watchdog(self, reactor: Any) -> None:
        """Ping at half the watchdog interval, as sd_watchdog_enabled(3) recommends."""
        if not self.watchdog_usec or not self.address:
            return
        from twisted.internet.task import LoopingCall

        self._watchdog = LoopingCall(self.notify, "WATCHDOG=1")
        self._watchdog.clock = reactor
        self._watchdog.start(self.watchdog_usec / 2e6, now=True)
