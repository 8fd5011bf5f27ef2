"""One realm's link to the backplane: remote sessions, remote callees, relayed calls.

The realm (:class:`~node.router.realm.RealmRouter`) calls three hooks when its
``backplane`` attribute is set:

- :meth:`RealmLink.publish` instead of ``broker.publish``: deliver locally, then
  send the publication once to every other process;
- :meth:`RealmLink.delivered` after each outcome: the session and registration
  meta events in it are the changes other processes must learn;
- :meth:`RealmLink.intercept` before routing a message: a YIELD or ERROR answering
  an INVOCATION relayed from another process goes back there.

Remote sessions are attached to the realm like local ones, with a
:class:`RemoteSession` as their delivery target; what routing sends them
(INVOCATION, INTERRUPT, a kill) is forwarded to the process that holds the
connection. Remote registrations enter the local dealer through its ordinary
``register``/``unregister`` with a REGISTER/UNREGISTER made on the callee's
behalf; its replies to those go nowhere.

A remote registration the local dealer refuses (the procedure is registered here
already, typically by a process that crashed and is not yet dropped) is kept aside
and made again once a registration or a session goes: a restarted process's
callees (router components re-registering at once) become reachable from here as
soon as the crashed process's registration is gone, not never.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Set, Tuple

from autobahn.wamp.message import Error, Interrupt, Invocation, Publish, Register, Unregister, Yield
from twisted.logger import Logger

from node.cluster import codec
from node.router.ids import random_id
from node.router.outcome import Outcome
from node.router.peer import Peer

if TYPE_CHECKING:  # pragma: no cover
    from node.cluster.member import ClusterMember
    from node.router.realm import RealmRouter

log = Logger()

NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure"


@dataclass
class Relayed:
    """An INVOCATION this process delivers on behalf of the caller's process."""

    member: str  # the caller's process
    origin: int  # INVOCATION request ID there
    callee: int
    local: int  # INVOCATION request ID towards the local callee


class RemoteSession:
    """Stands in for a session connected to another process (a realm delivery target)."""

    def __init__(self, link: "RealmLink", member: str, peer: Peer) -> None:
        self.link = link
        self.member = member
        self.peer = peer

    def send(self, message: Any) -> None:
        if isinstance(message, Invocation):
            self.link.forward_invocation(self, message)
        elif isinstance(message, Interrupt):
            self.link.forward_interrupt(self, message)
        # anything else answers a request made on the callee's behalf (REGISTERED ...)

    def kill(self, reason: Optional[str], message: Optional[str]) -> None:
        self.link.member.direct(self.member, ["kill", self.link.member.member_id, self.link.realm.name,
                                              self.peer.session_id, reason, message])


