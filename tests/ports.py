"""Ports for the servers tests start, safe with several test processes at once.

Asking the kernel for port 0 and closing the socket hands out a port from the
ephemeral range; before the node binds it, the same port can go to another
worker's request or to any outgoing connection's local end (CI once failed on
"address already in use" that way, with two pytest-xdist workers). So ports come
from below that range, where the kernel never picks on its own, and each xdist
worker counts through its own slice of it; a port still bound by anything (a
listener, a lingering connection) is skipped.
"""
from __future__ import annotations

import os
import socket
from typing import Iterator, Tuple

LOWEST = 10000  # clear of the usual fixed ports (8080, 9000, ...) that examples and tools use
_EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"


def ephemeral_floor() -> int:
    """The lowest port the kernel gives out by itself (Linux's default is 32768)."""
    try:
        with open(_EPHEMERAL_RANGE) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def worker_slice(worker: str, workers: int, floor: int) -> Tuple[int, int]:
    """This worker's ports ``[start, stop)``: ``worker`` is xdist's ``gwN`` ("" outside xdist)."""
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    workers = max(workers, index + 1)
    size = (floor - LOWEST) // workers
    start = LOWEST + index * size
    return start, start + size


def this_workers_slice() -> Tuple[int, int]:
    """:func:`worker_slice` of this process, from what pytest-xdist sets in its workers' environment."""
    return worker_slice(os.environ.get("PYTEST_XDIST_WORKER", ""),
                        int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1), ephemeral_floor())


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _candidates() -> Iterator[int]:
    start, stop = this_workers_slice()
    if stop - start < 100:  # an odd ephemeral range leaves no room below it: the kernel's choice then
        while True:
            yield 0
    size = stop - start
    offset = (os.getpid() * 7919) % size  # two separate test runs at once start at different places
    while True:
        for step in range(size):
            yield start + (offset + step) % size


_next_candidate = _candidates()


def bindable(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now, without SO_REUSEADDR (so a port in TIME_WAIT is skipped too)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` nothing is bound to, and that no other worker of this run will be given."""
    for port in _next_candidate:
        if port == 0:
            with socket.socket(_family(host), socket.SOCK_STREAM) as s:
                s.bind((host, 0))
                return s.getsockname()[1]
        if bindable(host, port):
            return port
    raise AssertionError("unreachable: the candidates never end")
