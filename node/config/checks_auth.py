"""Checks of cookie tracking and the auth methods that need it, beyond the schema.

- ``auth.cookie`` needs ``cookie`` (tracking) on the same WebSocket service or
  ``longpoll`` path, as Crossbar.io documents; a RawSocket has no cookies at all.
- A ``file`` cookie store's directory must exist and be writable (else the node
  would fail at start-up, or lose logins silently); two services must not share a file.
- Cookie tracking keeps its store in one process: with ``processes: N > 1`` a browser's
  next connection may land in another process that does not know its cookie.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple, Union

from node.config import model
from node.errors import ConfigError

Check = Any  # (config, raw, where) -> List[ConfigError], as node.config.checks


def _cookie_services(config: model.NodeConfig) -> List[Union[model.WampWebSocket, model.LongPollPath]]:
    """The services that may track cookies: WebSocket services and ``longpoll`` paths."""
    services: List[Union[model.WampWebSocket, model.LongPollPath]] = []
    for transport in config.transports:
        if transport.websocket is not None and transport.websocket.serializers:
            services.append(transport.websocket)
        services += list(transport.websocket_paths.values())
        if transport.web is not None:
            for path in transport.web.paths.values():
                if isinstance(path, model.WebSocketPath):
                    services.append(path.service)
                elif isinstance(path, model.LongPollPath):
                    services.append(path)
    return services


def check_cookie_auth_needs_tracking(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    for service in _cookie_services(config):
        if service.cookie is None and any(m.method == "cookie" for m in service.auth):
            errors.append(ConfigError(f"{where}: {service.path}.auth.cookie",
                                      "cookie authentication needs cookie tracking on the same service",
                                      f'Add "cookie": {{}} (or with a file store) to {service.path}'))
    for transport in config.transports:
        if transport.rawsocket is not None and any(m.method == "cookie" for m in transport.rawsocket.auth):
            errors.append(ConfigError(f"{where}: {transport.rawsocket.path}.auth.cookie",
                                      "a RawSocket carries no HTTP cookies",
                                      "Offer cookie authentication on a WebSocket service or long-poll path only"))
    return errors


def check_cookie_stores(config: model.NodeConfig, raw: Dict[str, Any], where: str) -> List[ConfigError]:
    errors: List[ConfigError] = []
    seen: Dict[str, str] = {}
    for service in _cookie_services(config):
        cookie = service.cookie
        if cookie is None:
            continue
        if config.cluster is not None and config.cluster.processes > 1:
            errors.append(ConfigError(f"{where}: {cookie.path}",
                                      f"cookie tracking keeps its store in one process, and this router runs "
                                      f"{config.cluster.processes}",
                                      "Remove cookie (and auth.cookie) or use processes: 1"))
        filename = cookie.store.filename
        if cookie.store.type != "file" or not filename:
            continue
        directory = os.path.dirname(filename)
        if filename in seen:
            errors.append(ConfigError(f"{where}: {cookie.path}.store.filename",
                                      f"{filename} is already the cookie store of {seen[filename]}",
                                      "Give each service its own file"))
        elif not os.path.isdir(directory) or not os.access(directory, os.W_OK):
            errors.append(ConfigError(f"{where}: {cookie.path}.store.filename",
                                      f"directory {directory} does not exist or is not writable",
                                      "Create it, or name a file in a writable directory"))
        elif os.path.exists(filename) and not os.access(filename, os.R_OK | os.W_OK):
            errors.append(ConfigError(f"{where}: {cookie.path}.store.filename",
                                      f"{filename} is not readable and writable by this user",
                                      "Fix its owner or mode"))
        seen.setdefault(filename, cookie.path)
    return errors


AUTH_CHECKS: Tuple[Check, ...] = (check_cookie_auth_needs_tracking, check_cookie_stores)
