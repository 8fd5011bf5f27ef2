"""Helpers for bridge, tunnel and trust tests: a TCP echo server process, bridge configs.

:class:`EchoServer` runs ``tests/echo_server.py`` as its own process and follows
its event lines (``accepted 1``, ``eof 1``, ...) so a test can wait for them.
"""
from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

from conftest import REPO, router_config, tcp, wait_until

ECHO_SERVER = REPO / "tests" / "echo_server.py"


class EchoServer:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, str(ECHO_SERVER), *args], stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().split()
        if not first or first[0] != "listening":
            self.stop()
            raise AssertionError("echo server did not start")
        self.where = first[1]
        self.lines: List[str] = []
        self._markers: Set[str] = set()  # connection numbers of sync()'s marker connections
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def port(self) -> int:
        return int(self.where)

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def count(self, word: str) -> int:
        """How many ``word`` lines have been read, leaving out :meth:`sync`'s marker connections."""
        return sum(1 for words in (line.split() for line in list(self.lines))
                   if words[:1] == [word] and not (len(words) > 1 and words[1] in self._markers))

    def sync(self) -> None:
        """Return once every line the server printed before this call has been read.

        The server prints its lines in order; a marker connection opened now is
        reported after all of them, so seeing its ``accepted N PORT`` line means the
        reader has caught up. Its lines are left out of :meth:`count`.
        """
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as marker:
            port = str(marker.getsockname()[1])

            def marker_number() -> Optional[str]:
                return next((line.split()[1] for line in list(self.lines)
                             if line.split()[:1] == ["accepted"] and line.split()[2:3] == [port]), None)

            if not wait_until(lambda: marker_number() is not None):
                raise AssertionError("the echo server never reported the marker connection")
            self._markers.add(marker_number())

    def wait_for(self, word: str, count: int = 1, timeout: float = 10.0) -> bool:
        return wait_until(lambda: self.count(word) >= count, timeout)

    def line(self, word: str) -> Optional[str]:
        return next((line for line in list(self.lines) if line.split()[:1] == [word]), None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def bridge_path(target: Dict[str, Any], **options: Any) -> Dict[str, Any]:
    path: Dict[str, Any] = {"type": "tcpbridge", "target": target}
    path.update(options)
    return path


def tcp_target(port: int, tls: Optional[Dict[str, Any]] = None, host: str = "127.0.0.1") -> Dict[str, Any]:
    target: Dict[str, Any] = {"type": "tcp", "host": host, "port": port}
    if tls is not None:
        target["tls"] = tls
    return target


def bridge_config(port: int, paths: Dict[str, Dict[str, Any]], tls: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """A node with one ``web`` transport on 127.0.0.1:``port`` serving ``paths``."""
    return router_config([{"type": "web", "endpoint": tcp(port, tls), "paths": paths}])


PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "all_proxy",
                   "ALL_PROXY")


def tunnel_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The test process's environment without proxy settings, plus ``extra``."""
    from conftest import node_env

    env = {k: v for k, v in node_env().items() if k not in PROXY_VARIABLES}
    env.update(extra or {})
    return env


class TunnelProcess:
    """``wampnode tunnel --listen 127.0.0.1:PORT URL ARGS`` as a process."""

    def __init__(self, url: str, *args: str, env: Optional[Dict[str, str]] = None, log_dir: Optional[Path] = None) -> None:
        from conftest import free_port

        self.port = free_port()
        import tempfile

        self.log_path = Path(tempfile.mkstemp(prefix="tunnel-", suffix=".log", dir=log_dir)[1])
        with open(self.log_path, "w") as log_file:
            self.proc = subprocess.Popen([sys.executable, "-m", "node", "tunnel", "--listen", f"127.0.0.1:{self.port}",
                                          url, *args], stdout=subprocess.DEVNULL, stderr=log_file, env=tunnel_env(env))
        if not wait_until(lambda: "Tunnel listening" in self.output() or self.proc.poll() is not None, 15):
            self.stop()
            raise AssertionError(f"tunnel did not start:\n{self.output()}")
        if self.proc.poll() is not None:
            raise AssertionError(f"tunnel exited:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def exchange(self, data: bytes, timeout: float = 30.0) -> bytes:
        """Send ``data`` through a new local connection; return what came back (as much as sent)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            sender = threading.Thread(target=s.sendall, args=(data,))
            sender.start()
            received = bytearray()
            while len(received) < len(data):
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                received += chunk
            sender.join()
        return bytes(received)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log_path.unlink(missing_ok=True)


def run_stdio_tunnel(url: str, *args: str, env: Optional[Dict[str, str]] = None,
                     timeout: float = 30.0) -> subprocess.CompletedProcess:
    """``wampnode tunnel --stdio URL ARGS`` with empty stdin, for tunnels that must fail."""
    return subprocess.run([sys.executable, "-m", "node", "tunnel", "--stdio", url, *args], input=b"",
                          capture_output=True, env=tunnel_env(env), timeout=timeout)
