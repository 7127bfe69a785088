"""`make bench`: upload and download speed, memory and disk of the app against raw boto3.

Starts its own SeaweedFS, the app under gunicorn (shipped config) and nginx (shipped site) on
loopback, then for each file size measures, as medians of several runs:

- raw boto3 upload and download MB/s against the same SeaweedFS (the ceiling);
- the app's upload MB/s through nginx as a browser sends it (multipart form over HTTPS),
  without the backup copy (the app's backup bucket name is one botocore refuses, so the copy
  fails at once) and with it (the time until the file shows as backed up), and the copy alone
  (raw CopyObject); raw and app runs alternate;
- the app's download MB/s through nginx, and straight from gunicorn's socket (no TLS, no
  proxy: the app's own speed);
- each gunicorn worker's peak RSS (VmHWM, reset before each upload) and the bytes the app's
  and nginx's processes wrote to disk during the upload (/proc/<pid>/io write_bytes);
- the CPU seconds per GiB that the client, nginx, the app and SeaweedFS spend on raw and app
  uploads and downloads: on a small machine they share the cores, which bounds the ratios;
- 8 concurrent uploads through the app versus 8 concurrent raw uploads, with and without the
  backup copy;
- direct uploads (bench/direct.py): a Python client through the API, parts PUT straight to
  SeaweedFS, against raw boto3 multipart with the same part size and concurrency;
- direct uploads driven by Chromium through the page (bench/chromium.py), against raw boto3
  multipart with the page's part size and parts in flight (skipped, saying why, without
  /usr/bin/chromium or Playwright);
- downloads against their fair ceiling, nginx proxying SeaweedFS with no app, in each
  `DOWNLOAD_MODE` (stream, redirect, accel; bench/downloads.py);
- listing latency (bench/listing.py) at 100,000 files on SQLite and PostgreSQL.

Prints one table and writes it as JSON to bench/results/. `--quick` runs smaller and fewer.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from boto3.s3.transfer import TransferConfig

from bench import chromium, listing
from bench.browser import Browser, download_direct
from bench.direct import measure_direct
from bench.downloads import measure_downloads
from bench.meters import CpuMeter, Watch, mbps
from bench.payload import MIB, GeneratedFile
from bench.stack import BACKUP, NO_BACKUP, PRIMARY, Stack, running_app, running_stack
from securestore.files.listing import ORDERS

GIB = 1024 * MIB
# What the CPU table covers: raw boto3 and the app (without the backup copy), each direction.
CPU_PATHS = ("raw_up", "app_up", "raw_down", "app_down")
RESULTS = Path(__file__).resolve().parent / "results"


def _file_id(stack: Stack, name: str) -> int:
    return stack.file_id(name)


def _median_mbps(size: int, seconds: list[float]) -> float:
    return round(mbps(size, statistics.median(seconds)), 1)


def measure_size(stack: Stack, size: int, runs: int, seq: Iterator[int]) -> dict[str, Any]:
    """Everything the table says about one file size.

    Raw and app transfers alternate, run after run, so a change in the machine's load during
    the benchmark touches both sides of a ratio alike.
    """
    raw = stack.raw_client()
    transfer = TransferConfig(multipart_chunksize=8 * MIB, max_concurrency=4)
    times: dict[str, list[float]] = {k: [] for k in ("raw_up", "raw_up_copied", "raw_down",
                                                     "copy", "app_up", "app_up_backup",
                                                     "app_down", "app_down_direct")}  # fmt: skip
    peaks, written = [], []
    cpu: dict[str, list[dict[str, float]]] = {k: [] for k in CPU_PATHS}

    def raw_upload(label: str) -> str:
        key = f"raw/{next(seq)}.bin"
        with CpuMeter(stack) as meter:
            times[label].append(
                _seconds(raw.upload_fileobj, GeneratedFile(size), PRIMARY, key, Config=transfer)
            )
        if label == "raw_up":
            cpu["raw_up"].append(meter.used)
        return key

    def app_upload(browser: Browser, label: str) -> str:
        name = f"f{next(seq)}.bin"
        with Watch(stack) as watch, CpuMeter(stack) as meter:
            times[label].append(browser.upload(name, size))
        peaks.append(watch.peak_rss)
        written.append(watch.written)
        if label == "app_up":
            cpu["app_up"].append(meter.used)
        return name

    def progress(step: str, run: int, pairs: list[tuple[str, str]]) -> None:
        rates = ", ".join(f"{label} {mbps(size, times[key][-1]):.0f} MB/s" for label, key in pairs)
        print(f"    stream {size // MIB} MiB {step} run {run + 1}/{runs}: {rates}", flush=True)

    with running_app(stack, NO_BACKUP):
        browser = Browser(stack, f"user{next(seq)}")
        for run in range(runs):
            _delete(raw, raw_upload("raw_up"))
            _delete(raw, f"{browser.username}/{app_upload(browser, 'app_up')}")
            progress("upload", run, [("raw", "raw_up"), ("app", "app_up")])
    with running_app(stack, BACKUP):
        browser = Browser(stack, f"user{next(seq)}")
        for run in range(runs):
            key = raw_upload("raw_up_copied")
            source = {"Bucket": PRIMARY, "Key": key}
            times["copy"].append(
                _seconds(raw.copy_object, Bucket=BACKUP, Key=key, CopySource=source)
            )
            with CpuMeter(stack) as meter:
                times["raw_down"].append(
                    _seconds(raw.download_fileobj, PRIMARY, key, _Discard(), Config=transfer)
                )
            cpu["raw_down"].append(meter.used)
            _delete(raw, key)
            name = app_upload(browser, "app_up_backup")
            file_id = _file_id(stack, name)
            with CpuMeter(stack) as meter:
                times["app_down"].append(browser.download(file_id, size))
            cpu["app_down"].append(meter.used)
            times["app_down_direct"].append(download_direct(stack, browser, file_id, size))
            _delete(raw, f"{browser.username}/{name}")
            downs = [("raw down", "raw_down"), ("app down", "app_down")]
            progress("with backup", run, [("up+backup", "app_up_backup"), *downs])
    return {
        "size_mib": size // MIB,
        "raw_upload_mbps": _median_mbps(size, times["raw_up"]),
        "app_upload_mbps": _median_mbps(size, times["app_up"]),
        "upload_ratio": round(statistics.median(times["raw_up"]) /
                              statistics.median(times["app_up"]), 2),
        "raw_upload_and_copy_mbps": round(mbps(size, statistics.median(
            [u + c for u, c in zip(times["raw_up_copied"], times["copy"], strict=True)])), 1),
        "app_upload_with_backup_mbps": _median_mbps(size, times["app_up_backup"]),
        "upload_with_backup_ratio": round(statistics.median(
            [u + c for u, c in zip(times["raw_up_copied"], times["copy"], strict=True)]) /
            statistics.median(times["app_up_backup"]), 2),
        "backup_copy_seconds": round(statistics.median(times["copy"]), 2),
        "raw_download_mbps": _median_mbps(size, times["raw_down"]),
        "app_download_mbps": _median_mbps(size, times["app_down"]),
        "download_ratio": round(statistics.median(times["raw_down"]) /
                                statistics.median(times["app_down"]), 2),
        "app_download_direct_mbps": _median_mbps(size, times["app_down_direct"]),
        "download_direct_ratio": round(statistics.median(times["raw_down"]) /
                                       statistics.median(times["app_down_direct"]), 2),
        "worker_peak_rss_mib": round(max(peaks) / MIB, 1),
        "disk_bytes_written_per_upload": max(written),
        "cpu_seconds_per_gib": {
            path: {part: round(statistics.median(run[part] for run in runs_) * GIB / size, 2)
                   for part in runs_[0]}
            for path, runs_ in cpu.items()
        },
        "runs": runs,
    }  # fmt: skip


def _seconds(work: Callable[..., object], *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    work(*args, **kwargs)
    return time.perf_counter() - started


class _Discard:
    def write(self, chunk: bytes) -> int:
        return len(chunk)


def _delete(raw: Any, key: str) -> None:
    """Free SeaweedFS's disk for the next run (the numbers do not depend on it)."""
    for bucket in (PRIMARY, BACKUP):
        raw.delete_object(Bucket=bucket, Key=key)


