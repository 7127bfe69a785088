"""Downloads in `make bench` against the fair ceiling of their path, in each `DOWNLOAD_MODE`.

The app's download crosses TLS in nginx, the proxy hop and the app's own GET from S3; raw
boto3 crosses none of them (plain HTTP), so its ratio mixes the app's cost with nginx's. The
ceiling here is the same nginx with the shipped TLS and proxy settings proxying SeaweedFS
straight (`stack.BenchSite`): the app's download through nginx against it isolates the app.
`stream` sends the bytes through the app; `accel` has nginx fetch them from SeaweedFS with a
presigned URL once the app has answered (the shipped site's /_securestore/s3); `redirect`
answers 302 to a presigned URL, which the client follows to SeaweedFS (plain HTTP on this
stack). Each mode runs its own app, and each download alternates with one through the ceiling.
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
from securestore.config.table import DOWNLOAD_MODES

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
    """The app's download of one `size` file in each mode against the ceiling, by mode."""
    raw = stack.raw_client()
    session = requests.Session()
    username, name = f"user{next(seq)}", f"g{next(seq)}.bin"
    by_mode: dict[str, Any] = {}
    for mode in DOWNLOAD_MODES:
        times: dict[str, list[float]] = {"ceiling": [], "app": []}
        cpu: dict[str, list[dict[str, float]]] = {"ceiling": [], "app": []}
        with running_app(stack, NO_BACKUP, DOWNLOAD_MODE=mode):
            browser = Browser(stack, username, create=not by_mode)
            if not by_mode:
                browser.upload(name, size)
            file_id = stack.file_id(name)
            url = stack.ceiling_get_url(f"{username}/{name}", raw)
            for run in range(runs):
                for label, work, args in (
                    ("ceiling", ceiling_download, (stack, session, url, size)),
                    ("app", browser.download, (file_id, size)),
                ):
                    with CpuMeter(stack) as meter:
                        times[label].append(work(*args))
                    cpu[label].append(meter.used)
                _say(size, f"{mode} {run + 1}/{runs}", times["ceiling"][-1], times["app"][-1])
        median = {label: statistics.median(seconds) for label, seconds in times.items()}
        by_mode[mode] = {
            "ceiling_mbps": round(mbps(size, median["ceiling"]), 1),
            "app_mbps": round(mbps(size, median["app"]), 1),
            "ratio_to_ceiling": round(median["ceiling"] / median["app"], 2),
            "cpu_seconds_per_gib": {
                label: {
                    part: round(statistics.median(run[part] for run in used) * GIB / size, 2)
                    for part in used[0]
                }
                for label, used in cpu.items()
            },
        }
    raw.delete_object(Bucket=PRIMARY, Key=f"{username}/{name}")
    return {"size_mib": size // MIB, "modes": by_mode, "runs": runs}


def _say(size: int, what: str, ceiling: float, app: float) -> None:
    print(
        f"    download {size // MIB} MiB {what}: ceiling {mbps(size, ceiling):.0f} MB/s, "
        f"app {mbps(size, app):.0f} MB/s",
        flush=True,
    )
