"""The results table: each figure for every router, the ratio to the reference,
medians over repeated runs with their spread (min-max)."""
from __future__ import annotations

import statistics
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from workloads import WORKLOADS, Workload

Samples = Dict[str, Dict[str, List[Any]]]  # target -> figure key -> one value per run


def median(values: Sequence[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def spread(values: Sequence[Optional[float]]) -> Optional[Tuple[float, float]]:
    present = [v for v in values if v is not None]
    return (min(present), max(present)) if len(present) > 1 else None


def _number(value: Optional[float], digits: int) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def rows(targets: Sequence[str], samples: Samples) -> List[Tuple[str, str]]:
    """(figure key, label) of every row, in table order."""
    out: List[Tuple[str, str]] = []
    for w in WORKLOADS:
        if not any(f"{w.key}.rate" in samples[t] for t in targets):
            continue
        out.append((f"{w.key}.rate", f"{w.label} ({w.unit})"))
        if w.key.startswith("rpc"):
            out.append((f"{w.key}.p50_ms", "  latency p50 (ms)"))
            out.append((f"{w.key}.p99_ms", "  latency p99 (ms)"))
        out.append((f"{w.key}.router_us_per_op", f"  router CPU per {w.per} (us)"))
        out.append((f"{w.key}.router_system_us_per_op", "    of which in the kernel (us)"))
        out.append((f"{w.key}.router_faults_per_op", f"  router page faults per {w.per}"))
        out.append((f"{w.key}.shares", "  CPU share router / clients"))
        if any(f"{w.key}.client_ceiling" in samples[t] for t in targets):  # workloads.Measurement decides
            out.append((f"{w.key}.client_ceiling", "  clients' ceiling: the rate if the router cost nothing (MiB/s)"))
        if w.memory:
            out.append((f"{w.key}.rss_growth_mib", "  router RSS growth, peak (MiB)"))
            out.append((f"{w.key}.rss_growth_x", "  router RSS growth / message size (x)"))
        else:
            out.append((f"{w.key}.rss_change_mib", "  router RSS change while measured (MiB)"))
    out.append(("idle.kib_per_session", "RSS per idle session at 1,000 (KiB)"))
    out.append(("startup_s", "Start-up to listening (s)"))
    out.append(("idle_rss_mib", "Idle RSS after start (MiB)"))
    return out


def _digits(key: str) -> int:
    return 2 if key.endswith(("_ms", "_s")) else 1


def _cell(key: str, values: List[Any]) -> str:
    if key.endswith(".shares"):
        return _shares_cell(values)
    mid = median(values)
    text = _number(mid, _digits(key))
    rng = spread(values)
    if rng is not None and mid:
        text += f" ±{(rng[1] - rng[0]) / 2 / mid * 100:.0f}%"
    return text


def _shares_cell(values: List[Any]) -> str:
    if not values:
        return "-"
    router = median([v["router"] for v in values])
    clients = median([v["clients"] for v in values])
    bound = sum(1 for v in values if v["client_bound"])
    text = f"{router * 100:.0f}% / {clients * 100:.0f}%"
    if bound:
        text += " client-bound" + (f" {bound}/{len(values)}" if bound != len(values) else "")
    return text


def _ratio(key: str, values: List[Any], reference: List[Any]) -> str:
    if key.endswith(".shares"):
        return ""
    mine, theirs = median(values), median(reference)
    if mine is None or not theirs:
        return "-"
    return f"{mine / theirs:.2f}x"


def table(targets: Sequence[str], reference: Optional[str], samples: Samples) -> str:
    """Plain-text table; with a reference, one ratio column per other target."""
    others = [t for t in targets if t != reference] if reference else []
    header = ["figure"] + list(targets) + [f"{t}/{reference}" for t in others]
    lines: List[List[str]] = [header]
    for key, label in rows(targets, samples):
        cells = [label] + [_cell(key, samples[t].get(key, [])) for t in targets]
        cells += [_ratio(key, samples[t].get(key, []), samples[reference].get(key, [])) for t in others]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    fmt: Callable[[List[str]], str] = lambda line: "  ".join(
        cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line))
    out = [fmt(lines[0]), "  ".join("-" * w for w in widths)] + [fmt(line) for line in lines[1:]]
    return "\n".join(out)


def add_workload(samples: Dict[str, List[Any]], workload: Workload, result: Dict[str, Any]) -> None:
    for name in ("rate", "router_us_per_op", "router_system_us_per_op", "router_faults_per_op", "rss_change_mib",
                 "p50_ms", "p99_ms", "rss_growth_mib", "rss_growth_x", "client_ceiling"):
        if result.get(name) is not None:
            samples.setdefault(f"{workload.key}.{name}", []).append(result[name])
    samples.setdefault(f"{workload.key}.shares", []).append(
        {"router": result["router_share"], "clients": result["client_share"], "client_bound": result["client_bound"]})


def summary(samples: Samples) -> Dict[str, Dict[str, Any]]:
    """Medians and ranges for the JSON output."""
    out: Dict[str, Dict[str, Any]] = {}
    for target, figures in samples.items():
        out[target] = {}
        for key, values in figures.items():
            if key.endswith(".shares"):
                continue
            rng = spread(values)
            out[target][key] = {"median": median(values), "min": rng[0] if rng else median(values),
                                "max": rng[1] if rng else median(values), "runs": len(values)}
    return out