def measure_concurrency(
    stack: Stack, size: int, uploads: int, seq: Iterator[int]
) -> dict[str, Any]:
    """`uploads` files of `size` at once: raw boto3 versus the app through nginx.

    Both with and without the backup copy: the app copies each file once it is stored, so
    its "with backup" time is compared with raw uploads that each copy their object too.
    """
    raw = stack.raw_client()
    transfer = TransferConfig(multipart_chunksize=8 * MIB, max_concurrency=4)

    def raw_seconds(copy: bool) -> float:
        keys = [f"raw/{next(seq)}.bin" for _ in range(uploads)]

        def raw_upload(key: str) -> None:
            raw.upload_fileobj(GeneratedFile(size), PRIMARY, key, Config=transfer)
            if copy:
                source = {"Bucket": PRIMARY, "Key": key}
                raw.copy_object(Bucket=BACKUP, Key=key, CopySource=source)

        seconds = _all_at_once(raw_upload, keys)
        for key in keys:
            _delete(raw, key)
        return seconds

    def app_seconds(backup_bucket: str) -> tuple[float, Watch]:
        with running_app(stack, backup_bucket):
            browsers = [Browser(stack, f"user{next(seq)}") for _ in range(uploads)]
            names = [f"c{next(seq)}.bin" for _ in range(uploads)]
            with Watch(stack) as watch:
                seconds = _all_at_once(
                    lambda pair: pair[0].upload(pair[1], size),
                    list(zip(browsers, names, strict=True)),
                )
        for browser, name in zip(browsers, names, strict=True):
            _delete(raw, f"{browser.username}/{name}")
        return seconds, watch

    total = size * uploads
    raw_alone, raw_copied = raw_seconds(copy=False), raw_seconds(copy=True)
    (app_alone, _), (app_backed_up, watch) = app_seconds(NO_BACKUP), app_seconds(BACKUP)
    return {
        "uploads": uploads,
        "size_mib": size // MIB,
        "raw_aggregate_mbps": round(mbps(total, raw_alone), 1),
        "app_aggregate_mbps": round(mbps(total, app_alone), 1),
        "ratio": round(raw_alone / app_alone, 2),
        "raw_aggregate_mbps_with_copy": round(mbps(total, raw_copied), 1),
        "app_aggregate_mbps_with_backup": round(mbps(total, app_backed_up), 1),
        "ratio_with_backup": round(raw_copied / app_backed_up, 2),
        "worker_peak_rss_mib": round(watch.peak_rss / MIB, 1),
        "disk_bytes_written": watch.written,
    }


