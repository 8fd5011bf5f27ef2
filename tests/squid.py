"""A real Squid (Debian package ``squid``) started for one test on 127.0.0.1.

Minimal configuration: CONNECT allowed only to the ports a test names, optional
Basic authentication (``basic_ncsa_auth`` with an APR1 password file), no cache,
its own log and pid files in a private directory, stopped (and the directory
removed) when the test ends. Squid drops root privileges to its ``proxy`` user,
so the directory is created outside pytest's private tmp tree and handed over.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

SQUID = "/usr/sbin/squid"
NCSA_AUTH = "/usr/lib/squid/basic_ncsa_auth"


def _apr1(password: str) -> str:
    out = subprocess.run(["openssl", "passwd", "-apr1", password], capture_output=True, text=True, check=True)
    return out.stdout.strip()


class Squid:
    def __init__(self, port: int, connect_ports: Sequence[int], user: Optional[str] = None,
                 password: Optional[str] = None) -> None:
        if not os.path.exists(SQUID):
            raise AssertionError("squid is not installed: run tests/run.sh (it installs tests/apt-packages.txt)")
        self.port = port
        self.directory = Path(tempfile.mkdtemp(prefix="wampnode-squid-"))
        lines = [
            f"http_port 127.0.0.1:{port}",
            f"pid_filename {self.directory}/squid.pid",
            f"cache_log {self.directory}/cache.log",
            f"access_log stdio:{self.directory}/access.log",
            "cache_store_log none",
            "netdb_filename none",
            f"coredump_dir {self.directory}",
            "cache deny all",
            "pinger_enable off",
            "visible_hostname wampnode-test",
            "shutdown_lifetime 0 seconds",
            "acl CONNECT method CONNECT",
            "acl bridge_ports port " + " ".join(str(p) for p in connect_ports),
            "http_access deny CONNECT !bridge_ports",
        ]
        if user is not None:
            (self.directory / "passwd").write_text(f"{user}:{_apr1(password or '')}\n")
            lines += [f"auth_param basic program {NCSA_AUTH} {self.directory}/passwd",
                      "auth_param basic realm wampnode-test",
                      "acl authenticated proxy_auth REQUIRED",
                      "http_access deny !authenticated"]
        lines += ["http_access allow localhost", "http_access deny all"]
        (self.directory / "squid.conf").write_text("\n".join(l for l in lines if l) + "\n")
        if os.geteuid() == 0:  # squid runs as its effective user 'proxy'
            entry = pwd.getpwnam("proxy")
            for path in [self.directory, *self.directory.iterdir()]:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.proc = subprocess.Popen([SQUID, "-N", "-f", str(self.directory / "squid.conf")],
                                     stdout=subprocess.DEVNULL, stderr=open(self.directory / "stderr.log", "w"))
        self._wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"squid did not start:\n{self.logs()}")

    def logs(self) -> str:
        text = ""
        for name in ("stderr.log", "cache.log", "access.log"):
            path = self.directory / name
            if path.exists():
                text += f"--- {name}\n{path.read_text(errors='replace')[-3000:]}"
        return text

    def access_log(self) -> str:
        path = self.directory / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGKILL: a test proxy keeps nothing worth a graceful shutdown (SIGTERM takes 2 s);
        its helpers (basic_ncsa_auth) exit when their stdin closes with it."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        shutil.rmtree(self.directory, ignore_errors=True)
