"""The run's report: per endpoint, per chaos window, memory, ledger and audit, and a verdict.

Latency percentiles are over the requests that succeeded (a failed request's time says how
fast it failed, not how fast the store is). A failure is "explained" when the request
overlaps a chaos window (the fault plus `chaos.GRACE`); a server failure (no answer, a 5xx,
or a body that broke off) outside every window is unexplained and fails the run, as do the
audit's findings. The issue's targets are reported as met or missed; they do not fail it.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

from bench.load.audit import AuditResult
from bench.load.chaos import Window
from bench.load.ledger import ACKED, Ledger
from bench.load.metrics import Sample

MIB = 1024 * 1024
LISTING = "GET /files/?"
UPLOAD_1MIB = "POST /files/upload [1 MiB]"
TARGETS = {
    "error rate outside chaos windows < 0.1%": ("outside_error_rate_pct", 0.1),
    "p95 of the file list < 200 ms": ("listing_p95_ms", 200.0),
    "p95 of a 1 MiB upload < 1 s": ("upload_1mib_p95_ms", 1000.0),
}


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1]


def _ms(samples: list[Sample], q: float) -> float | None:
    value = percentile([(s.end - s.start) * 1000 for s in samples if s.ok], q)
    return round(value, 1) if value is not None else None


def endpoints(samples: list[Sample]) -> list[dict[str, Any]]:
    groups: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[sample.name].append(sample)
    rows = []
    for name in sorted(groups):
        group = groups[name]
        rates = [s.size / MIB / (s.end - s.start) for s in group if s.ok and s.size > 64 * 1024]
        rows.append(
            {
                "endpoint": name,
                "requests": len(group),
                "failures": sum(not s.ok for s in group),
                "p50_ms": _ms(group, 50),
                "p95_ms": _ms(group, 95),
                "p99_ms": _ms(group, 99),
                "median_MiB_s": round(statistics.median(rates), 1) if rates else None,
            }
        )
    return rows


def windows_table(
    samples: list[Sample], windows: list[Window], origin: float
) -> list[dict[str, Any]]:
    rows = []
    for window in sorted(windows, key=lambda w: w.start):
        inside = [s for s in samples if window.overlaps(s.start, s.end)]
        affected = [
            s for s in samples
            if s.ok and s.start >= window.end and _affected(s.name, window.affects)
        ]  # fmt: skip
        first = min((s.end for s in affected), default=None)
        failures = [s for s in inside if not s.ok]
        rows.append(
            {
                "fault": window.kind,
                "at_s": round(window.start - origin, 1),
                "lasted_s": round(window.end - window.start, 1),
                "detail": window.detail,
                "requests": len(inside),
                "failures": len(failures),
                "recovery_s": round(first - window.end, 2) if first is not None else None,
                "last_failure_s": (
                    round(max(s.end for s in failures) - window.end, 2) if failures else None
                ),
            }
        )
    return rows


def _affected(name: str, affects: tuple[str, ...] | None) -> bool:
    return affects is None or any(fragment in name for fragment in affects)


def outside(samples: list[Sample], windows: list[Window], origin: float) -> dict[str, Any]:
    clear = [s for s in samples if not any(w.overlaps(s.start, s.end) for w in windows)]
    failures = [s for s in clear if not s.ok]
    unexplained = [s for s in failures if s.server_failure]
    return {
        "requests": len(clear),
        "failures": len(failures),
        "error_rate_pct": round(100 * len(failures) / len(clear), 3) if clear else 0.0,
        "unexplained_server_failures": len(unexplained),
        "examples": [
            f"{s.start - origin:.1f} s {s.name} -> {s.status or 'no answer'}"
            for s in (unexplained or failures)[:20]
        ],
    }


def throughput(samples: list[Sample], ledger: Ledger, seconds: float) -> dict[str, Any]:
    acked = [u for u in ledger.uploads if u.outcome == ACKED and u.ended > u.started]
    big = [u.size / MIB / (u.ended - u.started) for u in acked if u.size >= MIB]
    downloaded = sum(
        s.size
        for s in samples
        if s.ok and not s.attack and ("download" in s.name or "content" in s.name)
    )
    return {
        "uploaded_MiB": round(sum(u.size for u in acked) / MIB, 1),
        "upload_MiB_s_over_run": round(sum(u.size for u in acked) / MIB / seconds, 2),
        "median_upload_MiB_s_1MiB_and_up": round(statistics.median(big), 1) if big else None,
        "downloaded_MiB": round(downloaded / MIB, 1),
        "download_MiB_s_over_run": round(downloaded / MIB / seconds, 2),
    }


def memory(rows: list[tuple[float, str, int, int]]) -> dict[str, Any]:
    """Peak RSS per worker, and each long-lived worker's RSS slope (MiB per minute)."""
    series: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    for when, instance, pid, rss in rows:
        series[(instance, pid)].append((when, rss / MIB))
    workers = []
    for (instance, pid), points in sorted(series.items()):
        lived = points[-1][0] - points[0][0]
        late = [p for p in points if p[0] >= points[0][0] + lived / 2]
        workers.append(
            {
                "instance": instance,
                "pid": pid,
                "peak_MiB": round(max(m for _, m in points), 1),
                "lived_s": round(lived),
                "slope_MiB_per_min": _slope(points) if lived >= 60 else None,
                # Warm-up (arenas, caches) flattens out; a leak keeps its slope here too.
                "second_half_slope_MiB_per_min": _slope(late) if lived >= 120 else None,
            }
        )
    slopes = [w["slope_MiB_per_min"] for w in workers if w["slope_MiB_per_min"] is not None]
    late = [w["second_half_slope_MiB_per_min"] for w in workers]
    late = [slope for slope in late if slope is not None]
    return {
        "workers": workers,
        "peak_MiB": max((w["peak_MiB"] for w in workers), default=None),
        "median_slope_MiB_per_min": round(statistics.median(slopes), 3) if slopes else None,
        "max_slope_MiB_per_min": max(slopes, default=None),
        "median_second_half_slope_MiB_per_min": (
            round(statistics.median(late), 3) if late else None
        ),
        "samples": [[round(t, 1), i, pid, rss] for t, i, pid, rss in rows],
    }


