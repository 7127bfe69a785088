"""Direct uploads in `make bench`: a Python client drives the API as the page's script does.

For each size the client starts an upload through nginx (`POST /api/v1/uploads`, a personal
access token), hashes each part (SHA-256, base64: what the page computes with hash-wasm), asks
for the part URLs in batches with their checksums, PUTs the parts straight to SeaweedFS a few
at once, and completes. Raw boto3 multipart uploads of the same size, part size and concurrency
alternate with it. Meanwhile the CPU of every process group and the gunicorn workers' peak RSS
are watched: in direct mode the app should only sign and record, whatever the file's size.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import requests
import urllib3

from bench.browser import Browser
from bench.meters import CpuMeter, Watch, mbps, raw_multipart_run, run_line, upload_summary
from bench.payload import MIB, GeneratedFile
from bench.stack import NO_BACKUP, PRIMARY, Stack, local_app, running_app
from securestore.auth import service as accounts
from securestore.tokens import service as tokens

# Parts in flight at once, for the client and for raw boto3 alike.
CONCURRENCY = 4
# Part URLs are asked for as the page asks for them (static/js/url-batches.js): the first batch is
# what the PUTs start on, each next one up to BATCH_GROWTH times the one before, at most
# BATCH_MAX parts and what the upload sends in BATCH_SECONDS at its speed so far, the next
# asked for once the PUTs are into the last.
FIRST_BATCH = CONCURRENCY
BATCH_GROWTH = 3
BATCH_MAX = 64
BATCH_SECONDS = 300


def issue_token(stack: Stack, username: str) -> str:
    """A read-write token for `username`, made as `flask tokens create` makes one."""
    with local_app(stack).app_context():
        user = accounts.find_user(username)
        if user is None:
            raise RuntimeError(f"no user {username}")
        issued = tokens.create_token(
            user, "bench", scopes=tokens.SCOPES, expires_in_days=1, address=None
        )
    return issued.secret


def sha256_b64(data: bytes) -> str:
    """The part checksum S3 expects in `x-amz-checksum-sha256`."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def part_lengths(size: int, part_size: int) -> list[int]:
    """Each part's length: `part_size`, the last one what is left (at least 1 byte)."""
    whole, rest = divmod(size, part_size)
    return [part_size] * whole + ([rest] if rest else [])


def _at_most(counter: list[int], limit: int) -> bool:
    return counter[0] <= limit


def _part(length: int) -> bytes:
    """A part's bytes, the same as raw boto3 reads for a part of a `GeneratedFile`."""
    return GeneratedFile(length).read(length)


class ApiClient:
    """A script holding a token, talking HTTPS to nginx; it counts its requests."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.base = stack.base_url + "/api/v1"
        self.session = requests.Session()
        self.session.verify = str(stack.cert)
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.requests = 0

    def call(self, method: str, path: str, expected: int, **kwargs: Any) -> Any:
        self.requests += 1
        # verify= on each call: a CA bundle in the environment would override the session's.
        answer = self.session.request(
            method, self.base + path, timeout=300, verify=self.session.verify, **kwargs
        )
        if answer.status_code != expected:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json() if answer.content else None


def direct_upload(
    api: ApiClient, parts: urllib3.PoolManager, name: str, size: int
) -> tuple[float, int]:
    """Upload `size` bytes as `name` the direct way; return the seconds from start to file
    and the part size the app chose."""
    started = time.perf_counter()
    upload = api.call("POST", "/uploads", 201, json={"name": name, "size": size})
    lengths = part_lengths(size, upload["part_size"])
    progress = threading.Condition()
    waiting = [0]  # part URLs signed that no PUT has started on, under `progress`
    sent = [0]  # bytes S3 took so far, under `progress`

    def batch_size(last: int) -> int:
        with progress:
            per_second = sent[0] / max(time.perf_counter() - started, 1e-3)
        fit = int(per_second * BATCH_SECONDS / upload["part_size"]) if sent[0] else BATCH_MAX
        return max(FIRST_BATCH, min(BATCH_MAX, BATCH_GROWTH * last, fit))

    def signed() -> Iterator[tuple[str, int, str]]:
        first, size, last = 1, 0, 0  # the first batch: FIRST_BATCH
        while first <= len(lengths):
            with progress:  # once the PUTs are into the last batch
                progress.wait_for(partial(_at_most, waiting, last))
            size = batch_size(size)
            numbers = range(first, min(first + size, len(lengths) + 1))
            checksums = {str(n): sha256_b64(_part(lengths[n - 1])) for n in numbers}
            body = {"part_numbers": list(numbers), "checksums": checksums}
            urls = api.call("POST", f"/uploads/{upload['id']}/parts", 200, json=body)["urls"]
            with progress:
                waiting[0] += len(numbers)
            for n in numbers:
                yield urls[str(n)], lengths[n - 1], checksums[str(n)]
            first, last = numbers.stop, len(numbers)

    def put(url: str, length: int, checksum: str) -> None:
        with progress:
            waiting[0] -= 1
            progress.notify_all()
        answer = parts.request(
            "PUT", url, body=_part(length), headers={"x-amz-checksum-sha256": checksum}
        )
        if answer.status != 200:  # the URL is a credential: never in a message
            raise RuntimeError(f"part PUT: {answer.status} {answer.data[:300]!r}")
        with progress:
            sent[0] += length

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        futures = [pool.submit(put, *part) for part in signed()]
        for future in futures:
            future.result()
    api.call("POST", f"/uploads/{upload['id']}/complete", 201)
    return time.perf_counter() - started, upload["part_size"]


def measure_direct(stack: Stack, size: int, runs: int, seq: Iterator[int]) -> dict[str, Any]:
    """Direct uploads of `size` through the API against raw boto3 multipart, alternating.

    The app runs without its backup copy (as the stream figures' "app up"): the copy is
    server-side either way, and raw boto3 makes none.
    """
    raw = stack.raw_client()
    times: dict[str, list[float]] = {"raw": [], "direct": []}
    cpu: dict[str, list[dict[str, float]]] = {"raw": [], "direct": []}
    peaks: list[int] = []
    part_pool = urllib3.PoolManager(maxsize=CONCURRENCY)
    with running_app(stack, NO_BACKUP):
        browser = Browser(stack, f"user{next(seq)}")
        api = ApiClient(stack, issue_token(stack, browser.username))
        # A first, untimed upload warms the workers and tells the part size the app picks.
        name = f"d{next(seq)}.bin"
        seconds, part_size = direct_upload(api, part_pool, name, size)
        raw.delete_object(Bucket=PRIMARY, Key=f"{browser.username}/{name}")
        print(f"    direct {size // MIB} MiB warm-up: {mbps(size, seconds):.0f} MB/s", flush=True)
        for run in range(runs):
            key = f"raw/{next(seq)}.bin"
            raw_multipart_run(stack, raw, key, size, part_size, CONCURRENCY, times, cpu)
            name = f"d{next(seq)}.bin"
            before = api.requests
            with Watch(stack) as watch, CpuMeter(stack) as meter:
                times["direct"].append(direct_upload(api, part_pool, name, size)[0])
            calls = api.requests - before
            cpu["direct"].append(meter.used)
            peaks.append(watch.peak_rss)
            raw.delete_object(Bucket=PRIMARY, Key=f"{browser.username}/{name}")
            print(run_line("direct", size, run, runs, times, meter.used["app"]), flush=True)
    return upload_summary("direct", size, times, cpu, peaks) | {
        "part_size_mib": part_size // MIB,
        "concurrency": CONCURRENCY,
        "api_requests_per_upload": calls,
    }
