"""What a router component is made from: its class or callbacks imported, the process
prepared for them (``pythonpath``, ``env``), its session built as Crossbar.io builds it.

Crossbar.io's ``_appsession_loader`` (``crossbar/worker/__init__.py``) and
``start_router_component`` (``crossbar/worker/router.py``) are the model: a ``class``
component is its ``ApplicationSession`` subclass called with ``ComponentConfig(realm,
extra)``, ``extra`` carrying ``cbdir``; a ``function`` component is a plain session
joining with its role, each callback attached with ``session.on(event, fn)`` and
called as autobahn fires the event: ``join(session, details)``,
``leave(session, details)``, ``connect(session, transport)``,
``disconnect(session, was_clean=...)``.

Why a component cannot start decides the exit code:

- the configuration names what is not there (the module is not found, it has no such
  name, the class is no ``ApplicationSession``): a :class:`ConfigError`, exit 2;
- the application's code failed (the module raised while it was imported, the
  constructor raised; later, ``onJoin``): :class:`ComponentFailed`, exit 1.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Callable, Dict, MutableMapping, Optional

from autobahn.twisted.wamp import ApplicationSession
from autobahn.wamp.types import ComponentConfig
from twisted.internet import defer

from node.config.model import RouterComponent, RouterOptions
from node.errors import ConfigError, NodeError

SessionFactory = Callable[[ComponentConfig], ApplicationSession]


class ComponentFailed(NodeError):
    """A router component's own code failed while it started (exit code 1)."""

    exit_code = 1


def describe(component: RouterComponent) -> str:
    """``component001 (class backend.Backend)``: how log lines and errors name a component."""
    if component.type == "class":
        what = f"class {component.classname}"
    else:
        names = ", ".join(f"{event}={fn}" for event, fn in component.callbacks.items())
        what = f"function, {names}" if names else "function, no callbacks"
    return f"{component.id} ({what})"


def prepare_process(options: Optional[RouterOptions], environ: MutableMapping[str, str] = os.environ) -> None:
    """Put ``pythonpath`` in front of ``sys.path`` and make ``environ`` what ``env`` says.

    Done once, before the first component is imported, and only in a process that runs
    components. The router process is the one the components share, so ``env`` changes
    this process's ``os.environ`` (Crossbar.io starts the router worker with it): the
    variables of ``vars`` are set; with ``inherit: false`` or a list of names the others
    are removed. The node itself read what it needs from the environment (sd_notify
    socket, cluster variables, ``$NAME`` secrets in the configuration) before this.
    """
    if options is None:
        return
    sys.path[:0] = [p for p in options.pythonpath if p not in sys.path]
    wanted = options.env.compute(dict(environ))
    for name in [n for n in environ if n not in wanted]:
        del environ[name]
    for name, value in wanted.items():
        if environ.get(name) != value:
            environ[name] = value


def where(component: RouterComponent) -> str:
    """The start of a ComponentFailed line."""
    return f"Router component {describe(component)}"


def _config_error(component: RouterComponent, key: str, problem: str, fix: str, config_file: str) -> ConfigError:
    return ConfigError(f"{config_file}: {component.path}.{key}", f"router component {describe(component)}: {problem}",
                       fix)


def _import(component: RouterComponent, key: str, dotted: str, config_file: str) -> Any:
    """The object named ``package.module.name``; a ConfigError if the name does not resolve,
    ComponentFailed if the module's own code raised."""
    module_name, _, name = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise _config_error(component, key, f"module {module_name!r} is not found on the Python path",
                                "Fix the name, or add its directory to the router's options.pythonpath",
                                config_file) from e
        raise ComponentFailed(where(component), f"importing module {module_name!r} raised "
                              f"{type(e).__name__}: {e}", "Install what it imports") from e
    except Exception as e:
        raise ComponentFailed(where(component), f"importing module {module_name!r} raised "
                              f"{type(e).__name__}: {e}") from e
    try:
        return getattr(module, name)
    except AttributeError:
        raise _config_error(component, key, f"module {module_name!r} ({getattr(module, '__file__', '?')}) has no "
                            f"{name!r}", "Fix the name", config_file) from None


class FunctionSession(ApplicationSession):
    """A ``function`` component: joins ``config.realm``; the callbacks do the rest
    (Crossbar.io's ``_AnonymousRoleSession``)."""

    def onConnect(self) -> None:  # noqa: N802 (autobahn's name)
        self.join(self.config.realm)


def session_factory(component: RouterComponent, config_file: str) -> SessionFactory:
    """Import what ``component`` names; returns what makes its session from a ComponentConfig.

    @raise ConfigError: the name does not resolve to a session class or a function.
    @raise ComponentFailed: importing the module raised.
    """
    if component.type == "class":
        klass = _import(component, "classname", str(component.classname), config_file)
        if not (isinstance(klass, type) and issubclass(klass, ApplicationSession)):
            raise _config_error(component, "classname", f"{component.classname} is not a subclass of "
                                "autobahn.twisted.wamp.ApplicationSession",
                                "Name the session class of the component", config_file)
        return klass
    callbacks: Dict[str, Callable[..., Any]] = {}
    for event, dotted in component.callbacks.items():
        fn = _import(component, f"callbacks.{event}", dotted, config_file)
        if not callable(fn):
            raise _config_error(component, f"callbacks.{event}", f"{dotted} is not a function",
                                "Name a function", config_file)
        callbacks[event] = fn

    def make(config: ComponentConfig) -> ApplicationSession:
        session = FunctionSession(config)
        for event, fn in callbacks.items():
            session.on(event, _observer(session, event, fn))
        return session

    return make


def _observer(session: ApplicationSession, event: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as an observer of ``event`` whose failure goes where autobahn sends the
    failures of ``onJoin``: to ``_swallow_error``. autobahn gathers observers without
    consuming their errors, so a failing callback would also log "Unhandled error in
    Deferred" when collected."""
    def observe(*args: Any, **kwargs: Any) -> defer.Deferred:
        d = defer.maybeDeferred(fn, *args, **kwargs)
        d.addErrback(lambda failure: session._swallow_error(failure, f"While notifying '{event}'"))
        return d

    return observe


def component_config(component: RouterComponent, cbdir: str) -> ComponentConfig:
    """What the session is constructed with: its realm, and ``extra`` with ``cbdir`` added."""
    return ComponentConfig(realm=component.realm, extra=dict(component.extra, cbdir=cbdir))


def build_session(component: RouterComponent, factory: SessionFactory, cbdir: str) -> ApplicationSession:
    """Construct the session; ComponentFailed if the constructor raises."""
    try:
        session = factory(component_config(component, cbdir))
    except Exception as e:
        raise ComponentFailed(where(component), f"its constructor raised {type(e).__name__}: {e}") from e
    return session