def _all_at_once(work: Callable[[Any], Any], items: list[Any]) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        list(pool.map(work, items))
    return time.perf_counter() - started


def machine() -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    return {
        "cpu": cpu,
        "cores": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": [round(x, 2) for x in psutil.getloadavg()],
    }


def print_table(results: dict[str, Any]) -> None:
    rows = [
        ("size", "raw up", "app up", "ratio", "raw up+copy", "app up+backup", "ratio", "copy s",
         "raw down", "app down", "ratio", "app direct", "ratio", "peak RSS MiB",
         "disk B/upload"),
    ]  # fmt: skip
    for r in results["sizes"]:
        rows.append((
            f"{r['size_mib']} MiB", r["raw_upload_mbps"], r["app_upload_mbps"], r["upload_ratio"],
            r["raw_upload_and_copy_mbps"], r["app_upload_with_backup_mbps"],
            r["upload_with_backup_ratio"], r["backup_copy_seconds"], r["raw_download_mbps"],
            r["app_download_mbps"], r["download_ratio"], r["app_download_direct_mbps"],
            r["download_direct_ratio"], r["worker_peak_rss_mib"],
            r["disk_bytes_written_per_upload"],
        ))  # fmt: skip
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    print(
        "MB/s, medians of",
        results["sizes"][0]["runs"],
        "runs ('app direct': download from gunicorn's socket, without nginx and TLS)",
    )
    for row in rows:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths, strict=True)))
    print("\nCPU seconds per GiB moved: client / nginx / app / SeaweedFS (the cores they share)")
    for r in results["sizes"]:
        parts = {path: r["cpu_seconds_per_gib"][path].values() for path in CPU_PATHS}
        line = "   ".join(
            f"{path} " + " / ".join(f"{seconds:.2f}" for seconds in used)
            for path, used in parts.items()
        )
        print(f"  {r['size_mib']:>5} MiB  {line}")
    print_direct(results)
    c = results["concurrency"]
    print(
        f"\n{c['uploads']} x {c['size_mib']} MiB at once: raw {c['raw_aggregate_mbps']} MB/s, "
        f"app {c['app_aggregate_mbps']} MB/s, ratio {c['ratio']}; with the backup copy: raw "
        f"{c['raw_aggregate_mbps_with_copy']} MB/s, app {c['app_aggregate_mbps_with_backup']} "
        f"MB/s, ratio {c['ratio_with_backup']}; worker peak RSS {c['worker_peak_rss_mib']} MiB, "
        f"disk {c['disk_bytes_written']} B"
    )
    print("\nlisting, ms p50/p95 (list_page: first page, a random later page; total; name filters)")
    for db_name, lat in results["listing"].items():
        if "skipped" in lat:
            print(f"  {db_name}: skipped, {lat['skipped']}")
            continue
        print(f"  {db_name} ({lat['files']} files of one user)")
        for order in ORDERS:
            first, later = lat[order]["first"], lat[order]["later"]
            print(f"    {order:10} first {first['p50']:6.1f} / {first['p95']:6.1f}"
                  f"   later {later['p50']:6.1f} / {later['p95']:6.1f}")  # fmt: skip
        count = lat["count"]
        print(f"    {'total':10} {count['p50']:6.1f} / {count['p95']:6.1f}")
        for kind in listing.FILTERS:
            cells = "   ".join(
                f"{part} {lat[f'filter_{kind}'][part]['p50']:6.1f} / "
                f"{lat[f'filter_{kind}'][part]['p95']:6.1f}"
                for part in ("newest", "name", "count")
            )
            print(f"    filter {kind:6} {cells}")