def _slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares MiB per minute (None with too few points to say)."""
    if len(points) < 10:
        return None
    fit = statistics.linear_regression([t for t, _ in points], [m for _, m in points])
    return round(fit.slope * 60, 3)


def build(
    samples: list[Sample],
    windows: list[Window],
    ledger: Ledger,
    result: AuditResult,
    memory_rows: list[tuple[float, str, int, int]],
    meta: dict[str, Any],
) -> dict[str, Any]:
    rows = endpoints(samples)
    clear = outside(samples, windows, meta["origin"])
    listing = [s for s in samples if s.name.startswith(LISTING)]
    figures = {
        "outside_error_rate_pct": clear["error_rate_pct"],
        "listing_p95_ms": _ms(listing, 95),
        "upload_1mib_p95_ms": _ms([s for s in samples if s.name == UPLOAD_1MIB], 95),
    }
    reasons = [f"audit: {problem}" for problem in result.problems]
    if not result.counts["acknowledged uploads"]:
        reasons.append("no upload was acknowledged: the run tested nothing")
    if clear["unexplained_server_failures"]:
        reasons.append(
            f"{clear['unexplained_server_failures']} server failures outside every chaos window"
        )
    return {
        "meta": meta,
        "passed": not reasons,
        "reasons": reasons,
        "figures": figures,
        "targets": {
            name: {
                "value": figures[key],
                "limit": limit,
                "met": figures[key] is not None and figures[key] < limit,
            }
            for name, (key, limit) in TARGETS.items()
        },  # fmt: skip
        "endpoints": rows,
        "outside_windows": clear,
        "windows": windows_table(samples, windows, meta["origin"]),
        "throughput": throughput(samples, ledger, meta["seconds"]),
        "memory": memory(memory_rows),
        "ledger": ledger.counts(),
        "audit": result.to_json(),
    }


def print_report(report: dict[str, Any]) -> None:
    """The report as plain tables on stdout."""
    print(f"\n{'endpoint':44} {'requests':>8} {'failed':>6} {'p50 ms':>8} {'p95 ms':>8}"
          f" {'p99 ms':>8} {'MiB/s':>6}")  # fmt: skip
    for row in report["endpoints"]:
        cells = [row[k] for k in ("p50_ms", "p95_ms", "p99_ms", "median_MiB_s")]
        shown = ["-" if v is None else f"{v:g}" for v in cells]
        print(f"{row['endpoint']:44} {row['requests']:8} {row['failures']:6} {shown[0]:>8}"
              f" {shown[1]:>8} {shown[2]:>8} {shown[3]:>6}")  # fmt: skip
    if report["windows"]:
        print(f"\n{'chaos window':36} {'at s':>6} {'lasted':>6} {'reqs':>5} {'failed':>6}"
              f" {'recovery s':>10}  detail")  # fmt: skip
        for row in report["windows"]:
            recovery = "-" if row["recovery_s"] is None else f"{row['recovery_s']:.2f}"
            print(
                f"{row['fault']:36} {row['at_s']:6.1f} {row['lasted_s']:6.1f}"
                f" {row['requests']:5} {row['failures']:6} {recovery:>10}  {row['detail']}"
            )
    clear = report["outside_windows"]
    print(f"\noutside chaos windows: {clear['requests']} requests, {clear['failures']} failed"
          f" ({clear['error_rate_pct']}%), {clear['unexplained_server_failures']} unexplained"
          " server failures")  # fmt: skip
    for example in clear["examples"][:10]:
        print(f"  {example}")
    print("throughput:", ", ".join(f"{k} {v}" for k, v in report["throughput"].items()))
    mem = report["memory"]
    print(
        f"worker RSS: peak {mem['peak_MiB']} MiB, slope median"
        f" {mem['median_slope_MiB_per_min']} max {mem['max_slope_MiB_per_min']} MiB/min"
        f" (second half of each life: {mem['median_second_half_slope_MiB_per_min']})"
        f" over {len(mem['workers'])} workers"
    )
    cpu = report["cpu"]
    print(
        f"CPU over {cpu['seconds']} s on {cpu['cpus']} cores (cores used): "
        + ", ".join(f"{name} {cores}" for name, cores in cpu["cores"].items())
    )
    print("ledger:", ", ".join(f"{k} {v}" for k, v in report["ledger"].items()))
    audit = report["audit"]
    print("audit:", ", ".join(f"{k} {v}" for k, v in audit["counts"].items()))
    for note in audit["notes"][:10]:
        print(f"  note: {note}")
    for problem in audit["problems"][:30]:
        print(f"  PROBLEM: {problem}")
    for name, target in report["targets"].items():
        print(f"target {name}: {target['value']} -> {'met' if target['met'] else 'MISSED'}")
    verdict = "PASSED" if report["passed"] else "FAILED: " + "; ".join(report["reasons"][:5])
    print(f"\nload test {verdict}")
