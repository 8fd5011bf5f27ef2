"""The floors ``bench/floor.py`` derives for the sized call workloads (issue 17).

The benchmark itself is not run here (it takes minutes and a quiet machine); what is
checked is that a floor is the sum it says it is, and that the per-byte steps it adds
time the node's own unmasking and its check of a message that is left undecoded.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import fanout_floor  # noqa: E402
import floor  # noqa: E402
import per_byte  # noqa: E402


def test_a_sized_floor_is_the_empty_call_plus_the_relays_extra_plus_the_steps() -> None:
    samples = {
        "rpc_1 wampnode-pypy": [100.0, 120.0],
        "relay pypy-node": [50.0, 60.0],
        "relay_of_call_64kib_msgpack pypy-node": [80.0, 95.0],
        "step_of_call_64kib_msgpack pypy per-call": [15.0, 17.0],
        "call_64kib_msgpack crossbar": [600.0, 640.0],
    }
    reference = {"call_64kib_msgpack": 620.0}
    floors = floor.sized_floors(samples, reference)
    assert floors == [("floor_of_call_64kib_msgpack pypy", [145.0, 172.0], 620.0)]
    table = floor.table(samples)
    line = next(line for line in table.splitlines() if line.startswith("floor_of_call_64kib_msgpack pypy"))
    assert line.split()[2:] == ["158.5", "±9%", "0.26x"]  # the median of 145 and 172, over Crossbar.io's 620


def test_no_floor_without_every_part_of_it() -> None:
    samples = {"rpc_1 wampnode": [100.0], "relay cpython-node": [50.0],
               "call_64kib_cbor crossbar": [600.0]}  # no relay_of_ nor step_of_ figure
    assert floor.sized_floors(samples, {"call_64kib_cbor": 600.0}) == []


@pytest.mark.parametrize("codec", ["json", "msgpack", "cbor"])
def test_sized_steps_time_unmasking_and_the_check(codec: str) -> None:
    steps = per_byte.sized_steps(codec, 64 * 1024)
    assert set(steps) == {"unmask", "check", "per-call"}
    assert steps["unmask"] > 0 and steps["check"] > 0
    assert steps["per-call"] == pytest.approx(2 * (steps["unmask"] + steps["check"]))


def test_the_paced_relay_is_a_ratio_to_crossbars_call_at_one_outstanding() -> None:
    samples = {"rpc_1 crossbar": [400.0, 500.0], "relay_paced pypy-node": [60.0, 70.0]}
    line = next(line for line in floor.table(samples).splitlines() if line.startswith("relay_paced pypy-node"))
    assert line.split()[2:] == ["65.0", "±8%", "0.14x"]  # the median of 60 and 70, over Crossbar.io's 450


def test_the_paced_driver_waits_before_each_message() -> None:
    import time

    began = time.perf_counter()
    floor._wait(0.002)
    assert time.perf_counter() - began >= 0.002


@pytest.mark.parametrize("name", list(fanout_floor.SENDERS))
def test_each_send_floor_delivers_the_whole_payload_to_every_connection(name: str) -> None:
    """Each way ``bench/fanout_floor.py`` times of sending one buffer to many sockets
    (a plain ``send``, ``sendfile`` from a memfd, ``tee`` and ``splice``, ``MSG_ZEROCOPY``)
    delivers every octet, in order, to each connection, twice in a row (the second round
    reuses what the first set up): what the floor measures is a real fan-out."""
    import os
    import socket
    import threading

    payload = os.urandom(3 * 256 * 1024 + 5)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(3)
        clients = [socket.create_connection(server.getsockname()) for _ in range(3)]
        conns = [server.accept()[0] for _ in range(3)]
        received = [bytearray() for _ in clients]

        def read(client: socket.socket, into: bytearray) -> None:
            while len(into) < 2 * len(payload):
                data = client.recv(1 << 20)
                if not data:
                    return
                into += data

        readers = [threading.Thread(target=read, args=pair) for pair in zip(clients, received)]
        for reader in readers:
            reader.start()
        try:
            for conn in conns:
                conn.setblocking(False)
            writer = fanout_floor.SENDERS[name](payload, conns)
            try:
                fanout_floor.send_round(writer)
                fanout_floor.send_round(writer)
            finally:
                writer.close()
            for reader in readers:
                reader.join(30)
        finally:
            for sock in conns + clients:
                sock.close()
    assert [bytes(data) for data in received] == [payload * 2] * 3
