"""The NATS connection of one router process: nats-py on Twisted's asyncio reactor.

nats-py is an asyncio library; a clustered process runs Twisted's
``asyncioreactor`` (:func:`install_asyncio_reactor`), so both share one event
loop and one thread: NATS callbacks call the routing core directly, and
``Deferred.fromFuture`` turns nats-py's coroutines into Deferreds.

Frames are sent in order, batched: every frame produced while the loop runs one
round is packed, with its neighbours for the same subject, into one NATS
message, and a single task publishes the batches one after the other (a task
per frame would cost more than the frame). NATS keeps the order of one
connection's messages, which membership relies on (:mod:`node.cluster.member`).
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, List, Optional, Tuple

from twisted.internet import defer
from twisted.logger import Logger

from node.cluster import codec
from node.errors import NodeError

log = Logger()

CONNECT_TIMEOUT_SECONDS = 10.0
BATCH_BYTES = 256 * 1024  # split batches well below NATS's default max_payload (1 MiB)


class BackplaneError(NodeError):
    """The backplane (NATS server) cannot be reached or used."""

    exit_code = 1


def install_asyncio_reactor() -> Any:
    """Install Twisted's asyncio reactor (before anything imports the default one)."""
    import sys

    if "twisted.internet.reactor" in sys.modules:
        from twisted.internet import reactor

        if type(reactor).__name__ != "AsyncioSelectorReactor":
            raise BackplaneError("backplane", "the default Twisted reactor is already running",
                                 "Start the clustered node with `wampnode start` (it needs the asyncio reactor)")
        return reactor
    from twisted.internet import asyncioreactor

    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_loop_exception)
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)
    from twisted.internet import reactor

    return reactor


def _loop_exception(loop: Any, context: dict) -> None:
    """asyncio's complaints through the node's log; nats-py's tasks cut short at exit are not news."""
    message = context.get("message", "")
    if message.startswith("Task was destroyed but it is pending"):
        return
    error = context.get("exception")
    log.warn("asyncio: {message}{error}", message=message, error=f": {type(error).__name__} {error}" if error else "")


def redact(url: str) -> str:
    """A server URL fit for the log: credentials replaced by ``***``."""
    parts = []
    for one in url.split(","):
        scheme, _, rest = one.partition("://")
        if "@" in rest:
            rest = "***@" + rest.rsplit("@", 1)[1]
        parts.append(f"{scheme}://{rest}")
    return ",".join(parts)


class NatsBackplane:
    """Publishes frames to subjects and hands received frames to ``on_frame``."""

    def __init__(self, url: str, on_frame: Callable[[list], None], name: str = "wampnode") -> None:
        self.url = url
        self.on_frame = on_frame
        self.name = name
        self.nc: Any = None
        self._queue: List[Tuple[str, list]] = []
        self._sender: Optional[asyncio.Task] = None
        self._warned = False
        self._closing = False
        # what went over the backplane (metrics): NATS messages and the frames packed in them
        self.sent_messages = self.received_messages = self.sent_frames = self.received_frames = 0

    # --- connection -------------------------------------------------------------------

    def connect(self, subjects: List[str]) -> defer.Deferred:
        """Connect and subscribe; fails with :class:`BackplaneError` after a while."""
        return defer.Deferred.fromFuture(asyncio.ensure_future(self._connect(subjects)))

    async def _connect(self, subjects: List[str]) -> None:
        import nats

        async def error(e: Exception) -> None:
            log.warn("Backplane: NATS error: {error}", error=f"{type(e).__name__}: {e}")

        async def disconnected() -> None:
            if not self._closing:
                log.warn("Backplane: disconnected from NATS, reconnecting")

        async def reconnected() -> None:
            self._warned = False
            log.info("Backplane: reconnected to NATS")

        try:
            self.nc = await asyncio.wait_for(nats.connect(
                servers=self.url.split(","), name=self.name, no_echo=True, allow_reconnect=True,
                max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=2,
                error_cb=error, disconnected_cb=disconnected, reconnected_cb=reconnected,
                pending_size=64 * 1024 * 1024), CONNECT_TIMEOUT_SECONDS)
        except Exception as e:
            raise BackplaneError("backplane", f"cannot connect to NATS at {redact(self.url)}: "
                                 f"{type(e).__name__} {e}".rstrip(),
                                 "Start nats-server there, or fix workers[0].options.backplane.url")
        for subject in subjects:
            await self.nc.subscribe(subject, cb=self._received, pending_msgs_limit=-1,
                                    pending_bytes_limit=-1)
        await self.nc.flush()

    async def _received(self, msg: Any) -> None:
        try:
            frames = codec.decode(msg.data)
        except codec.FrameError as e:
            log.warn("Backplane: dropped a message on {subject}: {error}", subject=msg.subject, error=str(e))
            return
        self.received_messages += 1
        self.received_frames += len(frames)
        for frame in frames:
            self.on_frame(frame)

    def close(self) -> defer.Deferred:
        """Send what is queued, then close the connection."""
        if self.nc is None:
            return defer.succeed(None)
        self._closing = True
        return defer.Deferred.fromFuture(asyncio.ensure_future(self._close()))

    async def _close(self) -> None:
        try:
            if self.nc.is_connected:  # the goodbye frame should reach the others
                if self._sender is not None:
                    await asyncio.wait_for(self._sender, 2)
                await asyncio.wait_for(self.nc.flush(), 2)
        except Exception:
            pass
        try:
            await asyncio.wait_for(self.nc.close(), 2)
        except Exception:
            pass

    # --- sending ------------------------------------------------------------------------

    def send(self, subject: str, frame: list) -> None:
        """Queue one frame; the queue is sent, in order, when the loop next runs."""
        self._queue.append((subject, frame))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.ensure_future(self._send_queued())

    async def _send_queued(self) -> None:
        from nats import errors as nats_errors

        while self._queue and self.nc is not None:
            frames, self._queue = self._queue, []
            self.sent_frames += len(frames)
            for subject, data in _batches(frames):
                try:
                    await self.nc.publish(subject, data)
                    self.sent_messages += 1
                except nats_errors.MaxPayloadError:
                    log.error("Backplane: dropped a {size} byte message, larger than the NATS server's "
                              "max_payload ({limit} bytes); raise max_payload there", size=len(data),
                              limit=self.nc.max_payload)
                except Exception as e:
                    if not self._warned:  # once per outage: the log must not flood
                        self._warned = True
                        log.warn("Backplane: cannot publish to NATS ({error}); other processes miss messages "
                                 "until it is back", error=f"{type(e).__name__}: {e}")


def _batches(frames: List[Tuple[str, list]]) -> List[Tuple[str, bytes]]:
    """Consecutive frames for one subject packed together, order kept, each batch
    below :data:`BATCH_BYTES` unless a single frame is larger."""
    runs: List[Tuple[str, List[list]]] = []
    for subject, frame in frames:
        if runs and runs[-1][0] == subject:
            runs[-1][1].append(frame)
        else:
            runs.append((subject, [frame]))
    out: List[Tuple[str, bytes]] = []
    for subject, run in runs:
        _pack(subject, run, out)
    return out


def _pack(subject: str, run: List[list], out: List[Tuple[str, bytes]]) -> None:
    data = codec.encode(run)
    if len(data) <= BATCH_BYTES or len(run) == 1:
        out.append((subject, data))
        return
    half = len(run) // 2
    _pack(subject, run[:half], out)
    _pack(subject, run[half:], out)
