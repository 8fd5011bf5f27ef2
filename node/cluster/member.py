"""This process as a member of the router: membership, and frames to and from the others.

Plain object: it receives frames (:meth:`ClusterMember.receive`) and hands frames
to a transport (``send(subject, frame)``, :mod:`node.cluster.nats` in a node, a
list in tests); time comes from an injected clock (``callLater``), so it runs
under ``twisted.internet.task.Clock`` without a reactor or a NATS server.

Frames (lists; the first two elements are the kind and the sender's member ID):

=========== ========= ==========================================================
kind        to        rest
=========== ========= ==========================================================
``hb``      all       heartbeat: ``{"pid": ..., "seq": last state change}``
``bye``     all       the sender stops: drop its sessions now
``sync``    one       please send me your ``state``
``state``   one       seq, ``[[realm, sessions], ...]`` (see :meth:`RealmLink.snapshot`)
``join``    all       seq, realm, session (``codec.peer_to_wire``)
``leave``   all       seq, realm, session ID
``reg``     all       seq, realm, session ID, uri, match, invoke
``unreg``   all       seq, realm, session ID, uri, match
``pub``     all       realm, publication ID, publisher, PUBLISH (marshalled)
``inv``     one       realm, callee, uri, match, INVOCATION (caller's request IDs)
``int``     one       realm, callee, INVOCATION request ID, mode, reason
``res``     one       realm, callee, YIELD or ERROR (caller's request IDs)
``kill``    one       realm, session ID, reason, message
``rq``      all       report request (:mod:`node.cluster.reports`)
``rp``      one       report answer
=========== ========= ==========================================================

Subjects: ``<prefix>.all`` for frames to all, ``<prefix>.member.<id>`` for one.

State changes (``join`` ... ``unreg``) are numbered by their sender. NATS keeps
one sender's messages in order, but a receiver handles its two subscriptions in
two tasks, so a ``state`` snapshot may be handled before or after changes sent
later: changes are held until the snapshot is in, then those numbered after it
are applied. A gap in the numbers (messages lost while NATS was unreachable) or
a heartbeat announcing changes never seen makes the receiver drop that
member's sessions and ask for a fresh snapshot.
"""
from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from twisted.logger import Logger

from node.cluster.link import RealmLink

log = Logger()

HEARTBEAT_SECONDS = 1.0
SILENCE_SECONDS = 5.0  # a member not heard from for this long has gone
STATE_KINDS = ("join", "leave", "reg", "unreg")


@dataclass
class Member:
    """Another process of the router, as this one knows it."""

    member_id: str
    last_seen: float
    synced: bool = False
    seq: int = 0  # last state change applied
    held: List[list] = field(default_factory=list)  # state changes received before the snapshot
    info: Dict[str, Any] = field(default_factory=dict)