def print_direct(results: dict[str, Any]) -> None:
    """Direct uploads beside stream mode, and downloads against their ceiling."""
    stream = {r["size_mib"]: r for r in results["sizes"]}
    print("\nDirect uploads (Python client through the API, parts PUT to SeaweedFS) vs stream:")
    for d in results["direct"]:
        used = d["cpu_seconds_per_gib"]["direct"]
        s = stream.get(d["size_mib"])  # none for the 4 GiB direct run
        beside = (
            f" | stream: app {s['app_upload_mbps']} MB/s, ratio {s['upload_ratio']}, app CPU "
            f"{s['cpu_seconds_per_gib']['app_up']['app']:.2f} s/GiB, RSS "
            f"{s['worker_peak_rss_mib']} MiB"
            if s
            else ""
        )
        print(
            f"  {d['size_mib']:>5} MiB  raw {d['raw_upload_mbps']} MB/s, direct "
            f"{d['direct_upload_mbps']} MB/s, ratio {d['ratio']}; app CPU {used['app']:.3f} "
            f"s/GiB, worker peak RSS {d['worker_peak_rss_mib']} MiB, "
            f"{d['api_requests_per_upload']} API requests{beside}"
        )
    print_chromium(results, stream)
    print("\nDownloads against the ceiling (nginx, shipped TLS, proxying SeaweedFS; no app):")
    for d in results["downloads"]:
        cells = "; ".join(
            f"{mode} {m['app_mbps']} MB/s (ceiling {m['ceiling_mbps']}), ratio "
            f"{m['ratio_to_ceiling']}, app CPU {m['cpu_seconds_per_gib']['app']['app']:.2f} s/GiB"
            for mode, m in d["modes"].items()
        )
        print(f"  {d['size_mib']:>5} MiB  {cells}")


