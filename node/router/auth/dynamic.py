"""``"type": "dynamic"``: a WAMP procedure (the ``authenticator``) decides.

It is called as Crossbar.io calls it, ``authenticator(realm, authid, details)``,
on ``authenticator-realm`` (default: the session's realm), and answers with a
role string or a dict with ``role`` and optional ``authid``, ``realm``, ``extra``;
an error it raises becomes the ABORT reason if it is a ``wamp.*`` URI.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Union

from autobahn.wamp.message import Hello

from node.config.model import AuthSettings, DynamicSettings
from node.router.auth.base import NOT_AUTHORIZED, Accept, Deny, HelloContext, random_authid


def ask(settings: AuthSettings, ctx: HelloContext, authid: Optional[str], details: Dict[str, Any]) -> Any:
    """Call the dynamic ``authenticator`` procedure: Deferred firing with its answer."""
    if not isinstance(settings, DynamicSettings) or ctx.call is None:
        raise ValueError("dynamic authentication needs an 'authenticator' procedure")
    realm = settings.authenticator_realm or ctx.realm
    d = ctx.call(realm, settings.authenticator, [ctx.realm, authid, details])
    d.addCallback(lambda result: result.args[0] if result.args else None)
    return d


def principal_from_answer(answer: Any, authid: Optional[str], method: str) -> Union[Accept, Deny]:
    """Crossbar's dynamic authenticator answers: a role string, or a dict with
    ``role`` and optional ``authid``, ``realm``, ``extra``."""
    if isinstance(answer, str):
        return Accept(authid or random_authid(), answer, method, "dynamic")
    if isinstance(answer, dict) and isinstance(answer.get("role"), str):
        extra = answer.get("extra")
        return Accept(
            answer.get("authid") if isinstance(answer.get("authid"), str) else (authid or random_authid()),
            answer["role"], method, "dynamic", extra if isinstance(extra, dict) else None,
            answer.get("realm") if isinstance(answer.get("realm"), str) else None,
        )
    return Deny(NOT_AUTHORIZED, f"{method}: the authenticator refused the principal")


def refused(method: str) -> Callable[[Any], Deny]:
    """The errback for an authenticator call: its ``wamp.*`` error URI, else not_authorized."""
    def denied(failure: Any) -> Deny:
        error = getattr(failure.value, "error", None)
        text = failure.getErrorMessage()
        return Deny(error if isinstance(error, str) and error.startswith("wamp.") else NOT_AUTHORIZED,
                    f"{method}: authentication refused: {text}")
    return denied


def details(ctx: HelloContext, hello: Hello, method: str, **more: Any) -> Dict[str, Any]:
    """The ``details`` argument of the authenticator call."""
    result = {"transport": ctx.transport, "session": ctx.session_id, "authmethod": method,
              "authextra": hello.authextra if isinstance(hello.authextra, dict) else None}
    result.update(more)
    return result


def ask_for_principal(settings: AuthSettings, ctx: HelloContext, hello: Hello, authid: Optional[str],
                      method: str, **more: Any) -> Any:
    """The common case: ask, and join with the principal the answer names."""
    d = ask(settings, ctx, authid, details(ctx, hello, method, **more))
    d.addCallbacks(lambda answer: principal_from_answer(answer, authid, method), refused(method))
    return d