class RealmLink:
    """The backplane state of one realm in one process."""

    def __init__(self, member: "ClusterMember", realm: "RealmRouter") -> None:
        self.member = member
        self.realm = realm
        self.remote: Dict[int, RemoteSession] = {}  # session ID -> target, sessions of other processes
        self._local_registrations: Dict[Tuple[int, int], Tuple[str, str]] = {}  # (session, reg) -> uri, match
        self._relayed: Dict[Tuple[int, int], Relayed] = {}  # (callee, local request) -> relayed call
        self._by_origin: Dict[Tuple[str, int], Relayed] = {}  # (member, origin request) -> relayed call
        self._refused: Dict[Tuple[int, str, str], str] = {}  # (remote session, uri, match) -> invoke: retried

    # --- hooks called by the realm ------------------------------------------------

    def publish(self, peer: Optional[Peer], msg: Publish, disclose: bool) -> Outcome:
        publication = random_id()
        out = self.realm.broker.publish(peer, msg, disclose=disclose, publication_id=publication)
        publisher = None
        if peer is not None:
            publisher = [peer.session_id, peer.authid, peer.authrole] if disclose else [peer.session_id]
        self.member.broadcast(["pub", self.member.member_id, self.realm.name, publication, publisher,
                               codec.message_to_wire(msg)])
        return out

    def delivered(self, outcome: Outcome) -> None:
        for event in outcome.meta_events:
            topic = event.topic
            if topic == "wamp.session.on_join":
                session_id = event.args[0].get("session")
                peer = self.realm.peer(session_id)
                if peer is not None and session_id not in self.remote:
                    self.member.state_change("join", self.realm.name, codec.peer_to_wire(peer))
            elif topic == "wamp.session.on_leave":
                session_id = event.args[0]
                if session_id not in self.remote:
                    self._forget_callee(session_id)
                    self.member.state_change("leave", self.realm.name, session_id)
            elif topic == "wamp.registration.on_register":
                session_id, reg_id = event.args[0], event.args[1]
                reg = self.realm.dealer.registrations.by_id(reg_id)
                if session_id not in self.remote and reg is not None:
                    self._local_registrations[(session_id, reg_id)] = (reg.uri, reg.match)
                    self.member.state_change("reg", self.realm.name, session_id, reg.uri, reg.match,
                                             reg.extra.invoke)
            elif topic == "wamp.registration.on_unregister":
                session_id, reg_id = event.args[0], event.args[1]
                known = self._local_registrations.pop((session_id, reg_id), None)
                if known is not None:
                    self.member.state_change("unreg", self.realm.name, session_id, *known)
                if self._refused:
                    self.realm.clock.callLater(0, self._retry_refused)  # after this delivery, not inside it

    def intercept(self, session_id: int, msg: Any) -> bool:
        """True if ``msg`` answers a relayed INVOCATION (it has been sent back then)."""
        if not self._relayed or not isinstance(msg, (Yield, Error)):
            return False
        relayed = self._relayed.get((session_id, msg.request))
        if relayed is None:
            return False
        if isinstance(msg, Error) and msg.request_type != Invocation.MESSAGE_TYPE:
            return False  # the realm reports this protocol violation
        if isinstance(msg, Error) or not msg.progress:
            self._forget(relayed)
        msg.request = relayed.origin
        self.member.direct(relayed.member, ["res", self.member.member_id, self.realm.name, session_id,
                                            codec.message_to_wire(msg)])
        return True

    # --- what routing sends to remote sessions -------------------------------------------

    def forward_invocation(self, target: RemoteSession, invocation: Invocation) -> None:
        reg = self.realm.dealer.registrations.by_id(invocation.registration)
        if reg is None:
            return
        self.member.direct(target.member, ["inv", self.member.member_id, self.realm.name, target.peer.session_id,
                                           reg.uri, reg.match, codec.message_to_wire(invocation)])

    def forward_interrupt(self, target: RemoteSession, interrupt: Interrupt) -> None:
        self.member.direct(target.member, ["int", self.member.member_id, self.realm.name, target.peer.session_id,
                                           interrupt.request, interrupt.mode, interrupt.reason])

    # --- frames from other processes -------------------------------------------------------

    def remote_join(self, member: str, data: dict) -> None:
        peer = codec.peer_from_wire(data)
        if peer is None or peer.session_id in self.remote or self.realm.peer(peer.session_id) is not None:
            return
        target = RemoteSession(self, member, peer)
        self.remote[peer.session_id] = target
        self.realm.attach(peer, target)

    def remote_leave(self, session_id: int) -> None:
        if self.remote.pop(session_id, None) is not None:
            for key in [k for k in self._refused if k[0] == session_id]:
                del self._refused[key]
            self.realm.detach(session_id)

    def remote_register(self, session_id: int, uri: str, match: str, invoke: str) -> None:
        target = self.remote.get(session_id)
        if target is None:
            return
        out = self.realm.dealer.register(target.peer, Register(0, uri, match=match, invoke=invoke))
        if any(isinstance(m, Error) for _, m in out.sends):
            if (session_id, uri, match) not in self._refused:
                log.warn("{uri} ({match}) is registered on two processes at once; each keeps its own callee "
                         "(here: the one registered first, then the other once it goes)", uri=uri, match=match)
            self._refused[(session_id, uri, match)] = invoke
        self.realm.deliver(out)

    def _retry_refused(self) -> None:
        """Register again what was refused while the procedure was taken (see the module doc)."""
        refused, self._refused = self._refused, {}
        for (session_id, uri, match), invoke in refused.items():
            self.remote_register(session_id, uri, match, invoke)

    def remote_unregister(self, session_id: int, uri: str, match: str) -> None:
        self._refused.pop((session_id, uri, match), None)
        target = self.remote.get(session_id)
        reg = self.realm.dealer.registrations.get(uri, match)
        if target is not None and reg is not None and session_id in reg.observers:
            self.realm.deliver(self.realm.dealer.unregister(target.peer, Unregister(0, reg.id)))

    def remote_publication(self, publication: int, publisher: Optional[list], raw: list) -> None:
        if not self._wanted(raw):
            return
        msg = codec.message_from_wire(raw)
        if not isinstance(msg, Publish):
            return
        msg.acknowledge = None  # the publisher's process has answered
        peer = None
        if isinstance(publisher, list) and publisher and type(publisher[0]) is int:
            identity = [str(x) for x in publisher[1:3]] if len(publisher) >= 3 else ["", ""]
            peer = Peer(publisher[0], self.realm.name, authid=identity[0], authrole=identity[1])
        disclose = peer is not None and len(publisher) >= 3
        self.realm.deliver(self.realm.broker.publish(peer, msg, disclose=disclose, publication_id=publication))

    def _wanted(self, raw: list) -> bool:
        """False for a publication nobody here subscribed to and nothing here keeps
        (no retain, no event history): then it is not even parsed."""
        if self.realm.config.event_history or len(raw) < 4 or not isinstance(raw[2], dict):
            return True
        if raw[2].get("retain") or not isinstance(raw[3], str):
            return True
        return bool(self.realm.broker.subscriptions.matching(raw[3]))

    def invocation(self, member: str, callee: int, uri: str, match: str, raw: list) -> None:
        """Deliver an INVOCATION decided by ``member`` to a local callee."""
        msg = codec.message_from_wire(raw)
        if not isinstance(msg, Invocation):
            return
        relayed = self._by_origin.get((member, msg.request))
        reg = self.realm.dealer.registrations.get(uri, match)
        if relayed is None:
            if reg is None or callee not in reg.observers or callee in self.remote:
                self.member.direct(member, ["res", self.member.member_id, self.realm.name, callee, codec.message_to_wire(
                    Error(Invocation.MESSAGE_TYPE, msg.request, NO_SUCH_PROCEDURE,
                          args=[f"the callee of <{uri}> has gone"]))])
                return
            relayed = Relayed(member, msg.request, callee, self.realm.dealer.new_invocation_id(callee))
            self._relayed[(callee, relayed.local)] = relayed
            self._by_origin[(member, msg.request)] = relayed
        msg.request = relayed.local
        if reg is not None:
            msg.registration = reg.id
        self.realm.deliver(Outcome().send(callee, msg))

    def interrupt(self, member: str, callee: int, origin: int, mode: str, reason: Optional[str]) -> None:
        relayed = self._by_origin.get((member, origin))
        if relayed is None:
            return
        if mode == "killnowait":
            self._forget(relayed)  # the caller's process has answered; a late answer is dropped
        self.realm.deliver(Outcome().send(relayed.callee, Interrupt(relayed.local, mode, reason=reason)))

    def answer(self, callee: int, raw: list) -> None:
        """A YIELD/ERROR of a remote callee for an INVOCATION this process decided."""
        if callee not in self.remote:
            return
        msg = codec.message_from_wire(raw)
        if isinstance(msg, (Yield, Error)):
            self.realm.process(callee, msg)

    def kill(self, session_id: int, reason: Optional[str], message: Optional[str]) -> None:
        if session_id not in self.remote:
            self.realm.kill(session_id, reason, message)

    # --- membership ------------------------------------------------------------------------

    def snapshot(self) -> list:
        """This process's own sessions of the realm with their registrations."""
        registrations: Dict[int, list] = {}
        for (session_id, reg_id), (uri, match) in self._local_registrations.items():
            reg = self.realm.dealer.registrations.by_id(reg_id)
            if reg is not None:
                registrations.setdefault(session_id, []).append([uri, match, reg.extra.invoke])
        return [[codec.peer_to_wire(p), registrations.get(p.session_id, [])]
                for p in self.realm.joined_peers() if p.session_id not in self.remote]

    def apply_snapshot(self, member: str, sessions: list) -> None:
        for entry in sessions:
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], dict)):
                continue
            self.remote_join(member, entry[0])
            session_id = entry[0].get("session")
            for registration in entry[1] if isinstance(entry[1], list) else []:
                if isinstance(registration, list) and len(registration) == 3:
                    self.remote_register(session_id, *registration)

    def drop_member(self, member: str) -> None:
        """A process has gone: its sessions leave, calls it asked for are forgotten."""
        for session_id in [s for s, t in self.remote.items() if t.member == member]:
            self.remote_leave(session_id)
        for relayed in [r for r in self._relayed.values() if r.member == member]:
            self._forget(relayed)

    def sessions_of(self, member: str) -> Set[int]:
        return {s for s, t in self.remote.items() if t.member == member}

    # --- bookkeeping -------------------------------------------------------------------------

    def _forget(self, relayed: Relayed) -> None:
        self._relayed.pop((relayed.callee, relayed.local), None)
        self._by_origin.pop((relayed.member, relayed.origin), None)

    def _forget_callee(self, session_id: int) -> None:
        for relayed in [r for r in self._relayed.values() if r.callee == session_id]:
            self._forget(relayed)
