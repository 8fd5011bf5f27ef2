"""The test suite's own port picker (tests/ports.py): its ports never race another worker's or the kernel's."""
from __future__ import annotations

import socket

from ports import LOWEST, bindable, ephemeral_floor, free_port, this_workers_slice, worker_slice


def test_each_worker_counts_through_its_own_slice_below_the_kernels_range() -> None:
    slices = [worker_slice(f"gw{index}", 4, 32768) for index in range(4)]
    assert slices[0][0] == LOWEST and slices[-1][1] <= 32768
    for (_, stop), (start, _) in zip(slices, slices[1:]):
        assert stop <= start  # no port in two slices
    assert worker_slice("", 1, 32768) == (LOWEST, 32768)
    assert worker_slice("gw5", 2, 32768)[1] <= 32768  # a worker beyond the announced count still fits


def test_free_ports_are_distinct_unbound_and_in_this_workers_slice() -> None:
    start, stop = this_workers_slice()
    assert stop <= ephemeral_floor()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(start <= port < stop for port in ports)
    assert all(bindable("127.0.0.1", port) for port in ports)


def test_a_port_something_holds_is_skipped() -> None:
    port = free_port()
    holders = []
    try:
        for offset in range(1, 4):  # the next candidates in order, held by listeners
            holder = socket.socket()
            holder.bind(("127.0.0.1", port + offset))
            holder.listen(1)
            holders.append(holder)
        assert not bindable("127.0.0.1", port + 1)
        assert free_port() not in {port + 1, port + 2, port + 3}
    finally:
        for holder in holders:
            holder.close()
