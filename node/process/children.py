"""Supervised children of the node: one container or guest worker each.

A :class:`Child` starts its process with ``reactor.spawnProcess``, logs what it
writes a line at a time, tagged with the worker id (:class:`OutputLines`), and when
it exits logs the exit code or signal and applies ``restart``: ``restart-always``
starts it again, ``restart-on-failed`` if it exited with a code other than 0 or by a
signal, ``restart-never`` never. Restarts back off as every child of the node does
(:class:`~node.workers.restarts.RestartBackoff`: 0.5 s doubling to 30 s while it
keeps dying young, under 10 s).

Stopping a child sends SIGTERM to its process group, then SIGKILL to the group after
its ``stop_timeout``. What is left of the group when the child exits by itself goes
too (SIGKILL), as systemd does with a service's processes: a restarted guest never
finds its predecessor's helpers holding its port.
"""
from __future__ import annotations

import json
import os
import pickle
import signal
import sys
import time
from typing import Any, Callable, Dict, List, Optional

from twisted.internet import defer, protocol
from twisted.logger import Logger, LogLevel

from node.config.model import ContainerWorker, GuestWorker, ProcessEnv, ProxyWorker
from node.process.lifeline import exec_args
from node.process.watch import DirectoryWatch
from node.workers.restarts import RestartBackoff

log = Logger()

MAX_LINE = 16384  # characters of one logged line; a longer one is logged in pieces
_SYSTEMD_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
                      "LISTEN_FDNAMES")
_JSON_STANDARD = ("time", "level", "namespace", "message", "worker", "stream", "format")


def child_environment(env: ProcessEnv) -> Dict[str, str]:
    """``options.env`` applied to the node's environment, without systemd's variables, which
    are the node's own (a child must not report to systemd as if it were the node)."""
    computed = env.compute(os.environ)
    for name in _SYSTEMD_VARIABLES:
        computed.pop(name, None)
    return computed


def describe_exit(status: Any) -> str:
    """``exit code 3`` or ``signal SIGKILL`` from Twisted's ProcessDone / ProcessTerminated."""
    sig = getattr(status, "signal", None)
    if sig:
        try:
            return f"signal {signal.Signals(sig).name}"
        except ValueError:
            return f"signal {sig}"
    return f"exit code {getattr(status, 'exitCode', None)}"


def exit_failed(status: Any) -> bool:
    return bool(getattr(status, "signal", None)) or getattr(status, "exitCode", 1) != 0


