"""What the run measures while it goes: every request, each worker's memory, and progress.

Locust's request event gives each request's start, duration, status and whether the user's
check passed; the samples are kept whole (a 300 s run makes some thousands), so the report
can cut them by endpoint, by chaos window and by second. Worker memory is sampled from
/proc through psutil every few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gevent
import psutil

from bench.load.stack import LoadStack

RSS_EVERY = 2.0
PROGRESS_EVERY = 10.0


@dataclass(frozen=True)
class Sample:
    """One request: when it started and ended (epoch s), what it was and how it went."""

    start: float
    end: float
    name: str
    status: int
    ok: bool
    size: int

    @property
    def attack(self) -> bool:
        return self.name.startswith("attack:")

    @property
    def server_failure(self) -> bool:
        """No answer, a 5xx, or an answer whose body broke off: the kinds chaos may excuse."""
        return not self.ok and not 400 <= self.status < 500

    def to_row(self) -> list[Any]:
        return [
            round(self.start, 3),
            round(self.end, 3),
            self.name,
            self.status,
            self.ok,
            self.size,
        ]


@dataclass
class Requests:
    """Collects every request Locust reports."""

    samples: list[Sample] = field(default_factory=list)

    def on_request(
        self,
        name: str,
        response_time: float,
        response_length: int,
        response: Any = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        status = int(getattr(response, "status_code", 0) or 0)
        start = start_time if start_time is not None else time.time() - response_time / 1000
        self.samples.append(
            Sample(start, start + response_time / 1000, name, status, exception is None,
                   int(response_length or 0))
        )  # fmt: skip


@dataclass
class MemorySampler:
    """RSS of every gunicorn worker every RSS_EVERY s: (time, instance, pid, bytes)."""

    stack: LoadStack
    rows: list[tuple[float, str, int, int]] = field(default_factory=list)
    _greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()

    def _run(self) -> None:
        while True:
            now = time.time()
            for instance in self.stack.instances:
                for worker in instance.workers():
                    try:
                        self.rows.append((now, instance.name, worker.pid, worker.memory_info().rss))
                    except psutil.NoSuchProcess:
                        continue  # killed by the chaos between listing and reading
            gevent.sleep(RSS_EVERY)


def progress(requests: Requests, say: Callable[[str], None]) -> gevent.Greenlet:
    """Print requests/s and errors of the last PROGRESS_EVERY s, every PROGRESS_EVERY s."""

    def run() -> None:
        seen = 0
        while True:
            gevent.sleep(PROGRESS_EVERY)
            fresh = requests.samples[seen:]
            seen += len(fresh)
            failed = sum(not s.ok for s in fresh)
            total_failed = sum(not s.ok for s in requests.samples)
            say(
                f"{len(fresh) / PROGRESS_EVERY:6.1f} req/s, {failed} errors"
                f" ({total_failed} of {len(requests.samples)} so far)"
            )

    return gevent.spawn(run)


def clock(origin: float) -> Callable[[str], None]:
    """A printer that prefixes each line with the seconds since `origin`."""

    def say(line: str) -> None:
        print(f"[{time.time() - origin:6.1f} s] {line}", flush=True)

    return say
