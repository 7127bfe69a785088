"""Downloads in `make bench` against the fair ceiling of their path, and `DOWNLOAD_MODE=redirect`.

The app's download crosses TLS in nginx, the proxy hop and the app's own GET from S3; raw
boto3 crosses none of them (plain HTTP), so its ratio mixes the app's cost with nginx's. The
ceiling here is the same nginx with the shipped TLS and proxy settings proxying SeaweedFS
straight (`stack.BenchSite`): the app's download through nginx against it isolates the app.
`DOWNLOAD_MODE=redirect` answers 302 to a presigned URL; the client follows it to SeaweedFS
(plain HTTP on this stack). Each is timed alternating with the ceiling, in the same app run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from typing import Any

import requests

from bench.browser import Browser
from bench.meters import CpuMeter, mbps
from bench.payload import MIB
from bench.stack import NO_BACKUP, PRIMARY, Stack, running_app

GIB = 1024 * MIB


def ceiling_download(stack: Stack, session: requests.Session, url: str, size: int) -> float:
    """GET `url` (a presigned URL through the ceiling server) as `Browser.download` reads."""
    started = time.perf_counter()
    with session.get(url, stream=True, verify=str(stack.cert), timeout=900) as answer:
        received = sum(len(chunk) for chunk in answer.iter_content(MIB))
    elapsed = time.perf_counter() - started
    if answer.status_code != 200 or received != size:
        raise RuntimeError(f"ceiling download: {answer.status_code}, {received} of {size} bytes")
    return elapsed


def measure_downloads(stack: Stack, size: int, runs: int, seq: Iterator[int]) -> dict[str, Any]:
    """The app's download (stream, then redirect) of one `size` file against the ceiling."""
    raw = stack.raw_client()
    session = requests.Session()
    times: dict[str, list[float]] = {k: [] for k in ("ceiling", "app", "ceiling_r", "redirect")}
    cpu: dict[str, list[dict[str, float]]] = {"ceiling": [], "app": []}

    def timed(label: str, work: Any, *args: Any) -> None:
        with CpuMeter(stack) as meter:
            times[label].append(work(*args))
        if label in cpu:
            cpu[label].append(meter.used)

    with running_app(stack, NO_BACKUP):
        browser = Browser(stack, f"user{next(seq)}")
        name = f"g{next(seq)}.bin"
        browser.upload(name, size)
        file_id = stack.file_id(name)
        url = stack.ceiling_get_url(f"{browser.username}/{name}", raw)
        for run in range(runs):
            timed("ceiling", ceiling_download, stack, session, url, size)
            timed("app", browser.download, file_id, size)
            _say(size, f"stream {run + 1}/{runs}", times["ceiling"][-1], times["app"][-1])
    with running_app(stack, NO_BACKUP, DOWNLOAD_MODE="redirect"):
        browser = Browser(stack, browser.username, create=False)
        for run in range(runs):
            timed("ceiling_r", ceiling_download, stack, session, url, size)
            timed("redirect", browser.download, file_id, size)
            _say(size, f"redirect {run + 1}/{runs}", times["ceiling_r"][-1], times["redirect"][-1])
    raw.delete_object(Bucket=PRIMARY, Key=f"{browser.username}/{name}")
    median = {label: statistics.median(seconds) for label, seconds in times.items()}
    return {
        "size_mib": size // MIB,
        "ceiling_mbps": round(mbps(size, median["ceiling"]), 1),
        "app_through_nginx_mbps": round(mbps(size, median["app"]), 1),
        "ratio_to_ceiling": round(median["ceiling"] / median["app"], 2),
        "ceiling_mbps_redirect_run": round(mbps(size, median["ceiling_r"]), 1),
        "redirect_mbps": round(mbps(size, median["redirect"]), 1),
        "redirect_ratio_to_ceiling": round(median["ceiling_r"] / median["redirect"], 2),
        "cpu_seconds_per_gib": {
            label: {
                part: round(statistics.median(run[part] for run in used) * GIB / size, 2)
                for part in used[0]
            }
            for label, used in cpu.items()
        },
        "runs": runs,
    }


def _say(size: int, what: str, ceiling: float, app: float) -> None:
    print(
        f"    download {size // MIB} MiB {what}: ceiling {mbps(size, ceiling):.0f} MB/s, "
        f"app {mbps(size, app):.0f} MB/s",
        flush=True,
    )