class OutputLines:
    """Bytes from a pipe in, whole lines out (``\\r`` dropped, UTF-8 errors replaced).

    A line longer than :data:`MAX_LINE` characters is passed on in pieces: what the
    node keeps of a child's output is bounded.
    """

    def __init__(self, emit: Callable[[str], None]) -> None:
        self.emit = emit
        self.buffer = b""

    def feed(self, data: bytes) -> None:
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            self._emit(line)
        while len(self.buffer) > MAX_LINE * 4:  # no newline in sight: pass on what is there
            piece, self.buffer = self.buffer[:MAX_LINE], self.buffer[MAX_LINE:]
            self._emit(piece)

    def flush(self) -> None:
        if self.buffer:
            self._emit(self.buffer)
        self.buffer = b""

    def _emit(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        for start in range(0, max(len(text), 1), MAX_LINE):
            self.emit(text[start:start + MAX_LINE])


class _ChildProtocol(protocol.ProcessProtocol):
    def __init__(self, child: "Child") -> None:
        self.child = child

    def connectionMade(self) -> None:  # noqa: N802 (Twisted's names)
        self.child.connected(self.transport)

    def childDataReceived(self, fd: int, data: bytes) -> None:  # noqa: N802
        self.child.output(fd, data)

    def processExited(self, reason: Any) -> None:  # noqa: N802
        self.child.exited(self, reason.value)


class Child:
    """One container or guest worker: its process, its restarts, its state.

    States: ``starting`` (spawned, a container's components not all joined yet),
    ``running``, ``restarting`` (waiting out the backoff), ``stopping``, ``stopped``
    (by the node), ``exited`` (ended by itself, not restarted) and ``disabled``.

    @param events: told of every change (``child_changed``), of readiness
        (``child_ready``) and of an end that is not followed by a restart (``child_ended``).
    """

    kind = "worker"

    def __init__(self, spec: Any, reactor: Any, events: Any) -> None:
        self.spec = spec
        self.reactor = reactor
        self.events = events
        self.backoff = RestartBackoff()
        self.process: Any = None
        self.protocol: Optional[_ChildProtocol] = None
        self.pid: Optional[int] = None
        self.state = "starting"
        self.ready = False
        self.restarts = 0
        self.started_wall: Optional[float] = None
        self.started_at = 0.0
        self.last_exit: Optional[str] = None
        self.detail = ""
        self.timer: Any = None
        self.kill_timer: Any = None
        self.stopping = False
        self.restart_reason: Optional[str] = None  # a deliberate restart (watch): start again at the exit
        self.waiters: List[defer.Deferred] = []
        self.lines: Dict[int, OutputLines] = {}

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def label(self) -> str:
        return f"{self.kind.capitalize()} {self.spec.id}"

    # --- to be given by each kind ----------------------------------------------------------------

    def command(self) -> Optional[Dict[str, Any]]:
        """``spawnProcess`` keyword arguments (executable, args, env, path, childFDs), or None if the
        child cannot be started now (logged by the method)."""
        raise NotImplementedError

    def connected(self, transport: Any) -> None:
        """The process runs: feed or close its stdin, close the output pipes not read."""

    def output(self, fd: int, data: bytes) -> None:
        lines = self.lines.get(fd)
        if lines is not None:
            lines.feed(data)

    # --- start --------------------------------------------------------------------------------

    def start(self) -> None:
        self.timer = None
        if self.stopping:
            return
        command = self.command()
        if command is None:
            self._ended_without_process("exit code 127", failed=True)
            return
        self.protocol = _ChildProtocol(self)
        self.ready = False
        self.state = "starting"
        self.detail = ""
        self.lines = self.output_lines()
        self.started_at = self.reactor.seconds()
        self.started_wall = time.time()
        try:
            self.process = self.reactor.spawnProcess(self.protocol, command["executable"], command["args"],
                                                     env=command["env"], path=command["path"],
                                                     childFDs=command["childFDs"])
        except OSError as e:  # no process at all (out of processes or descriptors)
            self.protocol = None
            log.error("{label} cannot be started: {error}", label=self.label, error=e.strerror or e)
            self._ended_without_process(f"not started: {e.strerror or e}", failed=True)
            return
        self.pid = self.process.pid
        try:
            os.setpgid(self.pid, self.pid)  # the child does the same: whichever comes first makes the group
        except OSError:
            pass
        log.info("{label} started (pid {pid}{again})", label=self.label, pid=self.pid,
                 again=f", restart {self.restarts}" if self.restarts else "")
        self.events.child_changed(self)
        self.spawned()

    def spawned(self) -> None:
        """The process was started (``self.process`` is set; its stdin was handled in :meth:`connected`)."""

    def output_lines(self) -> Dict[int, OutputLines]:
        return {}

    def mark_ready(self) -> None:
        if self.process is None or self.ready:
            return
        self.ready = True
        self.state = "running"
        self.events.child_changed(self)
        self.events.child_ready(self)

    # --- exit ---------------------------------------------------------------------------------

    def exited(self, proto: _ChildProtocol, status: Any) -> None:
        if proto is not self.protocol:
            return
        for lines in self.lines.values():
            lines.flush()
        pid = self.pid
        self.process = None
        self.protocol = None
        self._reap_group(pid)
        if self.kill_timer is not None and self.kill_timer.active():
            self.kill_timer.cancel()
        self.kill_timer = None
        how = describe_exit(status)
        self.last_exit = how
        if self.stopping:
            log.info("{label} (pid {pid}) stopped ({how})", label=self.label, pid=pid, how=how)
            self._stopped()
            return
        if self.restart_reason is not None:
            log.info("{label} (pid {pid}) ended ({how}); starting it again: {why}", label=self.label, pid=pid,
                     how=how, why=self.restart_reason)
            self.restart_reason = None
            self.restarts += 1
            self.backoff.reset()
            self.start()
            return
        self._ended(how, exit_failed(status), self.reactor.seconds() - self.started_at, pid)

    def _ended_without_process(self, how: str, failed: bool) -> None:
        self.last_exit = how
        self._ended(how, failed, 0.0, None)

    def _ended(self, how: str, failed: bool, lifetime: float, pid: Optional[int]) -> None:
        policy = self.spec.restart
        restart = policy == "restart-always" or (policy == "restart-on-failed" and failed)
        which = f" (pid {pid})" if pid else ""
        if restart:
            delay = self.backoff.delay(lifetime)
            self.state = "restarting"
            self.detail = f"restart in {delay:g} s after {how}"
            log.error("{label}{which} ended ({how}); restarting it in {delay:g} s ({policy})", label=self.label,
                      which=which, how=how, delay=delay, policy=policy)
            self.timer = self.reactor.callLater(delay, self._restart)
            self.events.child_changed(self)
            return
        self.state = "exited"
        self.detail = how
        level = log.error if failed else log.info
        level("{label}{which} ended ({how}); not restarted ({policy})", label=self.label, which=which, how=how,
              policy=policy)
        self.events.child_changed(self)
        self.events.child_ended(self, how, failed)

    def _restart(self) -> None:
        self.timer = None
        self.restarts += 1
        self.start()

    def restart_now(self, why: str) -> None:
        """Start the child afresh (a watched file changed): stop it first if it runs."""
        if self.stopping:
            return
        if self.process is None:
            if self.timer is not None and self.timer.active():
                self.timer.cancel()
            log.info("{label}: starting it again: {why}", label=self.label, why=why)
            self.restarts += 1
            self.backoff.reset()
            self.start()
            return
        if self.restart_reason is None:
            self.restart_reason = why
            self.state = "restarting"
            self.detail = why
            self.events.child_changed(self)
            self._signal_group(signal.SIGTERM)
            self.kill_timer = self.reactor.callLater(self.spec.stop_timeout, self._signal_group, signal.SIGKILL)

    # --- stop ---------------------------------------------------------------------------------

    def stop(self) -> defer.Deferred:
        """SIGTERM to the process group, SIGKILL after ``stop_timeout``; fires once it has exited."""
        self.stopping = True
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        if self.process is None:
            if self.state not in ("exited", "disabled"):
                self.state = "stopped"
            return defer.succeed(None)
        waiter: defer.Deferred = defer.Deferred()
        self.waiters.append(waiter)
        if self.state != "stopping":
            self.state = "stopping"
            self.events.child_changed(self)
            self._signal_group(signal.SIGTERM)
            if self.kill_timer is not None and self.kill_timer.active():
                self.kill_timer.cancel()
            self.kill_timer = self.reactor.callLater(self.spec.stop_timeout, self._kill_late)
        return waiter

    def _kill_late(self) -> None:
        self.kill_timer = None
        if self.process is not None:
            log.warn("{label} (pid {pid}) did not stop within {timeout:g} s (stop_timeout): SIGKILL",
                     label=self.label, pid=self.pid, timeout=self.spec.stop_timeout)
            self._signal_group(signal.SIGKILL)

    def _stopped(self) -> None:
        self.state = "stopped"
        self.events.child_changed(self)
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def _signal_group(self, signum: int) -> None:
        if self.pid is None or self.process is None:
            return
        try:
            os.killpg(self.pid, signum)
            return
        except (ProcessLookupError, PermissionError):
            pass  # not (yet) leading its group: the process alone
        try:
            os.kill(self.pid, signum)
        except OSError:
            pass

    @staticmethod
    def _reap_group(pid: Optional[int]) -> None:
        """SIGKILL what is left of the exited child's process group."""
        if pid is None:
            return
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass  # nothing left (the usual case)

    # --- status ---------------------------------------------------------------------------------

    def status(self) -> Dict[str, Any]:
        running = self.process is not None
        return {"id": self.id, "type": self.kind, "pid": self.pid if running else None, "state": self.state,
                "started": self.started_wall if running else None,
                "uptime": round(time.time() - self.started_wall, 1) if running and self.started_wall else None,
                "restarts": self.restarts, "detail": self.detail, "last_exit": self.last_exit}


def _emit(level: LogLevel, worker: str, text: str, stream: str, fields: Optional[Dict[str, Any]] = None) -> None:
    log.emit(level, "[{worker}] {line}", worker=worker, line=text, stream=stream, **(fields or {}))


class GuestChild(Child):
    """A guest: any program, run through :mod:`node.process.lifeline` (process group, SIGKILL when
    the node dies), with its ``stdin``, ``stdout``, ``stderr`` and ``watch`` options."""

    kind = "guest"

    def __init__(self, spec: GuestWorker, reactor: Any, events: Any) -> None:
        super().__init__(spec, reactor, events)
        self.watch: Optional[DirectoryWatch] = None

    def command(self) -> Optional[Dict[str, Any]]:
        program = self.spec.find_executable(os.environ.get("PATH"))
        if program is None:
            log.error("{label}: {executable!r} is not an executable file (options.workdir {workdir}, or on PATH)",
                      label=self.label, executable=self.spec.executable, workdir=self.spec.workdir)
            return None
        args = exec_args(os.getpid(), signal.SIGKILL, program, self.spec.arguments)
        return {"executable": args[0], "args": args, "env": child_environment(self.spec.env),
                "path": self.spec.workdir, "childFDs": {0: "w", 1: "r", 2: "r"}}

    def output_lines(self) -> Dict[int, OutputLines]:
        lines = {}
        for fd, mode, stream, level in ((1, self.spec.stdout, "stdout", LogLevel.info),
                                        (2, self.spec.stderr, "stderr", LogLevel.warn)):
            if mode == "log":
                lines[fd] = OutputLines(lambda text, s=stream, lv=level: _emit(lv, self.id, text, s))
        return lines

    def connected(self, transport: Any) -> None:
        for fd, mode in ((1, self.spec.stdout), (2, self.spec.stderr)):
            if mode == "close":
                transport.closeChildFD(fd)
        stdin = self.spec.stdin
        if stdin is not None:
            data = stdin.encode()
            if data:
                transport.write(data)
            if stdin.close:
                transport.closeStdin()

    def spawned(self) -> None:
        self.mark_ready()  # a guest has no readiness signal: started is ready

    def start_watch(self) -> None:
        watch = self.spec.watch
        if watch is None or self.watch is not None:
            return
        self.watch = DirectoryWatch(self.reactor, watch.directories, watch.delay, self._changed, self.label)
        if not self.watch.start():
            self.watch = None

    def _changed(self, path: str) -> None:
        self.restart_now(f"{path} changed (options.watch)")

    def stop(self) -> defer.Deferred:
        if self.watch is not None:
            self.watch.stop()
            self.watch = None
        return super().stop()


class ContainerChild(Child):
    """A container: ``python -m node.process.container_process`` running the components, which
    reports ``READY=1`` when they have all joined."""

    kind = "container"

    def __init__(self, spec: ContainerWorker, reactor: Any, events: Any, cbdir: str, notify_address: str,
                 loglevel: str) -> None:
        super().__init__(spec, reactor, events)
        self.cbdir = cbdir
        self.notify_address = notify_address
        self.loglevel = loglevel

    def command(self) -> Optional[Dict[str, Any]]:
        env = child_environment(self.spec.env)
        env["PYTHONPATH"] = os.pathsep.join([*self.spec.pythonpath, *(p for p in sys.path if p)])
        args = [sys.executable, "-m", "node.process.container_process", "--parent", str(os.getpid()),
                "--cbdir", self.cbdir, "--notify", self.notify_address, "--loglevel", self.loglevel]
        return {"executable": sys.executable, "args": args, "env": env, "path": self.cbdir,
                "childFDs": {0: "w", 1: "r", 2: "r"}}

    def output_lines(self) -> Dict[int, OutputLines]:
        return {1: OutputLines(self._log_line),
                2: OutputLines(lambda text: _emit(LogLevel.warn, self.id, text, "stderr"))}

    def _log_line(self, text: str) -> None:
        """A JSON log line of the container keeps its level and fields; anything else (a ``print``) is info."""
        record = None
        if text.startswith("{"):
            try:
                record = json.loads(text)
            except ValueError:
                record = None
        if not isinstance(record, dict) or "message" not in record:
            _emit(LogLevel.info, self.id, text, "stdout")
            return
        try:
            level = LogLevel.levelWithName(str(record.get("level", "info")))
        except Exception:
            level = LogLevel.info
        fields = {k: v for k, v in record.items() if k not in _JSON_STANDARD and not k.startswith("log_")}
        _emit(level, self.id, str(record["message"]), "log", fields)

    def connected(self, transport: Any) -> None:
        transport.write(pickle.dumps(self.spec))
        transport.closeStdin()

    def notified(self, fields: Dict[str, str]) -> None:
        if "STATUS" in fields:
            self.detail = fields["STATUS"]
        if fields.get("READY") == "1":
            self.mark_ready()
        else:
            self.events.child_changed(self)


class ProxyChild(ContainerChild):
    """A proxy worker: ``python -m node.process.proxy_process``, which reports ``READY=1``
    when its transports listen."""

    kind = "proxy"

    def __init__(self, spec: ProxyWorker, reactor: Any, events: Any, cbdir: str, config_file: str,
                 notify_address: str, loglevel: str) -> None:
        super().__init__(spec, reactor, events, cbdir, notify_address, loglevel)  # type: ignore[arg-type]
        self.config_file = config_file

    def command(self) -> Optional[Dict[str, Any]]:
        env = child_environment(self.spec.env)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        args = [sys.executable, "-m", "node.process.proxy_process", "--parent", str(os.getpid()),
                "--cbdir", self.cbdir, "--config-file", self.config_file, "--notify", self.notify_address,
                "--loglevel", self.loglevel]
        return {"executable": sys.executable, "args": args, "env": env, "path": self.cbdir,
                "childFDs": {0: "w", 1: "r", 2: "r"}}
