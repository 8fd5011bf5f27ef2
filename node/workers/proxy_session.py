"""A client's session at a proxy worker: authenticated here, relayed 1:1 to the router.

The router's session state machine (:class:`~node.router.session.RouterSession`) does
everything up to the authenticator's answer: HELLO, CHALLENGE/AUTHENTICATE with the
transport's ``auth``, failed-login delays, ``hello_timeout``, cookie tracking. Where the
router would join its realm, this session looks up ``routes[realm][authrole]`` and opens
a :class:`~node.workers.proxy_backend.BackendLink` speaking for the client (state stays
``auth``: ``hello_timeout`` still runs). Its WELCOME becomes the client's, with the
router's session id and roles and the method the client authenticated with here.

Joined, every message goes through unchanged, both ways (request ids are per session).
GOODBYE from the client is answered here and passed on; the router's GOODBYE (a killed
session) is passed to the client, which answers it; a lost connection on either side
closes the other: ``wamp.close.transport_lost`` to the client if the router is gone.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from autobahn.wamp.message import Abort, Error, Goodbye, Hello, Message, Welcome

from node.config.model import AuthMethod
from node.router.auth import Accept
from node.router.auth.failures import peer_address
from node.router.counters import CLOSE_ERROR, Listener
from node.router.cookie_store import CookieStore
from node.router.ids import random_id
from node.router.session import GOODBYE_REPLY, LOGOUT, NO_SUCH_REALM, NO_SUCH_ROLE, RouterSession
from node.wire.messages import InvalidUriRequest
from node.workers.proxy_backend import BackendLink

if TYPE_CHECKING:  # pragma: no cover
    from node.workers.proxy_router import ProxyRouter


class ProxyFrontendSession(RouterSession):
    """One client connection's session at the proxy."""

    def __init__(self, router: "ProxyRouter", auth: Tuple[AuthMethod, ...], hello_timeout: float = 0.0,
                 listener: Optional[Listener] = None, cookies: Optional[CookieStore] = None) -> None:
        super().__init__(router, auth, hello_timeout, listener=listener, cookies=cookies)  # type: ignore[arg-type]
        self._proxy = router
        self._link: Optional[BackendLink] = None
        self._accepted: Optional[Accept] = None

    # --- the router's steps, changed ------------------------------------------------------------

    def _on_hello(self, hello: Hello) -> None:
        if hello.realm is not None and self._proxy.realm(hello.realm) is None:
            self._hello = hello
            self.session_id = random_id()
            self._abort(NO_SUCH_REALM, f"no route for realm '{hello.realm}' at this proxy "
                                       f"(routes: {', '.join(sorted(self._proxy.routes)) or 'none'})")
            return
        super()._on_hello(hello)

    def _welcome(self, accept: Accept) -> None:
        """Authenticated here: open the session at the router (see the module doc)."""
        hello = self._hello
        if accept.realm and hello.realm and accept.realm != hello.realm:
            self._failed(peer_address(self._transport_detail("peer")), "wamp.error.not_authorized")
            self._abort("wamp.error.not_authorized", f"principal '{accept.authid}' may not join realm '{hello.realm}'")
            return
        realm = accept.realm or hello.realm
        if not realm:
            self._abort(NO_SUCH_REALM, "no realm given (HELLO names none, nor does the authentication)")
            return
        connection = self._proxy.worker.connection_for(realm, accept.authrole)
        if connection is None:
            roles = sorted(self._proxy.routes.get(realm, {}))
            self._abort(NO_SUCH_ROLE, f"no route for role '{accept.authrole}' on realm '{realm}' at this proxy "
                                      f"(routed roles: {', '.join(roles) or 'none'})")
            return
        self._accepted = accept
        authextra = dict(accept.authextra or {})
        authextra["transport"] = self._transport_info()
        identity: Dict[str, Any] = {
            "proxy_realm": realm, "proxy_authid": accept.authid, "proxy_authrole": accept.authrole,
            "proxy_authmethod": accept.authmethod, "proxy_authprovider": accept.authprovider,
            "proxy_authextra": authextra,
        }
        self._link = self._proxy.open_link(self, connection, realm, hello.roles, identity)

    # --- the backend's outcome (BackendLink's owner) --------------------------------------------

    def client_transport(self) -> Any:
        """The client's WAMP transport (None once it is gone): the link pauses reading it
        while the router's connection is full (node.workers.proxy_flow)."""
        return self._transport

    def backend_joined(self, link: BackendLink, welcome: Welcome) -> None:
        if link is not self._link or self.state != "auth":
            link.leave()
            return
        accept = self._accepted
        self.session_id = welcome.session
        self._hello = None
        self.state = "joined"
        self._stop_hello_timer()
        # as Crossbar.io: the router's authextra, and which proxy process serves the session
        authextra = dict(welcome.authextra or {}, x_cb_proxy_node=self._proxy.worker.node_id,
                         x_cb_proxy_worker=self._proxy.worker.id, x_cb_proxy_peer=str(self._transport_detail("peer")),
                         x_cb_proxy_pid=os.getpid())
        self.send(Welcome(welcome.session, welcome.roles, realm=welcome.realm, authid=welcome.authid,
                          authrole=welcome.authrole, authmethod=accept.authmethod if accept else welcome.authmethod,
                          authprovider=accept.authprovider if accept else welcome.authprovider,
                          authextra=authextra))
        if self.state != "joined":
            return
        welcomed = self._router.counts.auth_ok
        method = accept.authmethod if accept else "proxy"
        welcomed[method] = welcomed.get(method, 0) + 1
        self._proxy.joined(self)
        if accept is not None and welcome.realm:
            self._bind_cookie(accept, welcome.realm)

    def backend_refused(self, link: BackendLink, reason: str, message: str) -> None:
        if link is not self._link:
            return
        self._link = None
        if self.state == "auth":
            self._abort(reason, message)

    def backend_message(self, link: BackendLink, msg: Message) -> None:
        if link is self._link and self.state == "joined":
            self.send(msg)

    def backend_closed(self, link: BackendLink, reason: Optional[str], message: Optional[str]) -> None:
        if link is not self._link:
            return
        self._link = None
        self._proxy.left(self)
        if self.state == "joined":
            self.kill(reason or "wamp.close.normal", message)  # GOODBYE; the client answers (or is closed)

    # --- the client's messages once joined ------------------------------------------------------

    def _joined(self, msg: Message) -> None:
        if isinstance(msg, InvalidUriRequest):  # refused here, as the router would refuse it
            self.send(Error(msg.request_type, msg.request, "wamp.error.invalid_uri", args=[msg.message]))
            return
        link = self._link
        if isinstance(msg, Goodbye):
            if msg.reason == LOGOUT and self._cookies is not None and self._cbtid:
                self._cookies.bind(self._cbtid, None)
            self._drop_link(msg.reason, msg.message)
            self.send(Goodbye(GOODBYE_REPLY))
            self._close()
        elif isinstance(msg, Abort):
            self._drop_link("wamp.close.normal", None)
            self._close()
        elif isinstance(msg, Hello):
            self._violation("second HELLO received in an established session")
        elif link is not None:
            link.send(msg)

    def kill(self, reason: Optional[str], message: Optional[str]) -> None:
        if self.state == "joined":
            self._drop_link(reason or "wamp.close.killed", message)
        super().kill(reason, message)

    def onClose(self, wasClean: bool) -> None:
        self._drop_link("wamp.close.normal", "the client's connection to the proxy closed")
        super().onClose(wasClean)

    def _drop_link(self, reason: str, message: Optional[str]) -> None:
        link, self._link = self._link, None
        if link is not None:
            self._proxy.left(self)
            link.leave(reason, message)

    def _abort(self, reason: str, message: str, why: str = CLOSE_ERROR) -> None:
        self._drop_link("wamp.close.normal", None)
        super()._abort(reason, message, why)

