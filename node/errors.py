"""One exception type per failure class, each carrying what a user needs to act.

Every message renders as one line: ``<where>: <problem>. <fix>`` so that the CLI
can print it as is (no traceback unless ``--debug``).
"""
from __future__ import annotations


class NodeError(Exception):
    """Base of every error wampnode reports to a user; ``exit_code`` is the CLI's."""

    exit_code = 1

    def __init__(self, where: str, problem: str, fix: str = "") -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(self.line())

    def line(self) -> str:
        text = f"{self.where}: {self.problem}" if self.where else self.problem
        if self.fix:
            text = f"{text.rstrip('.')}. {self.fix}"
        return text


class ConfigError(NodeError):
    """The configuration is invalid; ``where`` is the file plus JSON path."""

    exit_code = 2


class ConfigErrors(NodeError):
    """Several configuration problems found at once (all of them, not the first)."""

    exit_code = 2

    def __init__(self, errors: "list[ConfigError]") -> None:
        self.errors = list(errors)
        Exception.__init__(self, "\n".join(e.line() for e in self.errors))

    def line(self) -> str:
        return "\n".join(e.line() for e in self.errors)


class TlsError(ConfigError):
    """A key, certificate, DH or cipher setting cannot be used; names file and cause."""


class ListenError(NodeError):
    """A transport cannot listen (port in use, permission denied, bad interface)."""

    exit_code = 1


class PidFileError(NodeError):
    """Another node is running in this node directory, or the pidfile is unusable."""

    exit_code = 1


class ConnectError(NodeError):
    """An outgoing connection failed (TCP, proxy, TLS trust, WebSocket upgrade).

    ``where`` names the peer (``proxy http://...``, ``TLS to host:443``), ``problem``
    the cause (status line, missing CA), ``fix`` what to change.
    """

    exit_code = 1
