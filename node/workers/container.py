"""A container worker: its Python components, their restarts, and when the container ends.

Runs inside the container process (:mod:`node.process.container_process`). Each
component is an autobahn (Twisted) ``Component`` connecting over its own transport;
while the router cannot be reached, autobahn retries with backoff.

What the options mean here (the schema's descriptions, which follow Crossbar.io's
documentation; its "restart-on-failed" never restarted anything, ours does):

- a component counts as **joined** once its ``onJoin`` has returned, or, for an
  ``onJoin`` that runs on (a loop, as in Crossbar.io's hello example), once it has
  run :data:`ONJOIN_GRACE_SECONDS`. When every component has joined, the container
  reports ready (``READY=1``) to the node.
- a session that **ends** ended *cleanly* if it left with ``wamp.close.normal`` or
  ``wamp.close.goodbye_and_out``; a lost connection, an ABORT, any other reason, or an
  ``onJoin`` that raised is a *failure*. ``restart-always`` starts every ended
  component again, ``restart-on-failed`` the failed ones, with the node's backoff
  (:mod:`node.workers.restarts`); ``restart-never`` none.
- a component that ended and is not started again is **stopped**; ``shutdown``
  decides whether the container ends then: ``shutdown-manual`` never (it stays,
  maybe with nothing running), ``shutdown-on-any-component-stopped`` at the first,
  ``shutdown-on-any-component-failed`` at the first failed one,
  ``shutdown-on-last-component-stopped`` when none is left. It exits 0 if the
  component that ended it left cleanly, 1 otherwise.
- a component that is stopped **before it ever joined** (it could not be imported,
  or was refused) ends the container with exit code 1, whatever ``shutdown`` says:
  a node whose application cannot start does not report ready.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

import txaio
from autobahn.twisted.component import Component
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CloseDetails, SessionDetails
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from node.config.model import ContainerComponent, ContainerWorker
from node.errors import NodeError
from node.workers.container_components import (authenticate, authenticators, component_extra, describe, session_factory,
                                     transport_config)
from node.workers.restarts import RestartBackoff

log = Logger()

ONJOIN_GRACE_SECONDS = 1.0
CLEAN_REASONS = ("wamp.close.normal", "wamp.close.goodbye_and_out")

Notify = Callable[[Dict[str, str]], None]  # sd_notify fields to the node


class _QuietLog:
    """A logger whose chatter goes to debug: autobahn's ``Component`` logs every connection attempt
    at warn level, and its sessions warn when they leave with the router's normal GOODBYE reply;
    the container logs what happened to each component itself."""

    def __init__(self, inner: Any, chatter: Callable[[str, Dict[str, Any]], bool]) -> None:
        self.inner = inner
        self.chatter = chatter

    def __getattr__(self, level: str) -> Any:
        emit = getattr(self.inner, level)
        if not callable(emit):
            return emit

        def log_line(fmt: Any = None, *args: Any, **kwargs: Any) -> Any:
            if isinstance(fmt, str) and self.chatter(fmt, kwargs):
                return self.inner.debug(fmt, *args, **kwargs)
            return emit(fmt, *args, **kwargs)

        return log_line


def _component_chatter(fmt: str, fields: Dict[str, Any]) -> bool:
    return fmt == "{msg}" or fmt.startswith(("trying transport", "connecting once", "session leaving",
                                             "Entering re-connect loop", "Component failed: Exhausted",
                                             "Error was fatal", "Connection failed"))


def _session_chatter(fmt: str, fields: Dict[str, Any]) -> bool:
    return fmt.startswith("session closed with reason") and fields.get("reason") in CLEAN_REASONS


class HostedComponent(Component):
    log = _QuietLog(txaio.make_logger(), _component_chatter)


class ComponentRunner:
    """One component of the container: its sessions, one after another, as ``restart`` says."""

    def __init__(self, spec: ContainerComponent, container: "Container") -> None:
        self.spec = spec
        self.container = container
        self.reactor = container.reactor
        self.backoff = RestartBackoff()
        self.state = "starting"  # starting | connecting | joined | restarting | stopped | failed
        self.joined_once = False
        self.sessions = 0  # sessions that joined
        self.component: Optional[HostedComponent] = None
        self.session: Any = None
        self.started_at = 0.0  # this run (or its session, once joined)
        self.counted = False  # this run's session counted as joined
        self.join_failed = False
        self.last_error: Optional[str] = None
        self.timer: Any = None
        self.stopping = False
        self.finished: Optional[defer.Deferred] = None  # fires when a stop() has ended the run

    @property
    def name(self) -> str:
        return self.spec.id

    # --- one run ----------------------------------------------------------------------

    def start(self) -> None:
        self.timer = None
        if self.stopping:
            return
        self.state = "connecting"
        self.counted = self.join_failed = False
        self.last_error = None
        self.started_at = self.reactor.seconds()
        try:
            factory = session_factory(self.spec)
            found = authenticators(self.spec)
            component = HostedComponent(
                transports=[transport_config(self.reactor, self.spec.transport)], realm=self.spec.realm,
                extra=component_extra(self.spec, self.container.cbdir),
                session_factory=self._session_factory(factory, found), is_fatal=self._is_fatal)
        except NodeError as e:
            self._ended(False, e.line(), permanent=True)
            return
        except Exception as e:  # autobahn refused the transport or an authenticator: a bug or a bad key
            self._ended(False, f"{self.spec.path}: {type(e).__name__}: {e}", permanent=True)
            return
        component.on("connectfailure", self._connect_failed)
        self.component = component
        log.debug("Component {component}: connecting ({what})", component=self.name, what=describe(self.spec))
        done = component.start(self.reactor)
        done.addCallbacks(lambda _: self._ended(True, None), lambda f: self._ended(False, self._reason(f)))

    def _session_factory(self, factory: Callable[..., Any], found: Dict[str, Any]) -> Callable[..., Any]:
        def make(config: Any) -> Any:
            session = factory(config)
            authenticate(session, found)
            session.log = _QuietLog(session.log, _session_chatter)
            session.on("join", self._joined)
            session.on("ready", self._ready)
            session.on("leave", self._left)
            on_join = session.onJoin

            def guarded_on_join(details: SessionDetails) -> Any:
                d = txaio.as_future(on_join, details)
                d.addErrback(self._join_failed, session)
                return d

            session.onJoin = guarded_on_join
            return session

        return make

    def _is_fatal(self, error: Exception) -> bool:
        """Whether autobahn must stop retrying: once a session has joined (its end is ours to judge),
        or when the router refused the session (an ABORT: retrying would be refused again)."""
        return self.session is not None or isinstance(error, ApplicationError)

    def _connect_failed(self, component: Any, error: Exception) -> None:
        if isinstance(error, ApplicationError):
            text = error.error + (f": {error.message}" if error.message else "")
        else:
            text = f"{type(error).__name__}: {error}"
        text = text.rstrip(".")
        self.last_error = self.last_error or text  # the first cause (a leave reason comes before)
        if self.session is None and not isinstance(error, ApplicationError) and not self.stopping:
            log.warn("Component {component}: cannot connect to {endpoint}: {error}; retrying", component=self.name,
                     endpoint=self.spec.transport.endpoint.describe(), error=text)

    def _joined(self, session: Any, details: SessionDetails) -> None:
        self.session = session
        self.sessions += 1
        self.started_at = self.reactor.seconds()
        log.info("Component {component} joined realm {realm} as {authid} (role {authrole}, session {session_id})",
                 component=self.name, realm=details.realm, authid=details.authid, authrole=details.authrole,
                 session_id=details.session)
        self.timer = self.reactor.callLater(ONJOIN_GRACE_SECONDS, self._count_joined)

    def _ready(self, session: Any) -> None:
        self._count_joined()

    def _count_joined(self) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        if self.counted or self.join_failed or self.session is None:
            return
        self.counted = True
        self.state = "joined"
        self.joined_once = True
        self.container.component_joined(self)

    def _join_failed(self, failure: Failure, session: Any) -> None:
        self.join_failed = True
        self.last_error = f"onJoin raised {failure.type.__name__}: {failure.getErrorMessage()}"
        log.failure("Component {component}: onJoin raised; closing its session", failure, component=self.name)
        session.disconnect()

    def _left(self, session: Any, details: CloseDetails) -> None:
        if details.reason not in CLEAN_REASONS:
            message = f": {details.message}" if details.message else ""
            self.last_error = self.last_error or f"{details.reason}{message}"
        log.info("Component {component} left ({reason})", component=self.name, reason=details.reason)

    def _reason(self, failure: Failure) -> str:
        if self.last_error:
            return self.last_error
        return f"{failure.type.__name__}: {failure.getErrorMessage()}"

    # --- after a run -------------------------------------------------------------------

    def _ended(self, clean: bool, error: Optional[str], permanent: bool = False) -> None:
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        lifetime = self.reactor.seconds() - self.started_at
        joined = self.session is not None
        self.component = None
        self.session = None
        if self.join_failed:
            clean = False
        if self.stopping or self.container.stopping:
            self.state = "stopped"
            finished, self.finished = self.finished, None
            if finished is not None:
                finished.callback(None)
            return
        policy = self.container.spec.restart
        restart = not permanent and (policy == "restart-always" or (policy == "restart-on-failed" and not clean))
        how = "left cleanly" if clean else (f"failed: {error}" if joined or permanent else f"could not join: {error}")
        if restart:
            delay = self.backoff.delay(lifetime)
            self.state = "restarting"
            log.warn("Component {component} {how}; restarting it in {delay:g} s ({policy})", component=self.name,
                     how=how, delay=delay, policy=policy)
            self.timer = self.reactor.callLater(delay, self.start)
            self.container.status_changed()
            return
        self.state = "stopped" if clean else "failed"
        log_line = log.info if clean else log.error
        log_line("Component {component} {how}; not restarted ({policy})", component=self.name, how=how,
                 policy=policy)
        self.container.component_ended(self, clean)

    # --- stop ---------------------------------------------------------------------------

    def stop(self) -> defer.Deferred:
        """Leave with GOODBYE (or stop connecting); fires when the run has ended."""
        self.stopping = True
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None
        component = self.component
        if component is None:  # between runs, or ended for good
            if self.state != "failed":
                self.state = "stopped"
            return defer.succeed(None)
        self.finished = defer.Deferred()
        finished = self.finished
        try:
            component.stop()
        except Exception as e:  # a session half-open: its transport goes with the process
            log.debug("Component {component}: stop: {error}", component=self.name, error=e)
        return finished


class Container:
    """The container's components; tells the node when all have joined, and when to end.

    @param notify: sends sd_notify fields to the node (``READY``, ``STATUS``).
    @param finish: ends the container process with an exit code.
    """

    def __init__(self, spec: ContainerWorker, cbdir: str, reactor: Any, notify: Notify,
                 finish: Callable[[int], None]) -> None:
        self.spec = spec
        self.cbdir = cbdir
        self.reactor = reactor
        self.notify = notify
        self.finish = finish
        self.runners: List[ComponentRunner] = [ComponentRunner(c, self) for c in spec.components]
        self.ready = False
        self.stopping = False

    def start(self) -> None:
        log.info("Starting {count} component(s)", count=len(self.runners))
        for runner in self.runners:
            runner.start()
        if not self.runners:
            self.component_joined(None)

    def summary(self) -> str:
        joined = sum(1 for r in self.runners if r.state == "joined")
        return f"{joined} of {len(self.runners)} component(s) joined"

    def status_changed(self) -> None:
        self.notify({"STATUS": self.summary()})

    def component_joined(self, runner: Optional[ComponentRunner]) -> None:
        if not self.ready and all(r.joined_once for r in self.runners):
            self.ready = True
            log.info("Every component joined")
            self.notify({"READY": "1", "STATUS": self.summary()})
        else:
            self.status_changed()

    def component_ended(self, runner: ComponentRunner, clean: bool) -> None:
        """``runner`` ended and is not started again: apply ``shutdown``."""
        self.status_changed()
        policy = self.spec.shutdown
        code = 0 if clean else 1
        if not runner.joined_once:
            log.critical("Component {component} never joined; stopping the container", component=runner.name)
            self.finish(1)
        elif policy == "shutdown-on-any-component-failed" and not clean:
            self._shut_down(policy, code)
        elif policy == "shutdown-on-any-component-stopped":
            self._shut_down(policy, code)
        elif policy == "shutdown-on-last-component-stopped" and all(r.state in ("stopped", "failed")
                                                                       for r in self.runners):
            self._shut_down(policy, code)
        else:
            log.info("The container carries on ({policy}): {summary}", policy=policy, summary=self.summary())

    def _shut_down(self, policy: str, code: int) -> None:
        log.info("Stopping the container ({policy})", policy=policy)
        self.finish(code)

    def stop(self) -> defer.Deferred:
        """Every component leaves (GOODBYE); fires when all have."""
        self.stopping = True
        return defer.DeferredList([r.stop() for r in self.runners], consumeErrors=True)
