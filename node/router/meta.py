"""The WAMP meta API: ``wamp.session.*``, ``wamp.registration.*``, ``wamp.subscription.*``.

Meta procedures are answered by the router itself, synchronously, from the
realm's broker, dealer and session table. Access goes through the same role
permissions as any URI (the realm authorizes the CALL before it gets here).
The meta *events* are produced by broker, dealer and realm as outcomes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

from node.router.matching import Observation
from node.router.peer import Peer
from node.router.uris import uri_length_problem
from node.wire.tolerance import integral_id

if TYPE_CHECKING:  # pragma: no cover
    from node.router.realm import RealmRouter

NO_SUCH_SESSION = "wamp.error.no_such_session"
NO_SUCH_SUBSCRIPTION = "wamp.error.no_such_subscription"
NO_SUCH_REGISTRATION = "wamp.error.no_such_registration"
INVALID_ARGUMENT = "wamp.error.invalid_argument"
INVALID_URI = "wamp.error.invalid_uri"
CLOSE_KILLED = "wamp.close.killed"


class MetaError(Exception):
    """A meta procedure refuses the call with a WAMP error URI and a message."""

    def __init__(self, uri: str, text: str) -> None:
        super().__init__(text)
        self.uri = uri
        self.text = text


Reply = Tuple[Optional[list], Optional[dict]]


def _int_arg(args: list, index: int, name: str) -> int:
    """An ID argument; an integral float is taken too, as in WAMP messages (node.wire.tolerance)."""
    value = integral_id(args[index]) if len(args) > index else None
    if type(value) is not int:
        raise MetaError(INVALID_ARGUMENT, f"argument {index + 1} ({name}) must be an integer")
    return value


def _str_arg(args: list, index: int, name: str) -> str:
    if len(args) <= index or not isinstance(args[index], str):
        raise MetaError(INVALID_ARGUMENT, f"argument {index + 1} ({name}) must be a string")
    return args[index]


def _scope(kwargs: dict) -> str:
    scope = kwargs.get("scope", "destroyed")
    if not isinstance(scope, str) or scope not in ("destroyed", "detached"):
        raise MetaError(INVALID_ARGUMENT, "scope must be 'destroyed' or 'detached'")
    return scope


# testament publish_options the router honours, and the type of their items: checked
# when the testament is added, because a bad one would only fail as the session leaves
_LISTING_ITEMS = {"exclude": int, "eligible": int, "exclude_authid": str, "eligible_authid": str,
                  "exclude_authrole": str, "eligible_authrole": str}


def _check_listing(options: dict) -> None:
    for name, item in _LISTING_ITEMS.items():
        value = options.get(name)
        if value is not None and not (isinstance(value, list) and all(type(v) is item for v in value)):
            raise MetaError(INVALID_ARGUMENT, f"publish_options.{name} must be a list of {item.__name__}s")
    if options.get("retain") is not None and type(options["retain"]) is not bool:
        raise MetaError(INVALID_ARGUMENT, "publish_options.retain must be a boolean")


class MetaApi:
    """Answers meta procedure calls for one realm."""

    def __init__(self, realm: "RealmRouter") -> None:
        self._realm = realm
        self._procedures: Dict[str, Callable[[Peer, list, dict], Reply]] = {
            "wamp.session.count": self.session_count,
            "wamp.session.list": self.session_list,
            "wamp.session.get": self.session_get,
            "wamp.session.kill": self.session_kill,
            "wamp.session.kill_by_authid": self.session_kill_by_authid,
            "wamp.session.kill_by_authrole": self.session_kill_by_authrole,
            "wamp.session.add_testament": self.add_testament,
            "wamp.session.flush_testaments": self.flush_testaments,
            "wamp.registration.list": self.registration_list,
            "wamp.registration.lookup": self.registration_lookup,
            "wamp.registration.match": self.registration_match,
            "wamp.registration.get": self.registration_get,
            "wamp.registration.list_callees": self.registration_list_callees,
            "wamp.registration.count_callees": self.registration_count_callees,
            "wamp.subscription.list": self.subscription_list,
            "wamp.subscription.lookup": self.subscription_lookup,
            "wamp.subscription.match": self.subscription_match,
            "wamp.subscription.get": self.subscription_get,
            "wamp.subscription.list_subscribers": self.subscription_list_subscribers,
            "wamp.subscription.count_subscribers": self.subscription_count_subscribers,
            "wamp.subscription.get_events": self.subscription_get_events,
        }

    def _uri_arg(self, args: list, index: int, name: str) -> str:
        """A URI argument, refused like a URI of any request when it is too long."""
        uri = _str_arg(args, index, name)
        problem = uri_length_problem(uri, self._realm.max_uri_length)
        if problem is not None:
            raise MetaError(INVALID_URI, problem)
        return uri

    def handles(self, procedure: str) -> bool:
        return procedure in self._procedures

    def call(self, peer: Peer, procedure: str, args: Optional[list], kwargs: Optional[dict]) -> Reply:
        """Run a meta procedure; raises :class:`MetaError` to refuse."""
        return self._procedures[procedure](peer, list(args or []), dict(kwargs or {}))

    # --- sessions ---------------------------------------------------------

    def _sessions(self, kwargs: dict, args: list) -> List[Peer]:
        """Joined sessions, optionally filtered by a list of authroles (Crossbar's
        ``filter_authroles``)."""
        authroles = args[0] if args else kwargs.get("filter_authroles")
        peers = self._realm.joined_peers()
        if isinstance(authroles, list):
            peers = [p for p in peers if p.authrole in authroles]
        return peers

    def session_count(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return [len(self._sessions(kwargs, args))], None

    def session_list(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return [[p.session_id for p in self._sessions(kwargs, args)]], None

    def _peer(self, session_id: int) -> Peer:
        target = self._realm.peer(session_id)
        if target is None:
            raise MetaError(NO_SUCH_SESSION, f"no session {session_id} on realm '{self._realm.name}'")
        return target

    def session_get(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return [self._peer(_int_arg(args, 0, "session")).details()], None

    def session_kill(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        target = self._peer(_int_arg(args, 0, "session"))
        if target.session_id == peer.session_id:
            raise MetaError(INVALID_ARGUMENT, "a session cannot kill itself: send GOODBYE instead")
        self._realm.kill(target.session_id, kwargs.get("reason"), kwargs.get("message"))
        return None, None

    def _kill_where(self, peer: Peer, kwargs: dict, wanted: Callable[[Peer], bool]) -> Reply:
        killed = [p.session_id for p in self._realm.joined_peers()
                  if wanted(p) and p.session_id != peer.session_id]
        for session_id in killed:
            self._realm.kill(session_id, kwargs.get("reason"), kwargs.get("message"))
        return [killed], None

    def session_kill_by_authid(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        authid = _str_arg(args, 0, "authid")
        return self._kill_where(peer, kwargs, lambda p: p.authid == authid)

    def session_kill_by_authrole(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        authrole = _str_arg(args, 0, "authrole")
        return self._kill_where(peer, kwargs, lambda p: p.authrole == authrole)

    # --- testaments -------------------------------------------------------

    def add_testament(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        """Store an event that the router publishes when this session goes away (the
        realm has authorized the session to publish to the topic before this is called)."""
        topic = self._uri_arg(args, 0, "topic")
        t_args = args[1] if len(args) > 1 else []
        t_kwargs = args[2] if len(args) > 2 else {}
        if not isinstance(t_args, list) or not isinstance(t_kwargs, dict):
            raise MetaError(INVALID_ARGUMENT, "testament args must be a list and kwargs a dict")
        options = kwargs.get("publish_options") or {}
        scope = _scope(kwargs)
        if not isinstance(options, dict):
            raise MetaError(INVALID_ARGUMENT, "publish_options must be a dict")
        _check_listing(options)
        if topic.startswith("wamp."):
            raise MetaError(INVALID_URI, f"topic '{topic}' is reserved for the router")
        testament_id = self._realm.add_testament(peer.session_id, scope, topic, t_args, t_kwargs, options)
        return [testament_id], None

    def flush_testaments(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        scope = _scope(kwargs)
        return [self._realm.flush_testaments(peer.session_id, scope)], None

    # --- registrations and subscriptions ----------------------------------

    def _observation(self, kind: str, observation_id: int) -> Observation:
        observations = self._map(kind)
        found = observations.by_id(observation_id)
        if found is None:
            uri = NO_SUCH_REGISTRATION if kind == "registration" else NO_SUCH_SUBSCRIPTION
            raise MetaError(uri, f"no {kind} {observation_id} on realm '{self._realm.name}'")
        return found

    def _map(self, kind: str):
        return self._realm.dealer.registrations if kind == "registration" else self._realm.broker.subscriptions

    def _describe(self, kind: str, observation: Observation) -> dict:
        if kind == "registration":
            return self._realm.dealer.describe(observation)
        return self._realm.broker.describe(observation)

    def registration_list(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return [self._map("registration").ids_by_match()], None

    def subscription_list(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return [self._map("subscription").ids_by_match()], None

    def _lookup(self, kind: str, args: list) -> Reply:
        uri = self._uri_arg(args, 0, "uri")
        options = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
        found = self._map(kind).get(uri, options.get("match", "exact"))
        return [found.id if found is not None else None], None

    def registration_lookup(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return self._lookup("registration", args)

    def subscription_lookup(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return self._lookup("subscription", args)

    def registration_match(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        found = self._map("registration").best_match(self._uri_arg(args, 0, "uri"))
        return [found.id if found is not None else None], None

    def subscription_match(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        found = self._map("subscription").matching(self._uri_arg(args, 0, "uri"))
        return [[o.id for o in found] or None], None

    def registration_get(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return [self._describe("registration", self._observation("registration", _int_arg(args, 0, "id")))], None

    def subscription_get(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return [self._describe("subscription", self._observation("subscription", _int_arg(args, 0, "id")))], None

    def registration_list_callees(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return [list(self._observation("registration", _int_arg(args, 0, "id")).observers)], None

    def registration_count_callees(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return [len(self._observation("registration", _int_arg(args, 0, "id")).observers)], None

    def subscription_list_subscribers(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return [list(self._observation("subscription", _int_arg(args, 0, "id")).observers)], None

    def subscription_count_subscribers(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        return [len(self._observation("subscription", _int_arg(args, 0, "id")).observers)], None

    def subscription_read(self, procedure: str, args: Optional[list]) -> Optional[Tuple[str, str]]:
        """The (uri, match) of the subscription whose stored events a call of ``procedure``
        reads, if it is ``wamp.subscription.get_events`` of an existing subscription: a
        dynamic role must be allowed to subscribe to it first (see the realm)."""
        if procedure != "wamp.subscription.get_events" or not args:
            return None
        subscription_id = integral_id(args[0])
        found = self._map("subscription").by_id(subscription_id) if type(subscription_id) is int else None
        return (found.uri, found.match) if found is not None else None

    def subscription_get_events(self, peer: Peer, args: list, kwargs: dict) -> Reply:
        """The stored events of a subscription that live delivery would have sent ``peer``
        (see :meth:`~node.router.broker.Broker.history`)."""
        subscription = self._observation("subscription", _int_arg(args, 0, "subscription"))
        limit = args[1] if len(args) > 1 and type(args[1]) is int else kwargs.get("limit")
        if type(limit) is int and limit < 0:
            raise MetaError(INVALID_ARGUMENT, "limit must be a non-negative integer")
        events = self._realm.broker.history(subscription, peer, limit if type(limit) is int else None)
        if events is None:
            raise MetaError("wamp.error.history_unavailable",
                            f"no event history is configured for '{subscription.uri}' ({subscription.match})")
        return [events], None