def print_chromium(results: dict[str, Any], stream: dict[int, dict[str, Any]]) -> None:
    """Direct uploads by Chromium through the page, beside the Python client's."""
    print("\nDirect uploads by Chromium through the page (the page's script, parts PUT to "
          "SeaweedFS):")  # fmt: skip
    if "skipped" in results["chromium"]:
        print(f"  skipped, {results['chromium']['skipped']}")
        return
    client = {d["size_mib"]: d for d in results["direct"]}
    for d in results["chromium"]:
        used = d["cpu_seconds_per_gib"]["chromium"]
        python = client.get(d["size_mib"])
        print(
            f"  {d['size_mib']:>5} MiB  raw {d['raw_upload_mbps']} MB/s, chromium "
            f"{d['chromium_upload_mbps']} MB/s, ratio {d['ratio']}; app CPU {used['app']:.3f} "
            f"s/GiB, browser CPU {used['browser']:.1f} s/GiB, worker peak RSS "
            f"{d['worker_peak_rss_mib']} MiB, {d['app_requests_per_upload']} app requests"
            + (f" | Python client: ratio {python['ratio']}" if python else "")
            + f" | stream: ratio {stream[d['size_mib']]['upload_ratio']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller files, one run each")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (median)")
    args = parser.parse_args()
    sizes = [16 * MIB, 64 * MIB] if args.quick else [16 * MIB, 256 * MIB, 1024 * MIB]
    runs = 1 if args.quick else args.runs
    concurrent = 32 * MIB if args.quick else 256 * MIB
    files = 10_000 if args.quick else 100_000
    seq = iter(range(10**9))
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "sizes": []}
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}{'-quick' if args.quick else ''}.json"
    with tempfile.TemporaryDirectory(prefix="securestore-bench-") as folder:
        with running_stack(Path(folder)) as stack:
            for size in sizes:
                print(f"stream mode, {size // MIB} MiB ...", flush=True)
                results["sizes"].append(measure_size(stack, size, runs, seq))
                out.write_text(json.dumps(results, indent=2))  # a cut-short run keeps its part
            skip_chromium = chromium.missing()
            for key, measure in (
                ("direct", measure_direct),
                ("chromium", chromium.measure_chromium),
                ("downloads", measure_downloads),
            ):
                results[key] = []
                if key == "chromium" and skip_chromium:
                    print(f"chromium: skipped, {skip_chromium}", flush=True)
                    results[key] = {"skipped": skip_chromium}
                    continue
                for size in (s for s in sizes if s >= 64 * MIB):
                    print(f"{key}, {size // MIB} MiB ...", flush=True)
                    results[key].append(measure(stack, size, runs, seq))
                    out.write_text(json.dumps(results, indent=2))
            print(f"8 concurrent uploads of {concurrent // MIB} MiB ...", flush=True)
            results["concurrency"] = measure_concurrency(stack, concurrent, 8, seq)
            out.write_text(json.dumps(results, indent=2))
            if not args.quick:
                # A direct upload costs the app about the same CPU whatever its size (a few
                # requests): 4 GiB shows what that comes to per GiB of a large file. Last,
                # because its runs write some 30 GiB into this SeaweedFS, which does not
                # reclaim deleted objects' room meanwhile (the 8 uploads with their backup
                # copies once answered 502, S3 failing them, right after it).
                print(f"direct, {4096} MiB ...", flush=True)
                results["direct"].append(measure_direct(stack, 4096 * MIB, runs, seq))
                out.write_text(json.dumps(results, indent=2))
    print(f"listing at {files} files ...", flush=True)
    results["listing"] = listing.measure(files)
    results["seconds"] = round(time.perf_counter() - started)
    out.write_text(json.dumps(results, indent=2))
    print_table(results)
    print(f"\n{results['seconds']} s; JSON in {out}")


if __name__ == "__main__":
    main()
