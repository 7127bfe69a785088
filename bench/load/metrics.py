"""What the run measures while it goes: every request, each worker's memory, and progress.

Locust's request event gives each request's start, duration, status and whether the user's
check passed; the samples are kept whole (a 300 s run makes some thousands), so the report
can cut them by endpoint, by chaos window and by second. Worker memory and every process's
CPU time are sampled from /proc through psutil every few seconds.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
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
class ProcessSampler:
    """Every RSS_EVERY s: each gunicorn worker's RSS, and the CPU time of every process of
    the stack, by component, as deltas per pid (a process first seen after the first sample
    counts from its start; one killed loses at most its last interval).

    The CPU figures say what bounds latency on a small machine: the cores each part used,
    and what the rest of the machine (other developers' tests) took meanwhile.
    """

    stack: LoadStack
    rows: list[tuple[float, str, int, int]] = field(default_factory=list)
    cpu_seconds: Counter[str] = field(default_factory=Counter)
    _last: dict[int, float] = field(default_factory=dict)
    _machine: tuple[float, float] | None = None
    _started: float = 0.0
    _greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        self._started = time.time()
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> dict[str, Any]:
        """Stop sampling; return the cores each component used over the sampled time."""
        if self._greenlet is not None:
            self._greenlet.kill()
        self._sample(first=False)
        wall = max(time.time() - self._started, 1e-9)
        cores = {name: round(seconds / wall, 2) for name, seconds in self.cpu_seconds.items()}
        ours = sum(v for k, v in cores.items() if k != "machine (all processes)")
        cores["rest of the machine"] = round(cores.get("machine (all processes)", 0) - ours, 2)
        return {"cores": cores, "cpus": psutil.cpu_count(), "seconds": round(wall, 1)}

    def _run(self) -> None:
        first = True
        while True:
            self._sample(first)
            first = False
            gevent.sleep(RSS_EVERY)

    def _sample(self, first: bool) -> None:
        now = time.time()
        for instance in self.stack.instances:
            for worker in instance.workers():
                with contextlib.suppress(psutil.NoSuchProcess):
                    self.rows.append((now, instance.name, worker.pid, worker.memory_info().rss))
        for component, process in self._processes():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                times = process.cpu_times()
                total = times.user + times.system
                previous = self._last.get(process.pid, total if first else 0.0)
                self.cpu_seconds[component] += total - previous
                self._last[process.pid] = total
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        if self._machine is not None:
            self.cpu_seconds["machine (all processes)"] += busy - self._machine[0]
        self._machine = (busy, now)

    def _processes(self) -> list[tuple[str, psutil.Process]]:
        stack = self.stack
        found = [("Locust (load generator)", psutil.Process())]
        for instance in stack.instances:
            if instance.gunicorn is not None:
                master = psutil.Process(instance.gunicorn.process.pid)
                found += [(f"app {instance.name}", p) for p in [master, *instance.workers()]]
        with contextlib.suppress(OSError, ValueError, psutil.NoSuchProcess):
            nginx = psutil.Process(int((stack.root / "nginx" / "nginx.pid").read_text()))
            found += [("nginx", p) for p in [nginx, *nginx.children()]]
        for name, pid in (("SeaweedFS", stack.s3.pid), ("Redis", stack.redis.pid)):
            if pid is not None:
                with contextlib.suppress(psutil.NoSuchProcess):
                    found.append((name, psutil.Process(pid)))
        database = stack.database_url.rsplit("/", 1)[-1]
        for process in psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if process.info["name"] == "postgres" and f" {database} " in cmdline:
                found.append(("PostgreSQL (this run's backends)", process))
        return found


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
