"""A private ``nats-server`` for one node, when ``backplane.url`` names none.

It listens on 127.0.0.1 only, on a free port, and requires a random token, so
that no other local user can inject messages into the router: the token is in
a mode 0600 config file in the node directory and in the workers' environment,
never on a command line. ``max_payload`` is raised to carry the largest WAMP
message a transport accepts (RawSocket: 16 MiB). Under Linux the server gets
SIGTERM if the supervisor dies (``setpriv --pdeathsig``), so it never outlives it.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
from typing import Any, Callable, List, Optional

from twisted.internet import defer, protocol
from twisted.logger import Logger

from node.cluster.backplane import BackplaneError

log = Logger()

CONFIG_NAME = "nats-server.conf"
MAX_PAYLOAD = 32 * 1024 * 1024
READY_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _ServerOutput(protocol.ProcessProtocol):
    """Relays nats-server's log lines: errors as errors, the rest at debug level."""

    def __init__(self, ended: Callable[[Any], None]) -> None:
        self.ended = ended
        self._partial = b""

    def errReceived(self, data: bytes) -> None:  # noqa: N802 (Twisted's name)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            text = line.decode("utf-8", "replace").strip()
            if "[ERR]" in text or "[FTL]" in text:
                log.error("nats-server: {line}", line=text)
            elif text:
                log.debug("nats-server: {line}", line=text)

    outReceived = errReceived

    def processEnded(self, reason: Any) -> None:  # noqa: N802
        self.ended(reason)


class LocalNatsServer:
    """Starts, restarts (same port and token) and stops the node's nats-server."""

    def __init__(self, reactor: Any, cbdir: str, executable: Optional[str] = None) -> None:
        self.reactor = reactor
        self.cbdir = cbdir
        self.executable = executable or shutil.which("nats-server")
        self.token = secrets.token_hex(24)
        self.port = 0
        self.process: Any = None
        self.stopping = False
        self.on_crash: Optional[Callable[[str], None]] = None
        self._exit_waiters: List[defer.Deferred] = []

    @property
    def url(self) -> str:
        """The URL the workers use, token included (never logged)."""
        return f"nats://{self.token}@127.0.0.1:{self.port}"

    @property
    def public_url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _write_config(self) -> str:
        path = os.path.join(self.cbdir, CONFIG_NAME)
        text = (f"# written by wampnode at each start; the node's private backplane\n"
                f"host: 127.0.0.1\nport: {self.port}\n"
                f"authorization {{ token: \"{self.token}\" }}\n"
                f"max_payload: {MAX_PAYLOAD}\nmax_pending: {8 * MAX_PAYLOAD}\n")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def _command(self, config_path: str) -> List[str]:
        command = [self.executable, "-c", config_path]
        setpriv = shutil.which("setpriv")
        if setpriv is not None and os.uname().sysname == "Linux":
            command = [setpriv, "--pdeathsig", "TERM", "--", *command]
        return command

    @defer.inlineCallbacks
    def start(self) -> Any:
        """Start the server and wait until it accepts connections.

        @raise BackplaneError: nats-server is missing or does not come up.
        """
        if self.executable is None:
            raise BackplaneError("workers[0].options.processes", "nats-server is not installed (not on PATH)",
                                 "Install it (Debian/Ubuntu: apt install nats-server), or name a running "
                                 "NATS server in workers[0].options.backplane.url")
        if not self.port:
            self.port = free_port()
        command = self._command(self._write_config())
        self.process = self.reactor.spawnProcess(_ServerOutput(self._ended), command[0], command,
                                                 env=dict(os.environ), path=self.cbdir)
        waited = 0.0
        while not self._accepts():
            if self.process is None or waited > READY_TIMEOUT_SECONDS:
                raise BackplaneError("backplane", f"the node's nats-server did not start on 127.0.0.1:{self.port}",
                                     "Run the node with --loglevel debug to see nats-server's output")
            yield _sleep(self.reactor, 0.05)
            waited += 0.05
        log.info("Backplane: started nats-server on {url} (pid {pid})", url=self.public_url, pid=self.process.pid)

    def _accepts(self) -> bool:
        """True once the server accepts TCP connections (on loopback this never blocks)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _ended(self, reason: Any) -> None:
        self.process = None
        waiters, self._exit_waiters = self._exit_waiters, []
        for d in waiters:
            d.callback(None)
        if not self.stopping and self.on_crash is not None:
            self.on_crash(f"nats-server exited ({reason.getErrorMessage()})")

    def stop(self) -> defer.Deferred:
        """SIGTERM, then wait for the process to go (SIGKILL after 5 s)."""
        self.stopping = True
        process = self.process
        if process is None:
            return defer.succeed(None)
        done: defer.Deferred = defer.Deferred()
        self._exit_waiters.append(done)
        try:
            process.signalProcess("TERM")
        except Exception:
            return defer.succeed(None)
        killer = self.reactor.callLater(5, _kill, process)
        done.addBoth(lambda r: killer.cancel() if killer.active() else None)
        return done


def _kill(process: Any) -> None:
    try:
        process.signalProcess("KILL")
    except Exception:
        pass


def _sleep(reactor: Any, seconds: float) -> defer.Deferred:
    d: defer.Deferred = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d
