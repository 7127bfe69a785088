"""The run as a picture: requests/s, p95 latency and errors over time, chaos windows shaded."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: write a file
import matplotlib.pyplot as plt  # noqa: E402 -- after choosing the backend

from bench.load.chaos import Window  # noqa: E402
from bench.load.metrics import Sample  # noqa: E402
from bench.load.report import percentile  # noqa: E402

BUCKET = 5  # seconds per point of the p95 line
COLOURS = {
    "gunicorn worker SIGKILL": "tab:red",
    "SeaweedFS stopped": "tab:orange",
    "PostgreSQL connections terminated": "tab:purple",
    "Redis restarted": "tab:green",
    "app instance b stopped and started": "tab:blue",
}


def plot(
    samples: list[Sample], windows: list[Window], origin: float, path: Path, title: str
) -> None:
    """Draw the run in seconds since `origin` (when the load started) and save it as a PNG."""
    per_second: dict[int, int] = defaultdict(int)
    errors: dict[int, int] = defaultdict(int)
    latencies: dict[int, list[float]] = defaultdict(list)
    for sample in samples:
        second = int(sample.end - origin)
        per_second[second] += 1
        if not sample.ok:
            errors[second] += 1
        elif not sample.attack:
            latencies[second // BUCKET].append((sample.end - sample.start) * 1000)
    seconds = range(max(per_second, default=0) + 1)
    figure, (rate, p95, failed) = plt.subplots(3, 1, figsize=(10, 6.5), sharex=True, dpi=80)
    rate.plot(seconds, [per_second[s] for s in seconds], linewidth=0.8)
    rate.set_ylabel("requests/s")
    buckets = sorted(latencies)
    p95.plot([b * BUCKET + BUCKET / 2 for b in buckets],
             [percentile(latencies[b], 95) for b in buckets], linewidth=0.9)  # fmt: skip
    p95.set_yscale("log")
    p95.set_ylabel(f"p95 ms ({BUCKET} s)")
    failed.bar(
        list(seconds), [errors[s] for s in seconds], width=1.0, align="edge", color="tab:red"
    )
    failed.set_ylabel("errors/s")
    failed.set_xlabel("seconds since the load started")
    shown: set[str] = set()
    for window in windows:
        colour = COLOURS.get(window.kind, "grey")
        label = None if window.kind in shown else window.kind
        for axis in (rate, p95, failed):
            axis.axvspan(
                window.start - origin, window.until - origin, color=colour, alpha=0.18,
                label=label if axis is rate else None,
            )  # fmt: skip
        shown.add(window.kind)
    if windows:
        rate.legend(loc="upper center", bbox_to_anchor=(0.5, 1.45), ncol=3, fontsize=8)
    rate.set_title(title, fontsize=9, pad=48 if windows else 6)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
