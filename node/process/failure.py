"""What a process does with the failure that stopped its start: one log line and an exit code."""
from __future__ import annotations

from twisted.logger import Logger
from twisted.python.failure import Failure

from node.errors import NodeError

log = Logger()


def report_start_failure(failure: Failure, debug: bool = False) -> int:
    """Log why the start failed and return the exit code for it.

    A :class:`NodeError` is the user's to fix: its one line, its own exit code. Anything
    else is a bug: logged with its traceback, exit code 1.
    """
    error = failure.value
    if isinstance(error, NodeError):
        log.critical("{error}", error=error.line())
        code = error.exit_code
    else:
        log.failure("Node failed to start", failure)
        code = 1
    if debug:
        log.debug("{tb}", tb=failure.getTraceback())
    return code
