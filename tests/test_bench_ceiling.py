"""The clients' ceiling ``bench/run.py`` reports for a call workload with one call in flight.

With one call in flight the caller, the router and the callee take turns, so the rate
cannot pass the message size over the clients' own CPU per call, whatever the router
spends: issue 17's throughput target is judged against that ceiling. The benchmark is
not run here; what is checked is which workloads get the figure and that it is that ratio.
"""
from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import report  # noqa: E402
import workloads  # noqa: E402

BY_KEY = {w.key: w for w in workloads.WORKLOADS}


def test_only_calls_with_one_in_flight_take_turns() -> None:
    assert BY_KEY["call_1mib"].one_at_a_time and BY_KEY["call_64kib_msgpack"].one_at_a_time
    assert BY_KEY["rpc_1"].one_at_a_time
    assert not BY_KEY["call_1mib_lean"].one_at_a_time  # 4 in flight: the clients overlap
    assert not BY_KEY["rpc_16"].one_at_a_time and not BY_KEY["event_1mib_10"].one_at_a_time


def test_the_ceiling_is_the_bytes_over_the_clients_cpu() -> None:
    measured = workloads.Measurement(
        figures={"operations": 100, "bytes": 200 * workloads.BIG, "seconds": 10.0}, wall_s=10.5,
        router_cpu_s=1.0, client_cpu_s={"0:callee": 6.3, "1:caller": 4.2})
    result = measured.as_dict(BY_KEY["call_1mib"])
    assert result["rate"] == 20.0
    # 210 MiB moved in the driver's 10.5 s window (the client's 10 s scaled), for 10.5 s of client CPU
    assert abs(result["client_ceiling"] - 20.0) < 1e-9
    assert "client_ceiling" not in measured.as_dict(BY_KEY["call_1mib_lean"])
    assert "client_ceiling" not in measured.as_dict(BY_KEY["rpc_1"])  # calls per second, no MiB/s


def test_the_table_has_the_ceiling_row_for_those_workloads_only() -> None:
    samples = {"wampnode": {}}
    for key in ("call_1mib", "call_1mib_lean"):
        result = workloads.Measurement(
            figures={"operations": 10, "bytes": 10 * workloads.BIG, "seconds": 1.0}, wall_s=1.0,
            router_cpu_s=0.1, client_cpu_s={"0:caller": 0.5}).as_dict(BY_KEY[key])
        report.add_workload(samples["wampnode"], BY_KEY[key], result)
    ceilings = [line for line in report.table(["wampnode"], None, samples).splitlines() if "ceiling" in line]
    assert len(ceilings) == 1 and ceilings[0].split()[-1] == "20.0", ceilings
