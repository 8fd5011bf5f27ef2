"""autobahn-python (asyncio flavour) clients for tests: one ``asyncio.run`` per test.

The node under test runs Twisted in its own process; the tests use autobahn's
asyncio classes because a Twisted reactor cannot be restarted inside pytest.
"""
from __future__ import annotations

import asyncio
import ssl as ssl_module
from typing import Any, List, Optional, Tuple
from urllib.parse import urlparse

from autobahn.asyncio.wamp import ApplicationSession
from autobahn.asyncio.websocket import (WampWebSocketClientFactory, WebSocketClientFactory,
                                        WebSocketClientProtocol)
from autobahn.wamp import serializer as wamp_serializer
from autobahn.wamp.types import ComponentConfig

TIMEOUT = 10.0

SERIALIZERS = {
    "json": wamp_serializer.JsonSerializer,
    "msgpack": wamp_serializer.MsgPackSerializer,
    "cbor": wamp_serializer.CBORSerializer,
}


def client_tls(cafile: Optional[str]) -> ssl_module.SSLContext:
    context = ssl_module.create_default_context(cafile=cafile)
    return context


class ClientSession(ApplicationSession):
    """A session whose join and leave are awaitable futures."""

    def __init__(self, config: ComponentConfig, authmethods: Optional[List[str]] = None,
                 authid: Optional[str] = None, secret: Optional[str] = None) -> None:
        super().__init__(config)
        loop = asyncio.get_event_loop()
        self.joined: asyncio.Future = loop.create_future()
        self.left: asyncio.Future = loop.create_future()
        self.disconnected: asyncio.Future = loop.create_future()
        self._authmethods = authmethods
        self._authid = authid
        self._secret = secret

    def onConnect(self) -> None:
        self.join(self.config.realm, authmethods=self._authmethods, authid=self._authid)

    def onChallenge(self, challenge: Any) -> str:
        if challenge.method == "ticket":
            return self._secret
        if challenge.method == "wampcra":
            from autobahn.wamp import auth

            key = self._secret
            if "salt" in challenge.extra:
                key = auth.derive_key(self._secret, challenge.extra["salt"], challenge.extra["iterations"],
                                      challenge.extra["keylen"])
            return auth.compute_wcs(key, challenge.extra["challenge"])
        raise ValueError(f"unexpected challenge {challenge.method}")

    def onJoin(self, details: Any) -> None:
        if not self.joined.done():
            self.joined.set_result(details)

    def onLeave(self, details: Any) -> None:
        if not self.left.done():
            self.left.set_result(details)
        if not self.joined.done():
            self.joined.set_exception(ConnectionError(f"left before joining: {details.reason} {details.message}"))
        self.disconnect()

    def onDisconnect(self) -> None:
        if not self.disconnected.done():
            self.disconnected.set_result(True)
        if not self.joined.done():
            self.joined.set_exception(ConnectionError("disconnected before joining"))


def _host_port(url: str) -> Tuple[str, int, bool]:
    parts = urlparse(url)
    secure = parts.scheme in ("wss", "https", "rss")
    return parts.hostname, parts.port or (443 if secure else 80), secure


async def connect(url: str, realm: str = "realm1", serializer: str = "json", cafile: Optional[str] = None,
                  authmethods: Optional[List[str]] = None, authid: Optional[str] = None,
                  secret: Optional[str] = None, join: bool = True) -> ClientSession:
    """A joined session over ``ws://``/``wss://`` (or ``rs://``/``rss://`` for RawSocket)."""
    loop = asyncio.get_event_loop()
    session = ClientSession(ComponentConfig(realm=realm), authmethods, authid, secret)
    host, port, secure = _host_port(url)
    ser = SERIALIZERS[serializer]()
    if url.startswith(("rs://", "rss://")):
        from autobahn.asyncio.rawsocket import WampRawSocketClientFactory

        factory: Any = WampRawSocketClientFactory(lambda: session, serializer=ser)
    else:
        factory = WampWebSocketClientFactory(lambda: session, url=url, serializers=[ser])
    tls = client_tls(cafile) if secure else None
    await asyncio.wait_for(loop.create_connection(factory, host, port, ssl=tls,
                                                  server_hostname=host if tls else None), TIMEOUT)
    if join:
        await asyncio.wait_for(asyncio.shield(session.joined), TIMEOUT)
    return session


async def leave(*sessions: ClientSession) -> None:
    for session in sessions:
        if session.is_attached():
            session.leave()
    for session in sessions:
        try:
            await asyncio.wait_for(asyncio.shield(session.disconnected), TIMEOUT)
        except asyncio.TimeoutError:
            pass


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


class RecordingProtocol(WebSocketClientProtocol):
    """A plain WebSocket client recording messages and the close code it saw."""

    def onOpen(self) -> None:
        self.factory.opened.set_result(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.factory.messages.append(payload)

    def onClose(self, wasClean: bool, code: Optional[int], reason: Optional[str]) -> None:
        if not self.factory.opened.done():
            self.factory.opened.set_exception(ConnectionError(f"handshake failed: {code} {reason}"))
        if not self.factory.closed.done():
            self.factory.closed.set_result((code, reason))


async def raw_websocket(url: str, protocols: List[str], cafile: Optional[str] = None,
                        max_message: int = 0) -> Any:
    """Open a plain WebSocket; returns (protocol, factory) with .messages, .closed futures."""
    loop = asyncio.get_event_loop()
    factory = WebSocketClientFactory(url, protocols=protocols)
    factory.protocol = RecordingProtocol
    factory.opened = loop.create_future()
    factory.closed = loop.create_future()
    factory.messages = []
    host, port, secure = _host_port(url)
    tls = client_tls(cafile) if secure else None
    await loop.create_connection(factory, host, port, ssl=tls, server_hostname=host if tls else None)
    protocol = await asyncio.wait_for(factory.opened, TIMEOUT)
    return protocol, factory
