"""Routing across processes, without processes: two or three routers joined by an
in-memory backplane that encodes every frame as NATS would carry it.

The real thing (worker processes, nats-server) is in test_cluster_e2e.py; these
tests pin the routing rules of node.cluster.link and node.cluster.member.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

from autobahn.wamp import message as m
from twisted.internet.task import Clock

from node.cluster import codec
from node.cluster.member import SILENCE_SECONDS, ClusterMember
from node.router import Router
from node.wire.messages import ProgressiveCall
from router_fakes import joined, permission, realm, role


class Bus:
    """Delivers frames like NATS: ``<prefix>.all`` to every other member, a member subject to one."""

    def __init__(self) -> None:
        self.members: Dict[str, ClusterMember] = {}
        self.queue: List[Tuple[str, str, bytes]] = []
        self.up: Dict[str, bool] = {}
        self.lose = lambda frame: False  # frames for which this is true vanish
        self.held: List[Tuple[str, str, bytes]] = []
        self.hold = lambda frame: False  # frames for which this is true wait for release()

    def sender(self, name: str):
        def send(subject: str, frame: list) -> None:
            if self.up.get(name, True) and not self.lose(frame):
                entry = (name, subject, codec.encode([frame]))
                (self.held if self.hold(frame) else self.queue).append(entry)
        return send

    def release(self) -> None:
        self.queue.extend(self.held)
        self.held = []
        self.pump()

    def pump(self) -> None:
        while self.queue:
            origin, subject, data = self.queue.pop(0)
            for name, member in list(self.members.items()):
                if name == origin or not self.up.get(name, True):
                    continue
                if subject == member.all_subject or subject == member.inbox:
                    for frame in codec.decode(data):
                        member.receive(frame)


def cluster(count: int = 2, **realm_options):
    bus, clock = Bus(), Clock()
    routers = []
    for i in range(count):
        router = Router((realm(**realm_options),), clock=clock)
        member = ClusterMember(router, bus.sender(f"p{i}"), "test", clock, now=clock.seconds, member_id=f"p{i}")
        bus.members[f"p{i}"] = member
        member.start()
        routers.append(router)
    bus.pump()
    return bus, clock, routers


def test_members_sync_and_count_all_sessions():
    """Sessions on either process show in wamp.session.count/list on both."""
    bus, clock, (r1, r2) = cluster()
    a, b, c = joined(r1), joined(r2), joined(r2)
    bus.pump()
    for client in (a, b):
        client.call("wamp.session.count")
        assert client.last().args == [3]
        client.call("wamp.session.list")
        assert sorted(client.last().args[0]) == sorted([a.session_id, b.session_id, c.session_id])
    assert all(member.synced() for member in bus.members.values())


def test_late_member_gets_a_snapshot():
    """A process that starts later learns the sessions and registrations already there."""
    bus, clock, (r1,) = cluster(1)
    callee = joined(r1)
    callee.register("com.proc")
    callee.take()
    r2 = Router((realm(),), clock=clock)
    bus.members["p9"] = ClusterMember(r2, bus.sender("p9"), "test", clock, now=clock.seconds, member_id="p9")
    bus.members["p9"].start()
    bus.pump()
    caller = joined(r2)
    bus.pump()
    caller.call("com.proc", 7)
    bus.pump()
    inv = callee.last()
    assert isinstance(inv, m.Invocation) and inv.args == [7]


def test_event_crosses_processes_once_per_subscriber():
    """A publication on process 1 reaches subscribers on process 2 (exact and prefix), with one publication ID."""
    bus, clock, (r1, r2) = cluster()
    pub, sub1, sub2 = joined(r1), joined(r2), joined(r2)
    sub1.subscribe("com.topic")
    sub2.subscribe("com.", match="prefix")
    sub1.take(), sub2.take()
    bus.pump()
    pub.publish("com.topic", 1, acknowledge=True)
    published = pub.last()
    assert isinstance(published, m.Published)
    bus.pump()
    e1, e2 = sub1.last(), sub2.last()
    assert e1.args == e2.args == [1]
    assert e1.publication == e2.publication == published.publication
    assert e2.topic == "com.topic"


def test_exclude_and_disclose_across_processes():
    """Excluding a session by ID and disclosing the publisher work for remote subscribers."""
    everything = permission("", "prefix", call=True, register=True, publish=True, subscribe=True,
                            disclose_publisher=True)
    bus, clock, (r1, r2) = cluster(roles=(role("anonymous", everything),))
    pub, s1, s2 = joined(r1), joined(r2), joined(r2)
    s1.subscribe("t"), s2.subscribe("t")
    s1.take(), s2.take()
    bus.pump()
    pub.publish("t", 1, exclude=[s1.session_id])
    bus.pump()
    assert s1.take() == []
    event = s2.last()
    assert (event.publisher, event.publisher_authrole) == (pub.session_id, "anonymous")


def test_call_to_remote_callee_with_result_and_error():
    """A caller on process 1 gets RESULT and ERROR from a callee on process 2."""
    bus, clock, (r1, r2) = cluster()
    callee, caller = joined(r2), joined(r1)
    callee.register("com.add")
    callee.take()
    bus.pump()
    request = caller.call("com.add", 1, 2)
    bus.pump()
    inv = callee.last()
    assert isinstance(inv, m.Invocation) and inv.args == [1, 2]
    callee.send(m.Yield(inv.request, args=[3]))
    bus.pump()
    result = caller.last()
    assert isinstance(result, m.Result) and result.request == request and result.args == [3]
    request = caller.call("com.add", "x")
    bus.pump()
    inv = callee.last()
    callee.send(m.Error(m.Invocation.MESSAGE_TYPE, inv.request, "com.error.bad", args=["no"]))
    bus.pump()
    error = caller.last()
    assert isinstance(error, m.Error) and error.request == request and error.error == "com.error.bad"


def test_progressive_results_and_cancel_across_processes():
    """Progressive YIELDs arrive as progressive RESULTs; CANCEL interrupts the remote callee."""
    bus, clock, (r1, r2) = cluster()
    callee, caller = joined(r2), joined(r1)
    callee.register("com.slow")
    callee.take()
    bus.pump()
    request = caller.call("com.slow", receive_progress=True)
    bus.pump()
    inv = callee.last()
    assert inv.receive_progress
    callee.send(m.Yield(inv.request, args=[1], progress=True))
    callee.send(m.Yield(inv.request, args=[2], progress=True))
    bus.pump()
    assert [r.args for r in caller.take()] == [[1], [2]]
    caller.send(m.Cancel(request, mode="kill"))
    bus.pump()
    interrupt = callee.last()
    assert isinstance(interrupt, m.Interrupt) and interrupt.request == inv.request
    callee.send(m.Error(m.Invocation.MESSAGE_TYPE, inv.request, "wamp.error.canceled"))
    bus.pump()
    assert caller.last().error == "wamp.error.canceled"


def test_progressive_call_invocation_chunks_reach_the_same_remote_invocation():
    """Further chunks of a progressive CALL reach the remote callee under the same INVOCATION ID."""
    bus, clock, (r1, r2) = cluster()
    callee, caller = joined(r2), joined(r1)
    callee.register("com.upload")
    callee.take()
    bus.pump()
    request = caller.request()
    caller.send(ProgressiveCall(request, "com.upload", args=[1], progress=True))
    bus.pump()
    first = callee.last()
    caller.send(ProgressiveCall(request, "com.upload", args=[2]))
    bus.pump()
    second = callee.last()
    assert first.request == second.request and second.args == [2]


def test_timeout_interrupts_remote_callee():
    """A call timeout on the caller's process answers the caller and interrupts the remote callee."""
    bus, clock, (r1, r2) = cluster()
    callee, caller = joined(r2), joined(r1)
    callee.register("com.sleep")
    callee.take()
    bus.pump()
    caller.call("com.sleep", timeout=500)
    bus.pump()
    inv = callee.last()
    clock.advance(0.5)
    bus.pump()
    assert caller.last().error == "wamp.error.canceled"
    assert isinstance(callee.last(), m.Interrupt)
    callee.send(m.Yield(inv.request, args=["late"]))
    bus.pump()
    assert caller.take() == []


