"""Config objects from a fragment of config instead of a whole ``config.json``.

The router needs one (the anonymous method a transport without ``auth`` offers),
and tests build transports' pieces without writing a file. Each fragment is
checked against its ``$defs`` entry and gets the schema's defaults, exactly as
:func:`node.config.load_config` does for a file, so no default is repeated here.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from node.config import model
from node.config.build import build_auth_method, build_web_options, build_websocket_options
from node.config.validation import validation_errors, with_definition_defaults
from node.errors import ConfigErrors


def _filled(definition: str, raw: Mapping[str, Any], where: str) -> Any:
    errors = validation_errors(raw, where, definition)
    if errors:
        raise ConfigErrors(errors)
    return with_definition_defaults(definition, raw)


def auth_method(method: str, type: str = "static", settings: Optional[Mapping[str, Any]] = None) -> model.AuthMethod:
    """An ``auth`` entry, e.g. ``auth_method("ticket", "static", {"principals": {...}})``.

    @raise ConfigErrors: the fragment breaks the schema (an unknown method, a missing key...).
    """
    auth = _filled("auth", {method: {"type": type, **(settings or {})}}, "auth")
    return build_auth_method(method, auth[method])


def web_options(raw: Optional[Mapping[str, Any]] = None) -> model.WebOptions:
    """A web transport's ``options``; ``web_options()`` is all defaults."""
    return build_web_options(_filled("web_options", dict(raw or {}), "options"))


def websocket_options(raw: Optional[Mapping[str, Any]] = None) -> model.WebSocketOptions:
    """A WebSocket service's ``options``; ``websocket_options()`` is all defaults."""
    return build_websocket_options(_filled("websocket_options", dict(raw or {}), "options"))
