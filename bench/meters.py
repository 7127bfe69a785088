"""What the benchmark watches while a transfer runs: CPU per process group, peak RSS, disk."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from bench.payload import MIB
from bench.stack import Stack

GIB = 1024 * MIB


@dataclass
class Watch:
    """Peak RSS of the gunicorn workers and disk bytes written by the app and nginx."""

    stack: Stack
    written_before: int = 0
    processes: list[psutil.Process] = field(default_factory=list)

    def __enter__(self) -> Watch:
        self.processes = [*self.stack.app_processes(), *self.stack.nginx_processes()]
        for worker in self.stack.app_processes():
            # Writing 5 resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0).
            Path(f"/proc/{worker.pid}/clear_refs").write_text("5")
        self.written_before = self._written()
        return self

    def __exit__(self, *exc: object) -> None:
        self.written = self._written() - self.written_before
        self.peak_rss = max(_vm_hwm(worker.pid) for worker in self.stack.app_processes())

    def _written(self) -> int:
        return sum(process.io_counters().write_bytes for process in self.processes)


@dataclass
class CpuMeter:
    """CPU seconds (user + system) that each part of the stack spends while the block runs.

    "client" is this process (the raw boto3 client or the browser-like one), "app" the
    gunicorn workers when an app runs, "s3" the SeaweedFS server.
    """

    stack: Stack
    used: dict[str, float] = field(default_factory=dict)
    _processes: dict[str, list[psutil.Process]] = field(default_factory=dict)
    _before: dict[str, float] = field(default_factory=dict)

    def __enter__(self) -> CpuMeter:
        assert self.stack.s3.pid is not None
        self._processes = {
            "client": [psutil.Process()],
            "nginx": self.stack.nginx_processes(),
            "app": self.stack.app_processes() if self.stack.gunicorn else [],
            "s3": [psutil.Process(self.stack.s3.pid)],
        }
        self._before = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        after = self._read()
        self.used = {part: after[part] - self._before[part] for part in after}

    def _read(self) -> dict[str, float]:
        return {
            part: sum(sum(process.cpu_times()[:2]) for process in processes)
            for part, processes in self._processes.items()
        }


def _vm_hwm(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def mbps(size: int, seconds: float) -> float:
    """Megabytes (10^6) per second of moving `size` bytes in `seconds`."""
    return size / seconds / 1e6


def run_line(label: str, size: int, run: int, runs: int, times: dict[str, list[float]],
             app_cpu: float) -> str:  # fmt: skip
    """The progress line of one run of an upload against raw boto3."""
    return (
        f"    {label} {size // MIB} MiB run {run + 1}/{runs}: raw "
        f"{mbps(size, times['raw'][-1]):.0f} MB/s, {label} "
        f"{mbps(size, times[label][-1]):.0f} MB/s, app {app_cpu:.3f} CPU s"
    )


def upload_summary(
    label: str,
    size: int,
    times: dict[str, list[float]],
    cpu: dict[str, list[dict[str, float]]],
    peaks: list[int],
) -> dict[str, Any]:
    """Medians of the runs of an upload path (`label`) against raw boto3 in the same run:
    MB/s, their ratio, CPU seconds per GiB for each process group, the workers' peak RSS."""
    raw_s, path_s = statistics.median(times["raw"]), statistics.median(times[label])
    return {
        "size_mib": size // MIB,
        "raw_upload_mbps": round(mbps(size, raw_s), 1),
        f"{label}_upload_mbps": round(mbps(size, path_s), 1),
        "ratio": round(raw_s / path_s, 2),
        "cpu_seconds_per_gib": {
            path: {
                part: round(statistics.median(run[part] for run in used) * GIB / size, 3)
                for part in used[0]
            }
            for path, used in cpu.items()
        },
        "worker_peak_rss_mib": round(max(peaks) / MIB, 1),
        "runs": len(times[label]),
    }