def test_callee_leaving_fails_pending_remote_calls_and_unregisters():
    """When a remote callee leaves, its caller gets an error at once and the procedure is gone."""
    bus, clock, (r1, r2) = cluster()
    callee, caller = joined(r2), joined(r1)
    callee.register("com.p")
    callee.take()
    bus.pump()
    caller.call("com.p")
    bus.pump()
    callee.send(m.Goodbye())
    bus.pump()
    assert caller.last().error == "wamp.error.canceled"
    caller.call("com.p")
    bus.pump()
    assert caller.last().error == "wamp.error.no_such_procedure"


def test_single_registration_is_cluster_wide_and_roundrobin_spans_processes():
    """A second `single` registration on another process is refused; roundrobin alternates between processes."""
    bus, clock, (r1, r2) = cluster()
    a, b = joined(r1), joined(r2)
    a.register("com.one")
    a.take()
    bus.pump()
    b.register("com.one")
    assert b.last().error == "wamp.error.procedure_already_exists"
    a.register("com.rr", invoke="roundrobin")
    bus.pump()
    b.register("com.rr", invoke="roundrobin")
    a.take(), b.take()
    bus.pump()
    caller = joined(r1)
    bus.pump()
    got = []
    for _ in range(4):
        caller.call("com.rr")
        bus.pump()
        for callee in (a, b):
            for inv in callee.take():
                got.append(callee)
                callee.send(m.Yield(inv.request))
        bus.pump()
        caller.take()
    assert got == [a, b, a, b]


