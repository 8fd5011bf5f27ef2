"""Router components: application sessions run inside the router process, on its
reactor, joined in memory (:mod:`node.transports.in_memory`).

Lifecycle, as Crossbar.io's router worker runs them, with its rough edges made plain:

- **start**: after every transport listens, in config order, each waiting for the one
  before it to be *ready* (``onJoin`` and the ``join`` callbacks done, Deferreds
  included), so a component may call what an earlier one registered. "Node ready"
  and sd_notify ``READY=1`` follow the last one (:mod:`node.process.node`).
- **identity**: a trusted session, no authentication: authrole ``role``, authid a
  random UUID, authmethod and authprovider none (``null``), as Crossbar.io's
  ``RouterApplicationSession``.
- **a failure while starting** (the class cannot be imported, the constructor,
  ``onConnect``, ``onJoin`` or a ``join`` callback raises, the session leaves
  before it is ready) stops the start with one line naming the component, its
  class or callbacks and the error: exit 2 when the configuration names what is
  not there, 1 when the application's code failed (see
  :mod:`node.workers.component_loading`). ``--debug`` adds the traceback.
- **after it is ready**, an exception of the component's code is one log line (a
  procedure that raises: its caller gets the error; an event handler or ``onLeave``
  that raises: logged) and the session carries on; Crossbar.io disconnects a
  component whose event handler raises, which leaves the node running without it.
  A component that overrides ``onUserError`` gets those calls instead.
- **a component that leaves** (it calls ``leave()``, or is killed with
  ``wamp.session.kill``) is logged in one line and is not restarted, as in
  Crossbar.io; the node carries on.
- **stop**: before the transports close, in reverse order, each leaves with GOODBYE
  ``wamp.close.system_shutdown``.
- **several router processes** (``processes: N``): components run in process 1 only,
  so each registration exists once; the backplane routes other processes' calls to
  it. When process 1 is restarted, its components start again with it.
"""
from __future__ import annotations

import traceback
import uuid
from typing import Any, List, Optional, Tuple

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CloseDetails
from twisted.internet import defer
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from node.config.model import NodeConfig, RouterComponent
from node.router.auth import Accept
from node.router.session import GOODBYE_REPLY, RouterSession
from node.transports.in_memory import Deliveries, InMemoryConnection
from node.workers.component_loading import (ComponentFailed, build_session, describe, prepare_process,
                                            session_factory, where)

log = Logger()

LEAVE_REASON = "wamp.close.system_shutdown"
STOP_SECONDS = 5.0  # a component's GOODBYE is answered at once; this bounds a session that never closes
SLOW_JOIN_SECONDS = 10.0  # then one line says which component the start still waits for
STOPPED_EARLY = "the node was stopped before it had joined"

# autobahn's words for where a swallowed error came from -> ours
_STAGES = {"While firing onJoin": "onJoin", "While notifying 'join'": "a join callback",
           "While calling 'onConnect'": "onConnect", "While notifying 'connect'": "a connect callback",
           "While notifying 'ready'": "a ready callback"}


def hosted_components(config: NodeConfig, process_label: Optional[str]) -> Tuple[RouterComponent, ...]:
    """The components this process runs: all of them, or with ``processes: N`` (``process_label``
    ``"i/N"``) only in process 1, so that each component and its registrations exist once."""
    if process_label is not None and not process_label.startswith("1/"):
        return ()
    return config.components


