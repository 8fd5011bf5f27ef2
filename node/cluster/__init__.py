"""Several router processes (and nodes) acting as one WAMP router, joined through NATS.

Used only when ``workers[0].options`` has ``processes`` > 1 or a ``backplane``;
a plain node never imports this package (nor nats-py).

Processes
    ``wampnode start`` with ``processes: N`` becomes a supervisor
    (:mod:`node.process.supervisor`): it keeps the pidfile, starts a private
    ``nats-server`` on 127.0.0.1 unless ``backplane.url`` names one, and runs N
    worker processes (:mod:`node.process.cluster_worker`) that all listen on the same
    ports (SO_REUSEPORT, so the kernel spreads connections over them). Each
    worker is an ordinary :class:`~node.workers.router.RouterWorker` plus a
    :class:`~node.cluster.member.ClusterMember`. Nodes on other machines (or in
    other node directories) that name the same NATS server and subject prefix
    join the same router.

What crosses the backplane, and why (one rule per kind of state)
    *Calls are decided once, where the caller is.* Sessions and registrations
    are replicated: every process knows every session (so ``wamp.session.count``,
    ``list``, ``get`` and ``kill`` see the whole router) and every registration
    (a remote callee is one more observer in the local dealer). The caller's
    process therefore makes the routing decision with the unchanged dealer
    (invocation policy, pending call, timeout, cancel, progressive results),
    and only INVOCATION/INTERRUPT travel to the callee's process and
    YIELD/ERROR back (:mod:`node.cluster.link`). Replicating the registry costs
    one message per register/unregister; asking the backplane on every CALL
    would cost a round trip per call, and routing calls through NATS
    queue groups would lose WAMP's invocation policies, cancel and progress.

    *Events are delivered everywhere, matched locally.* A publication crosses
    the backplane once (one NATS message to all processes, however many
    subscribers there are); each process runs its own broker against its own
    subscriptions, so subscriptions are not replicated at all. Replicating
    subscriptions instead would send one backplane message per remote
    subscriber, and WAMP's string-prefix matching does not map onto NATS
    subject wildcards. Retained events and event history are kept by every
    process, because every process sees every publication.

    *Meta events are derived locally* from each process's (replicated) view, so
    a subscriber to ``wamp.session.on_join`` hears about every session exactly once.

Membership
    Each process is a member with a random ID. Members send a heartbeat every
    second; a member silent for five seconds (crashed, or cut off from NATS) is
    dropped with its sessions, which callers waiting on its callees see as
    ``wamp.error.canceled``. A member that hears of an unknown member asks it
    for a snapshot of its sessions and registrations and ignores that member's
    state changes until the snapshot arrives (NATS keeps one publisher's
    messages in order, so nothing is lost in between).

Limits (documented in the README): NATS core delivery is at most once, so a
publication sent while a process is cut off from NATS is lost for it;
subscription meta procedures (``wamp.subscription.*``) show the local process
only; ``force_reregister`` revokes callees on the same process only; two
processes registering the same ``single`` procedure at the same moment both keep
it (each serves its own callers).
"""
from __future__ import annotations