def test_kill_remote_session_and_meta_events():
    """wamp.session.kill reaches a session on another process; on_join/on_leave are heard everywhere."""
    bus, clock, (r1, r2) = cluster()
    watcher = joined(r1)
    watcher.subscribe("wamp.session.on_leave")
    watcher.take()
    victim = joined(r2)
    bus.pump()
    watcher.call("wamp.session.kill", victim.session_id)
    bus.pump()
    assert isinstance(victim.last(), m.Goodbye)
    victim.send(m.Goodbye())
    bus.pump()
    leave_event = [x for x in watcher.take() if isinstance(x, m.Event)]
    assert leave_event and leave_event[0].args[0] == victim.session_id


def test_silent_process_is_dropped_with_its_sessions():
    """A process that stops sending (crash) is dropped after the silence timeout, and so are its sessions."""
    bus, clock, (r1, r2) = cluster()
    joined(r2)
    watcher = joined(r1)
    bus.pump()
    watcher.call("wamp.session.count")
    assert watcher.last().args == [2]
    bus.up["p1"] = False
    for _ in range(int(SILENCE_SECONDS) + 2):
        clock.advance(1)
        bus.pump()
    watcher.call("wamp.session.count")
    assert watcher.last().args == [1]
    bus.up["p1"] = True  # back: its heartbeat makes it known again, with its session
    clock.advance(1)
    bus.pump()
    clock.advance(1)
    bus.pump()
    watcher.call("wamp.session.count")
    assert watcher.last().args == [2]


def test_retained_event_is_kept_by_every_process():
    """A retained publication made on process 1 is served to a late subscriber on process 2."""
    bus, clock, (r1, r2) = cluster()
    pub = joined(r1)
    pub.publish("com.state", "on", retain=True)
    bus.pump()
    late = joined(r2)
    late.subscribe("com.state", get_retained=True)
    received = late.take()
    assert [x.args for x in received if isinstance(x, m.Event)] == [["on"]]


def test_testament_published_to_remote_subscribers():
    """A session's testament reaches subscribers on other processes when it leaves."""
    bus, clock, (r1, r2) = cluster()
    sub = joined(r2)
    sub.subscribe("com.gone")
    sub.take()
    dying = joined(r1)
    dying.call("wamp.session.add_testament", "com.gone", ["bye"], {})
    dying.take()
    dying.send(m.Goodbye())
    bus.pump()
    assert [x.args for x in sub.take() if isinstance(x, m.Event)] == [["bye"]]


def test_garbage_frames_are_dropped():
    """Undecodable or malformed frames on the subjects do not break a process."""
    bus, clock, (r1, r2) = cluster()
    member = bus.members["p0"]
    for frame in (["pub", "x"], ["inv", "x", "realm1", "nope"], ["state", "y", "bad"], ["hb"], ["zz", "q", 1]):
        member.receive(frame)
    caller = joined(r1)
    caller.call("wamp.session.count")
    assert isinstance(caller.last(), m.Result)


def test_state_change_overtaking_the_snapshot_is_applied_after_it():
    """A registration announced after the snapshot but handled before it (two NATS subscriptions) is kept."""
    bus, clock, (r1,) = cluster(1)
    callee = joined(r1)
    bus.hold = lambda frame: frame[0] == "state"
    r2 = Router((realm(),), clock=clock)
    bus.members["p9"] = ClusterMember(r2, bus.sender("p9"), "test", clock, now=clock.seconds, member_id="p9")
    bus.members["p9"].start()
    bus.pump()  # p0 has answered with its snapshot, which is held back
    callee.register("com.late")
    callee.take()
    bus.pump()  # the REGISTER's change reaches p9 before the snapshot
    bus.hold = lambda frame: False
    bus.release()
    caller = joined(r2)
    caller.call("com.late")
    bus.pump()
    assert isinstance(callee.last(), m.Invocation)


def test_lost_state_change_makes_the_receiver_reload_the_sender():
    """When a numbered change is lost, the next one (or a heartbeat) triggers a fresh snapshot."""
    bus, clock, (r1, r2) = cluster()
    callee = joined(r2)
    bus.pump()
    bus.lose = lambda frame: frame[0] == "reg"
    callee.register("com.lost")
    callee.take()
    bus.pump()
    bus.lose = lambda frame: False
    caller = joined(r1)
    caller.call("com.lost")
    assert caller.last().error == "wamp.error.no_such_procedure"
    clock.advance(1)  # p1's heartbeat says it made more changes than p0 saw
    bus.pump()
    caller.call("com.lost")
    bus.pump()
    assert isinstance(callee.last(), m.Invocation)
