#!/usr/bin/env python3
"""Fan-out floors (issue 17): what a 1 MiB event to 10 subscribers costs, and below what.

    python3 bench/fanout_floor.py                  # wampnode (CPython) and Crossbar.io
    python3 bench/fanout_floor.py --pypy --repeat 3

One run measures, as router CPU per delivered MiB (µs), each also as a ratio to
Crossbar.io's figure of the same run:

- ``event_1mib_10`` (``bench/run.py``'s workload) on wampnode and Crossbar.io;
- wampnode's split of it into what each publication costs (reading, parsing and
  encoding the 1 MiB once) and what each delivery costs (writing it to one more
  subscriber), from the same workload with 1 and with 10 subscribers
  (``c1 = P + D``, ``c10 = P/10 + D``);
- the send floor: a plain process that writes the same 1 MiB bytes object to 10
  loopback TCP connections another process drains, ``SEND_CHUNK`` at a time as
  Twisted does, without WebSocket or WAMP: the system calls and the kernel's copy
  that every router pays per delivery on this machine; and the same 1 MiB written by
  each other means the kernel offers for sending one buffer to many sockets
  (:data:`SENDERS`: the whole MiB per ``send``, as the node offers it; ``sendfile``
  from a memfd written once; a pipe written once, ``tee``'d and ``splice``d;
  ``MSG_ZEROCOPY``), to show whether any of them costs the sender less than copying.

Medians over ``--repeat`` runs, ``±`` half the min-max range in percent.
"""
from __future__ import annotations

import argparse
import ctypes
import errno
import fcntl
import os
import resource
import select
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

import install  # noqa: E402
import targets  # noqa: E402
import workloads  # noqa: E402