class HostedComponent:
    """One router component: its session, joined in memory, watched from start to stop."""

    def __init__(self, spec: RouterComponent, config: NodeConfig, router: Any, deliveries: Deliveries,
                 reactor: Any, debug: bool) -> None:
        self.spec = spec
        self.config = config
        self.router = router
        self.deliveries = deliveries
        self.reactor = reactor
        self.debug = debug
        self.name = describe(spec)
        self.session: Optional[ApplicationSession] = None
        self.connection: Optional[InMemoryConnection] = None
        self.started: defer.Deferred = defer.Deferred()
        self.joined = False  # ready (and not stopped): counted in "Node ready"
        self.failed = False  # its start failed (said in one line; nothing more is logged of it)
        self.stopping = False
        self._slow: Any = None

    def start(self) -> defer.Deferred:
        """Import, construct, join; fires when the session is ready.

        @raise ConfigError: (as the Deferred's failure) the configuration names what is not there.
        @raise ComponentFailed: (likewise) the component's code failed.
        """
        try:
            factory = session_factory(self.spec, self.config.config_file)
            self.session = session = build_session(self.spec, factory, self.config.cbdir)
        except Exception as e:
            self.failed = True
            if self.debug and e.__cause__ is not None:
                log.error("{traceback}", traceback="".join(traceback.format_exception(
                    type(e.__cause__), e.__cause__, e.__cause__.__traceback__)))
            return defer.fail()
        # autobahn's hook for errors of the on*() handlers; Crossbar.io replaces it too
        session._swallow_error = self._swallowed
        if type(session).onUserError is ApplicationSession.onUserError:
            session.onUserError = self._user_error
        if type(session).onLeave is ApplicationSession.onLeave:
            session.onLeave = self._quiet_leave(session)
        session.on("ready", self._ready)
        session.on("leave", self._left)
        session.on("disconnect", self._disconnected)
        trusted = Accept(authid=str(uuid.uuid4()), authrole=self.spec.role, authmethod=None,  # type: ignore[arg-type]
                         authprovider=None, realm=self.spec.realm)  # type: ignore[arg-type]
        router_session = RouterSession(self.router, (), 0.0, trusted=trusted)
        self.connection = InMemoryConnection(self.deliveries, router_session, session, f"component:{self.spec.id}")
        self._slow = self.reactor.callLater(SLOW_JOIN_SECONDS, self._still_waiting)
        self.connection.connect()
        return self.started

    # --- events of the session --------------------------------------------------------

    def _ready(self, session: Any) -> None:
        if self.started.called:
            return
        self._cancel_slow()
        self.joined = True
        log.info("Router component {component} joined realm {realm} as role {role} (session {session})",
                 component=self.name, realm=self.spec.realm, role=self.spec.role, session=session.session_id)
        self.started.callback(self)

    def _left(self, session: Any, details: Any) -> None:
        if details.reason == GOODBYE_REPLY:  # the router's answer: the component said GOODBYE itself
            reason = "it sent GOODBYE"
        else:  # the router's own GOODBYE (wamp.close.killed ...), or the connection closed
            reason = f"{details.reason}" + (f": {details.message}" if details.message else "")
        if self.failed:
            return
        if not self.started.called:
            self._fail(ComponentFailed(where(self.spec), STOPPED_EARLY if self.stopping else
                                       f"it left realm {self.spec.realm} before it was ready ({reason})"))
        elif self.stopping:
            log.info("Router component {component} left realm {realm}", component=self.name, realm=self.spec.realm)
        else:
            log.warn("Router component {component} left realm {realm} ({reason}); router components are not "
                     "restarted (as in Crossbar.io), the node carries on without it",
                     component=self.name, realm=self.spec.realm, reason=reason)

    def _disconnected(self, session: Any, was_clean: bool = True) -> None:
        if not self.started.called:
            self._fail(ComponentFailed(where(self.spec), STOPPED_EARLY if self.stopping else
                                       "its session closed before it joined"))

    def _swallowed(self, failure: Failure, message: str) -> None:
        """An error autobahn would log and swallow: while starting, the start fails."""
        if not self.started.called:
            stage = _STAGES.get(message, message)
            error = failure.value
            self._fail(ComponentFailed(where(self.spec), f"{stage} raised {type(error).__name__}: {error}"), failure)
            return None
        try:
            self.session.onUserError(failure, message)  # type: ignore[union-attr]
        except Exception:
            log.failure("Router component {component}: onUserError raised", component=self.name)
        return None

    def _user_error(self, failure: Failure, message: str) -> None:
        """One line per error of the component's code (the traceback at log level debug)."""
        error = failure.value
        if isinstance(error, ApplicationError):  # an application's answer, as autobahn logs it: a warning
            log.warn("Router component {component}: {error}", component=self.name, error=error.error_message())
            return
        if message == f"{type(error).__name__}: {error}":  # autobahn's words for a procedure that raised
            message = "a procedure raised"
        elif message.startswith("While firing ") and " subscribed under " in message:
            message = "an event handler raised"
        log.failure("Router component {component}: {message}", failure, level=LogLevel.error,
                    component=self.name, message=message)

    def _quiet_leave(self, session: ApplicationSession) -> Any:
        """autobahn's own onLeave, without its warning for any reason but ``wamp.close.normal``:
        every leave of a component is logged here already, in one line (:meth:`_left`)."""
        on_leave = session.onLeave

        def quiet(details: CloseDetails) -> Any:
            if details.reason != CloseDetails.REASON_DEFAULT:
                # what the default does before it warns: outstanding requests fail with the reason
                session._errback_outstanding_requests(ApplicationError(details.reason, details.message))
                details = CloseDetails(CloseDetails.REASON_DEFAULT, details.message)
            return on_leave(details)

        return quiet

    # --- failure and stop ----------------------------------------------------------------

    def _fail(self, error: Exception, failure: Optional[Failure] = None) -> None:
        if self.started.called:
            return
        self._cancel_slow()
        self.failed = True
        if self.debug and failure is not None:
            log.error("{traceback}", traceback=failure.getTraceback())
        self.started.errback(Failure(error))
        self.stop()

    def _still_waiting(self) -> None:
        self._slow = None
        log.warn("Router component {component} has not finished joining realm {realm} after {seconds:g} s; "
                 "the node is ready once it has", component=self.name, realm=self.spec.realm,
                 seconds=SLOW_JOIN_SECONDS)

    def _cancel_slow(self) -> None:
        slow, self._slow = self._slow, None
        if slow is not None and slow.active():
            slow.cancel()

    def stop(self) -> defer.Deferred:
        """Leave with GOODBYE; fires once the session is closed (or after STOP_SECONDS)."""
        self.stopping = True
        self.joined = False
        self._cancel_slow()
        connection, session = self.connection, self.session
        if connection is None or session is None or not connection.open:
            return defer.succeed(None)
        closed = connection.session_side.is_closed
        try:
            if session.is_attached():
                session.leave(LEAVE_REASON, "the node is shutting down")
            else:
                connection.close()
        except Exception as e:
            log.warn("Router component {component}: leaving failed ({error}); closing it",
                     component=self.name, error=f"{type(e).__name__}: {e}")
            connection.close()
        closed.addTimeout(STOP_SECONDS, self.reactor)
        closed.addErrback(lambda _: connection.close())
        return closed