class ClusterMember:
    """Joins the realms of one :class:`~node.router.Router` to the backplane."""

    def __init__(self, router: Any, send: Callable[[str, list], None], prefix: str, clock: Any,
                 now: Callable[[], float] = time.monotonic, member_id: Optional[str] = None,
                 label: str = "") -> None:
        self.router = router
        self.label = label  # "2/4": this process's number, told to the others in heartbeats
        self.resyncs = 0  # other processes' sessions reloaded after a gap (a metric)
        self.reports: Any = None  # node.cluster.reports.ClusterReports: rq/rp frames
        self.member_id = member_id or uuid.uuid4().hex
        self.prefix = prefix
        self.all_subject = f"{prefix}.all"
        self.inbox = self.subject_of(self.member_id)
        self._send = send
        self._clock = clock
        self._now = now
        self.members: Dict[str, Member] = {}
        self.links: Dict[str, RealmLink] = {}
        for realm in router.realms():
            link = RealmLink(self, realm)
            realm.backplane = link
            self.links[realm.name] = link
        self._timer: Any = None
        self._stopped = False
        self._seq = 0  # state changes this process has announced

    def subject_of(self, member_id: str) -> str:
        return f"{self.prefix}.member.{member_id}"

    # --- sending -------------------------------------------------------------------

    def broadcast(self, frame: list) -> None:
        self._send(self.all_subject, frame)

    def direct(self, member_id: str, frame: list) -> None:
        self._send(self.subject_of(member_id), frame)

    def state_change(self, kind: str, *rest: object) -> None:
        """Announce a change of this process's sessions or registrations (numbered)."""
        self._seq += 1
        self.broadcast([kind, self.member_id, self._seq, *rest])

    # --- life cycle ------------------------------------------------------------------

    def start(self) -> None:
        """Announce this process and start the heartbeat and the silence check."""
        self._beat()

    def _beat(self) -> None:
        if self._stopped:
            return
        self.broadcast(["hb", self.member_id, {"pid": os.getpid(), "seq": self._seq, "process": self.label}])
        now = self._now()
        for member in [m for m in self.members.values() if now - m.last_seen > SILENCE_SECONDS]:
            log.warn("Backplane: process {member} silent for {seconds:.0f} s, dropping its sessions",
                     member=member.member_id[:8], seconds=now - member.last_seen)
            self._drop(member.member_id)
        self._timer = self._clock.callLater(HEARTBEAT_SECONDS, self._beat)

    def stop(self) -> None:
        """Say goodbye so that the others drop this process's sessions at once."""
        self._stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self.broadcast(["bye", self.member_id])
        for realm in self.router.realms():
            realm.backplane = None

    def synced(self) -> bool:
        """True when every known member has sent its state."""
        return all(m.synced for m in self.members.values())

    # --- receiving ---------------------------------------------------------------------

    def receive(self, frame: list) -> None:
        """Handle one frame from another process; malformed frames are logged and dropped."""
        if len(frame) < 2 or not isinstance(frame[1], str) or frame[1] == self.member_id:
            return
        try:
            self._dispatch(frame[0], frame[1], frame[2:])
        except Exception:
            log.failure("Backplane: cannot handle a {kind} frame", kind=frame[0])

    def _dispatch(self, kind: str, sender: str, rest: list) -> None:
        member = self.members.get(sender)
        if kind == "bye":
            if member is not None:
                log.info("Backplane: process {member} left", member=sender[:8])
                self._drop(sender)
            return
        if member is None:
            member = self._meet(sender)
        member.last_seen = self._now()
        if kind == "hb":
            member.info = rest[0] if rest and isinstance(rest[0], dict) else {}
            if member.synced and type(member.info.get("seq")) is int and member.info["seq"] > member.seq:
                self._resync(sender, "announces state changes never received")
        elif kind == "sync":
            self.direct(sender, ["state", self.member_id, self._seq,
                                 [[name, link.snapshot()] for name, link in self.links.items()]])
        elif kind == "state":
            if not member.synced:
                self._apply_snapshot(member, rest[0], rest[1])
        elif kind in ("rq", "rp"):
            if self.reports is not None:
                self.reports.receive(kind, sender, rest)
        elif kind in STATE_KINDS:
            if not member.synced:
                member.held.append([kind, *rest])
            elif rest[0] == member.seq + 1:
                member.seq = rest[0]
                self._state_change(kind, sender, rest[1:])
            elif rest[0] > member.seq:
                self._resync(sender, f"state change {member.seq + 1} was lost")
                self.members[sender].held.append([kind, *rest])
        else:
            self._routing(kind, sender, rest)

    def _apply_snapshot(self, member: Member, seq: int, realms: list) -> None:
        member.synced = True
        member.seq = seq
        for realm, sessions in realms:
            link = self.links.get(realm)
            if link is not None and isinstance(sessions, list):
                link.apply_snapshot(member.member_id, sessions)
        held, member.held = member.held, []
        for kind, change_seq, *rest in held:
            if change_seq == member.seq + 1:
                member.seq = change_seq
                self._state_change(kind, member.member_id, rest)

    def _resync(self, sender: str, why: str) -> None:
        log.warn("Backplane: process {member} {why}; reloading its sessions", member=sender[:8], why=why)
        self.resyncs += 1
        self._drop(sender)
        self._meet(sender)

    def _meet(self, sender: str) -> Member:
        member = Member(sender, self._now())
        self.members[sender] = member
        log.info("Backplane: process {member} joined; asking for its sessions", member=sender[:8])
        self.direct(sender, ["sync", self.member_id])
        return member

    def _state_change(self, kind: str, sender: str, rest: list) -> None:
        link = self.links.get(rest[0])
        if link is None:
            return
        if kind == "join":
            link.remote_join(sender, rest[1])
        elif kind == "leave":
            link.remote_leave(rest[1])
        elif kind == "reg":
            link.remote_register(rest[1], rest[2], rest[3], rest[4])
        elif kind == "unreg":
            link.remote_unregister(rest[1], rest[2], rest[3])

    def _routing(self, kind: str, sender: str, rest: list) -> None:
        link = self.links.get(rest[0]) if rest else None
        if link is None:
            return
        if kind == "pub":
            link.remote_publication(rest[1], rest[2], rest[3])
        elif kind == "inv":
            link.invocation(sender, rest[1], rest[2], rest[3], rest[4])
        elif kind == "int":
            link.interrupt(sender, rest[1], rest[2], rest[3], rest[4])
        elif kind == "res":
            link.answer(rest[1], rest[2])
        elif kind == "kill":
            link.kill(rest[1], rest[2], rest[3])

    def _drop(self, member_id: str) -> None:
        self.members.pop(member_id, None)
        for link in self.links.values():
            link.drop_member(member_id)

    def remote_session_count(self) -> int:
        return sum(len(link.remote) for link in self.links.values())

    def describe(self) -> List[str]:
        return [f"{m.member_id[:8]} (pid {m.info.get('pid', '?')})" for m in self.members.values()]