SUBSCRIBERS = 10
SEND_CHUNK = 128 * 1024  # Twisted's SEND_LIMIT: the most one write system call is given
FLOOR_ROUNDS = 200  # 1 MiB to each of the 10 connections, this many times
# Linux's values, which Python names only from 3.10 (fcntl) or not at all (socket)
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
SO_ZEROCOPY = getattr(socket, "SO_ZEROCOPY", 60)
MSG_ZEROCOPY = getattr(socket, "MSG_ZEROCOPY", 0x4000000)
SPLICE_F_MOVE, SPLICE_F_NONBLOCK = 1, 2


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pypy", action="store_true", help="also wampnode on PyPy")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=1.5)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--drain", nargs=2, metavar=("PORT", "COUNT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def drain(port: int, count: int) -> None:
    """The floor's receiving side: ``count`` connections read until the sender closes them."""
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    buffer = bytearray(256 * 1024)
    while conns:
        ready, _, _ = select.select(conns, [], [])
        for conn in ready:
            if not conn.recv_into(buffer):
                conns.remove(conn)
                conn.close()


class _Sender:
    """One way of writing the same 1 MiB to each of the floor's connections: ``start``
    once per round (1 MiB to every connection), ``offer`` as each becomes writable,
    ``end`` after the round, ``close`` once."""

    def __init__(self, payload: bytes, conns: List[socket.socket]) -> None:
        self.payload = payload
        self.conns = conns

    def start(self) -> None:
        pass

    def offer(self, conn: socket.socket, offset: int) -> int:
        raise NotImplementedError

    def end(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Chunks(_Sender):
    """``send`` of ``SEND_CHUNK`` at a time, as Twisted does."""

    chunk = SEND_CHUNK
    flags = 0

    def offer(self, conn: socket.socket, offset: int) -> int:
        return conn.send(memoryview(self.payload)[offset:offset + self.chunk], self.flags)


class _Whole(_Chunks):
    """``send`` offered all that is left, as the node does (up to 1 MiB a call)."""

    chunk = 1 << 30


class _Sendfile(_Sender):
    """The MiB written once per round into a memfd, then ``sendfile`` from it to each
    connection: the kernel's one zero-copy path from memory a process wrote."""

    def __init__(self, payload: bytes, conns: List[socket.socket]) -> None:
        super().__init__(payload, conns)
        self.memfd_create = os.memfd_create  # AttributeError where the system has none

    def start(self) -> None:
        self.fd = self.memfd_create("fanout-floor", os.MFD_CLOEXEC)
        os.write(self.fd, self.payload)

    def offer(self, conn: socket.socket, offset: int) -> int:
        return os.sendfile(conn.fileno(), self.fd, offset, len(self.payload) - offset)

    def end(self) -> None:
        os.close(self.fd)


class _TeeSplice(_Sender):
    """The MiB written once per round into a pipe, duplicated by ``tee`` into one pipe per
    connection (page references, no copy), and ``splice``d from there to the socket."""

    def __init__(self, payload: bytes, conns: List[socket.socket]) -> None:
        super().__init__(payload, conns)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.tee.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint]
        libc.tee.restype = ctypes.c_ssize_t
        libc.splice.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                ctypes.c_size_t, ctypes.c_uint]
        libc.splice.restype = ctypes.c_ssize_t
        self.libc = libc
        self.source = self._pipe()
        self.pipes = {conn: self._pipe() for conn in conns}
        self.null = os.open(os.devnull, os.O_WRONLY)

    def _pipe(self) -> tuple:
        pipe = os.pipe()
        fcntl.fcntl(pipe[1], F_SETPIPE_SZ, len(self.payload))  # room for the whole MiB
        return pipe

    def start(self) -> None:
        os.write(self.source[1], self.payload)
        for _, write_end in self.pipes.values():
            if self.libc.tee(self.source[0], write_end, len(self.payload), 0) != len(self.payload):
                raise OSError(ctypes.get_errno(), "tee")
        if self.libc.splice(self.source[0], None, self.null, None, len(self.payload), 0) != len(self.payload):
            raise OSError(ctypes.get_errno(), "splice")  # the source must be empty for the next round

    def offer(self, conn: socket.socket, offset: int) -> int:
        sent = self.libc.splice(self.pipes[conn][0], None, conn.fileno(), None, len(self.payload) - offset,
                                SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
        if sent < 0:
            code = ctypes.get_errno()
            raise BlockingIOError() if code == errno.EAGAIN else OSError(code, "splice")
        return sent

    def close(self) -> None:
        for fd in [*self.source, *(fd for pipe in self.pipes.values() for fd in pipe), self.null]:
            os.close(fd)


class _ZeroCopy(_Whole):
    """``send`` with ``MSG_ZEROCOPY`` (the kernel pins the pages and copies only where
    it must: on loopback, at delivery), its completions read back after each round."""

    flags = MSG_ZEROCOPY

    def __init__(self, payload: bytes, conns: List[socket.socket]) -> None:
        super().__init__(payload, conns)
        for conn in conns:
            conn.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 1)

    def end(self) -> None:
        for conn in self.conns:
            while True:
                try:
                    conn.recvmsg(0, 256, socket.MSG_ERRQUEUE)
                except (BlockingIOError, InterruptedError):
                    break


SENDERS = {
    "send floor": _Chunks,
    "send floor, whole MiB per send": _Whole,
    "send floor, sendfile from a memfd": _Sendfile,
    "send floor, tee and splice": _TeeSplice,
    "send floor, MSG_ZEROCOPY": _ZeroCopy,
}
"""The send floor (``send floor``: Twisted's chunks) and other ways the kernel offers to
send one buffer to many sockets, each measured the same way."""


def send_round(writer: _Sender) -> None:
    """The writer's payload to each of its (non-blocking) connections, whole."""
    writer.start()
    size = len(writer.payload)
    offsets = {conn: 0 for conn in writer.conns}
    while offsets:
        _, writable, _ = select.select([], list(offsets), [])
        for conn in writable:
            offset = offsets[conn]
            try:
                offset += writer.offer(conn, offset)
            except BlockingIOError:
                continue
            if offset < size:
                offsets[conn] = offset
            else:
                del offsets[conn]
    writer.end()