class RouterComponents:
    """Every router component this process runs (see the module doc)."""

    def __init__(self, components: Tuple[RouterComponent, ...], config: NodeConfig, router: Any, reactor: Any,
                 debug: bool = False) -> None:
        self.components = components
        self.config = config
        self.router = router
        self.reactor = reactor
        self.debug = debug
        self.hosted: List[HostedComponent] = []
        self.stopping = False  # set by stop(): no component starts after it

    def count(self) -> int:
        """Components that joined."""
        return sum(1 for h in self.hosted if h.joined)

    @defer.inlineCallbacks
    def start(self) -> Any:
        """Start each component, in order, each once the one before is ready."""
        if not self.components:
            if self.config.components:
                log.info("Router components run in router process 1 only: {count} component(s)",
                         count=len(self.config.components))
            return
        prepare_process(self.config.router_options)
        deliveries = Deliveries(self.reactor)
        for spec in self.components:
            if self.stopping:
                return
            hosted = HostedComponent(spec, self.config, self.router, deliveries, self.reactor, self.debug)
            self.hosted.append(hosted)
            yield hosted.start()

    @defer.inlineCallbacks
    def stop(self) -> Any:
        """Each component leaves, the last started first."""
        self.stopping = True
        for hosted in reversed(self.hosted):
            yield hosted.stop()
