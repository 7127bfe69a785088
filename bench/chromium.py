"""Direct uploads in `make bench` driven by Chromium through the page, as a person sends them.

bench/direct.py times a Python client that speaks the same protocol; this times the page's
own script (static/js/direct-transport.js: WebCrypto SHA-256 per part, part URLs in batches,
a few XHR PUTs in flight straight to SeaweedFS), in Debian's headless Chromium driven by
Playwright: log in through the form, choose a generated file in the file input, and time
until its upload row says `data-state="done"` (the app has completed the upload and recorded
the file). Raw boto3 multipart with the app's part size and the page's parts in flight
alternates with it, so a change in the machine's load touches both sides of the ratio. The
app's CPU and the gunicorn workers' peak RSS are watched meanwhile, as in bench/direct.py,
and Chromium's CPU besides: on a small machine the browser, SeaweedFS and the app share the
cores.

`python -m bench.chromium [MiB ...]` runs just this part on its own stack.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import psutil

from bench.browser import PASSWORD
from bench.meters import CpuMeter, Watch, mbps, raw_multipart_run, run_line, upload_summary
from bench.payload import MIB, write_generated
from bench.stack import NO_BACKUP, PRIMARY, Stack, local_app, running_app, running_stack
from securestore.auth import registration

CHROMIUM = Path("/usr/bin/chromium")
# As tests/browser: no sandbox (containers), nothing running beside the page.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 900_000


def missing() -> str | None:
    """Why Chromium cannot be driven here, or None when it can."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (`make chromium` installs Debian's)"
    if find_spec("playwright") is None:
        return "playwright is not installed (the test extra has it)"
    return None


def page_parallel_parts() -> int:
    """How many parts the page keeps in flight, read from its script so raw boto3 matches."""
    script = (resources.files("securestore") / "static/js/direct-transport.js").read_text()
    found = re.search(r"const PARALLEL_PARTS = (\d+);", script)
    if found is None:
        raise RuntimeError("no PARALLEL_PARTS in direct-transport.js")
    return int(found.group(1))


def _browser_cpu() -> float:
    """CPU seconds of Playwright's driver and the Chromium it started (the stack's servers are
    children of this process too: they are left out); a process that ended meanwhile drops
    out, so this can undercount."""
    used = 0.0
    for child in psutil.Process().children():
        try:
            if not child.name().startswith("node"):
                continue
            for process in [child, *child.children(recursive=True)]:
                used += sum(process.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return used


class Page:
    """One logged-in Chromium page on the bench's site; it counts the app requests of an
    upload and remembers the part size the app chose."""

    def __init__(self, browser: Any, stack: Stack, username: str) -> None:
        self.base = stack.base_url
        # nginx serves a self-signed certificate.
        self.context = browser.new_context(base_url=self.base, ignore_https_errors=True)
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.requests = 0
        self.part_size = 0
        self.problems: list[str] = []
        self.page.on("request", self._request)
        self.page.on("response", self._response)
        self.page.on("console", self._console)
        self.page.goto("/auth/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(self.base + "/files/")

    def _request(self, request: Any) -> None:
        if request.url.startswith(self.base + "/files/uploads/"):
            self.requests += 1

    def _response(self, response: Any) -> None:
        request = response.request
        if not request.url.startswith(self.base + "/files/uploads/"):
            return
        if not response.ok:  # the app's answer names what went wrong
            self.problems.append(f"{request.method} {response.status}: {response.text()[:300]}")
        elif request.method == "POST" and request.url == self.base + "/files/uploads/":
            self.part_size = response.json()["part_size"]

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(message.text)

    def reload(self) -> None:
        """Open the file page afresh: an empty upload list, so the next row is the only one."""
        self.page.goto("/files/")
        self.page.wait_for_load_state("load")

    def upload(self, path: Path) -> float:
        """Choose `path` in the file input; return the seconds until its row is done."""
        ended = self.page.locator(
            '.upload-item[data-state="done"], .upload-item[data-state="error"]'
        )
        started = time.perf_counter()
        self.page.locator("#file").set_input_files(path)
        ended.wait_for(timeout=TIMEOUT_MS)
        elapsed = time.perf_counter() - started
        if ended.get_attribute("data-state") != "done":
            detail = ended.locator(".upload-detail").inner_text()
            raise RuntimeError(f"Chromium upload of {path.name}: {detail} {self.problems}")
        return elapsed


def measure_chromium(stack: Stack, size: int, runs: int, seq: Iterator[int]) -> dict[str, Any]:
    """Uploads of `size` by Chromium through the page against raw boto3 multipart, alternating.

    The app runs without its backup copy, as in bench/direct.py; the bucket admits the
    site's origin (CORS), as `make run` sets it up for its own.
    """
    from playwright.sync_api import sync_playwright  # an optional dependency: see missing()

    stack.s3.allow_browser_uploads(PRIMARY, [stack.base_url])
    raw = stack.raw_client()
    parallel = page_parallel_parts()
    times: dict[str, list[float]] = {"raw": [], "chromium": []}
    cpu: dict[str, list[dict[str, float]]] = {"raw": [], "chromium": []}
    peaks: list[int] = []
    with (
        tempfile.TemporaryDirectory(prefix="securestore-chromium-") as folder,
        running_app(stack, NO_BACKUP),
        sync_playwright() as playwright,
    ):
        username = f"user{next(seq)}"
        with local_app(stack).app_context():
            registration.create_user(username, PASSWORD)
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = Page(browser, stack, username)
        path = write_generated(Path(folder) / "b0.bin", size)

        def next_file() -> Path:
            """The same bytes under a new name (the app would store "b1 (1).bin" and so on),
            on a freshly loaded page; the previous run's object deleted."""
            nonlocal path
            raw.delete_object(Bucket=PRIMARY, Key=f"{username}/{path.name}")
            path = path.rename(path.with_name(f"b{next(seq)}.bin"))
            page.reload()
            return path

        # A first, untimed upload warms Chromium and the workers and tells the part size.
        seconds = page.upload(next_file())
        print(f"    chromium {size // MIB} MiB warm-up: {mbps(size, seconds):.0f} MB/s", flush=True)
        for run in range(runs):
            key = f"raw/{next(seq)}.bin"
            raw_multipart_run(stack, raw, key, size, page.part_size, parallel, times, cpu)
            chosen = next_file()
            before_requests, before_browser = page.requests, _browser_cpu()
            with Watch(stack) as watch, CpuMeter(stack) as meter:
                times["chromium"].append(page.upload(chosen))
            calls = page.requests - before_requests
            cpu["chromium"].append(meter.used | {"browser": _browser_cpu() - before_browser})
            peaks.append(watch.peak_rss)
            print(run_line("chromium", size, run, runs, times, meter.used["app"]), flush=True)
        raw.delete_object(Bucket=PRIMARY, Key=f"{username}/{path.name}")
        browser.close()
    return upload_summary("chromium", size, times, cpu, peaks) | {
        "part_size_mib": page.part_size // MIB,
        "parallel_parts": parallel,
        "app_requests_per_upload": calls,
    }


def main() -> None:
    reason = missing()
    if reason:
        raise SystemExit(f"skipped: {reason}")
    sizes = [int(arg) * MIB for arg in sys.argv[1:]] or [256 * MIB]
    seq = iter(range(10**9))
    with tempfile.TemporaryDirectory(prefix="securestore-bench-") as folder:
        with running_stack(Path(folder)) as stack:
            for size in sizes:
                print(f"chromium, {size // MIB} MiB ...", flush=True)
                print(measure_chromium(stack, size, 3, seq), flush=True)


if __name__ == "__main__":
    main()
