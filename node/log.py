"""Logging with ``twisted.logger``: human-readable lines or one JSON object per line.

A failure logged by any library becomes one line naming the exception unless the
level is ``debug`` or ``trace``: administrators get causes, not tracebacks.
"""
from __future__ import annotations

import json
import re
import sys
import time
from typing import Any, Dict, TextIO

from twisted.logger import (FilteringLogObserver, LogLevel, LogLevelFilterPredicate, formatEvent,
                            globalLogBeginner)

# Twisted announces every port and factory start/stop at info level through its
# legacy log; wampnode logs one line per transport instead, so these are noise.
_TWISTED_CHATTER = re.compile(r"^(.+ starting on \S+|\((TCP|UNIX) Port \S+ Closed\)|"
                              r"(Starting|Stopping) factory .+|Main loop terminated\.)$")


def _twisted_level(name: str) -> LogLevel:
    return LogLevel.levelWithName("debug" if name == "trace" else name)


def _timestamp(event: Dict[str, Any]) -> str:
    when = event.get("log_time", time.time())
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when % 1 * 1000):03d}Z"


def _message(event: Dict[str, Any], tracebacks: bool) -> str:
    text = formatEvent(event)
    failure = event.get("log_failure")
    if failure is not None:
        summary = f"{failure.type.__name__}: {failure.getErrorMessage()}"
        text = f"{text}: {summary}" if text else summary
        if tracebacks:
            text += "\n" + failure.getTraceback()
    return text


def _fields(event: Dict[str, Any]) -> Dict[str, Any]:
    fields = {}
    for key, value in event.items():
        if key.startswith("log_") or key in ("format", "message", "isError", "system", "time"):
            continue
        if isinstance(value, (str, int, float, bool)) or value is None:
            fields[key] = value
        else:
            fields[key] = str(value)
    return fields


class LineObserver:
    """Writes each event as one line to ``stream`` (``standard`` or ``json``)."""

    def __init__(self, stream: TextIO, fmt: str, tracebacks: bool) -> None:
        self.stream = stream
        self.json = fmt == "json"
        self.tracebacks = tracebacks

    def __call__(self, event: Dict[str, Any]) -> None:
        level = event.get("log_level", LogLevel.info)
        namespace = event.get("log_namespace", "-")
        message = _message(event, self.tracebacks)
        if level == LogLevel.info and namespace == "log_legacy" and _TWISTED_CHATTER.match(message) \
                and not self.tracebacks:
            return
        if self.json:
            record = {"time": _timestamp(event), "level": level.name, "namespace": namespace,
                      "message": message}
            record.update(_fields(event))
            line = json.dumps(record, default=str)
        else:
            line = f"{_timestamp(event)} [{level.name}] {message}"
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # stdout closed: nothing sensible left to do
            pass


def choose_twisted() -> None:
    """Tell txaio (autobahn's loop abstraction) that this process runs Twisted.

    A test process that already chose asyncio for its clients keeps that choice.
    """
    import txaio

    try:
        txaio.use_twisted()
    except RuntimeError:
        pass


def start_logging(level: str = "info", fmt: str = "standard", stream: TextIO = None) -> None:
    """Route all Twisted, autobahn (txaio) and stdlib-warning output through one observer."""
    import txaio

    choose_twisted()
    txaio.set_global_log_level(level)
    predicate = LogLevelFilterPredicate(defaultLogLevel=_twisted_level(level))
    observer = FilteringLogObserver(LineObserver(stream or sys.stdout, fmt, level in ("debug", "trace")),
                                    [predicate])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