def send_floor_us(sender: Any = _Chunks) -> Optional[float]:
    """CPU µs of the sending process per delivered MiB (see the module doc), writing with
    ``sender`` (one of :data:`SENDERS`); None where this system lacks its calls."""
    payload = b"x" * workloads.BIG
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(SUBSCRIBERS)
        child = subprocess.Popen([sys.executable, __file__, "--drain", str(server.getsockname()[1]),
                                  str(SUBSCRIBERS)])
        conns: List[socket.socket] = []
        try:
            conns = [server.accept()[0] for _ in range(SUBSCRIBERS)]
            for conn in conns:
                conn.setblocking(False)
            try:
                writer = sender(payload, conns)
            except (AttributeError, OSError):  # no memfd, tee, splice or SO_ZEROCOPY here
                return None
            try:
                before = resource.getrusage(resource.RUSAGE_SELF)
                for _ in range(FLOOR_ROUNDS):
                    send_round(writer)
                after = resource.getrusage(resource.RUSAGE_SELF)
            finally:
                writer.close()
        finally:
            for conn in conns:
                conn.close()
            child.wait(60)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu / (FLOOR_ROUNDS * SUBSCRIBERS) * 1e6


def run(args: argparse.Namespace) -> Dict[str, List[float]]:
    timing = {"warmup": args.warmup, "duration": args.duration, "deadline": args.warmup + args.duration + 120}
    ten = next(w for w in workloads.WORKLOADS if w.key == "event_1mib_10")
    one = workloads.fan_out("event_1mib_1", "1 MiB event, 1 subscriber", 1, 1, size=workloads.BIG, window=4,
                            every=1)
    samples: Dict[str, List[float]] = {}

    def add(key: str, value: Optional[float]) -> None:
        if value is not None:
            samples.setdefault(key, []).append(value)

    for repetition in range(args.repeat):
        print(f"Run {repetition + 1}/{args.repeat}", flush=True)
        with tempfile.TemporaryDirectory(prefix="wampnode-fanout-floor-") as tmp:
            routers = [targets.wampnode(Path(tmp))]
            if args.pypy:
                routers.append(targets.wampnode(Path(tmp), str(install.pypy_venv() / "bin" / "python"),
                                                name="wampnode-pypy"))
            routers.append(targets.crossbar(Path(tmp), install.crossbar_venv()))
            for router in routers:
                router.start()
                try:
                    c10 = workloads.run(ten, router, timing)["router_us_per_op"]
                    add(router.name, c10)
                    if router.name.startswith("wampnode"):
                        c1 = workloads.run(one, router, timing)["router_us_per_op"]
                        if c1 is not None and c10 is not None:
                            publication = (c1 - c10) * SUBSCRIBERS / (SUBSCRIBERS - 1)
                            add(f"{router.name}: per publication (us per 1 MiB published)", publication)
                            add(f"{router.name}: per delivery", c1 - publication)
                finally:
                    router.stop()
                if router.name in samples:
                    print(f"  {router.name}: {samples[router.name][-1]:.0f} us per delivered MiB", flush=True)
        for name, sender in SENDERS.items():
            value = send_floor_us(sender)
            add(name, value)
            print(f"  {name}: " + (f"{value:.0f} us per delivered MiB" if value is not None else "not here"),
                  flush=True)
    return samples


def _cell(values: List[float]) -> str:
    mid = statistics.median(values)
    text = f"{mid:,.0f}"
    if len(values) > 1 and mid:
        text += f" ±{(max(values) - min(values)) / 2 / mid * 100:.0f}%"
    return text


def table(samples: Dict[str, List[float]]) -> str:
    reference = statistics.median(samples["crossbar"]) if samples.get("crossbar") else None
    lines = [("figure (per delivered MiB)", "µs", "/crossbar")]
    for key, values in samples.items():
        per_delivered = "per publication" not in key  # the one figure in other units
        ratio = f"{statistics.median(values) / reference:.2f}x" if reference and per_delivered else "-"
        lines.append((key, _cell(values), ratio))
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    return "\n".join(f"{a.ljust(widths[0])}  {b.rjust(widths[1])}  {c.rjust(widths[2])}" for a, b, c in lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.drain:
        drain(int(args.drain[0]), int(args.drain[1]))
        return 0
    try:
        samples = run(args)
    except install.InstallError as e:
        print(f"fanout_floor: {e}", file=sys.stderr)
        return 2
    print()
    print(table(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
