"""The fixed chaos schedule and the greenlets that carry it out while the users run.

Every fault is injected on the stack's own processes: SIGKILL of a gunicorn worker every 30 s,
SeaweedFS stopped for 20 s once, every app connection to PostgreSQL terminated once, the
private Redis restarted once, one whole app instance stopped and started. The schedule is a
fixed fraction of the run, printed before the load starts, so two runs of the same length
inject the same faults at the same moments.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import gevent

from bench.load.stack import LoadStack

KILL_EVERY = 30.0
OBJECT_STORE_DOWN = 20.0
INSTANCE_DOWN = 10.0
# What a graceful stop plus a start until /healthz answers takes, roughly.
RESTART_ALLOWANCE = 5.0
# A request that overlaps a fault or the few seconds after it counts as inside its window:
# clients and pools need a moment to notice the fault is over (new connections, pre-ping).
GRACE = 5.0

# Fragments of the endpoint names each fault can fail, for "recovery time" (first success
# of such a request after the fault ended); None: every endpoint.
_S3_ENDPOINTS = ("upload", "download", "content", "restore", "delete")
_THROTTLED_ENDPOINTS = ("login", "register", "/api/")


@dataclass(frozen=True)
class Fault:
    """One fault of the schedule: what, when (s after the load starts) and for how long."""

    kind: str
    at: float
    duration: float = 0.0
    affects: tuple[str, ...] | None = None

    def describe(self) -> str:
        lasting = f" for {self.duration:.0f} s" if self.duration else ""
        return f"{self.at:6.1f} s  {self.kind}{lasting}"


@dataclass
class Window:
    """A fault as it happened: wall-clock start and end (epoch s), and what it hit."""

    kind: str
    start: float
    end: float
    detail: str
    affects: tuple[str, ...] | None

    @property
    def until(self) -> float:
        """Where the window closes: the fault's end plus the grace period."""
        return self.end + GRACE

    def overlaps(self, start: float, end: float) -> bool:
        return start <= self.until and end >= self.start

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "until": self.until}


def schedule(seconds: float) -> list[Fault]:
    """The faults of a run of `seconds`, in order of time."""
    faults = [
        Fault("gunicorn worker SIGKILL", at)
        for at in _range(KILL_EVERY / 2, seconds - GRACE, KILL_EVERY)
    ]
    # In a 300 s run the one-off faults fall between the kills (except the outage, longer
    # than the gap between two kills); a short run overlaps them.
    faults += [
        Fault("SeaweedFS stopped", round(seconds * 0.17, 1), OBJECT_STORE_DOWN, _S3_ENDPOINTS),
        Fault("PostgreSQL connections terminated", round(seconds * 0.5, 1)),
        Fault("Redis restarted", round(seconds * 0.62, 1), 0.0, _THROTTLED_ENDPOINTS),
        Fault("app instance b stopped and started", _instance_at(seconds), INSTANCE_DOWN),
    ]
    return sorted(faults, key=lambda fault: fault.at)


def _instance_at(seconds: float) -> float:
    """Late in the run, yet back up (a stop and a start take a few seconds) before its end."""
    return min(round(seconds * 0.78, 1), seconds - INSTANCE_DOWN - RESTART_ALLOWANCE)


def _range(start: float, stop: float, step: float) -> list[float]:
    values = []
    while start < stop:
        values.append(start)
        start += step
    return values


class Chaos:
    """Carries out a schedule on a stack, one greenlet per fault, and records the windows."""

    def __init__(self, stack: LoadStack, faults: list[Fault], say: Callable[[str], None]):
        self.stack = stack
        self.faults = faults
        self.say = say
        self.windows: list[Window] = []
        self._greenlets: list[gevent.Greenlet] = []
        self._origin = 0.0

    def start(self, origin: float) -> None:
        """Arm every fault relative to `origin` (epoch s when the load started)."""
        self._origin = origin
        for fault in self.faults:
            delay = max(0.0, origin + fault.at - time.time())
            self._greenlets.append(gevent.spawn_later(delay, self._inject, fault))

    def wait(self) -> None:
        """Let faults that already began finish (a stopped server must come back)."""
        gevent.joinall(self._greenlets, raise_error=True)

    def cancel_pending(self) -> None:
        """Drop the faults whose time has not come (the load ended early)."""
        for greenlet in self._greenlets:
            if not greenlet.started:
                greenlet.kill(block=False)

    def _inject(self, fault: Fault) -> None:
        start = time.time()
        self.say(f"chaos: {fault.kind} ...")
        detail = self._actions(fault.kind)()
        end = time.time()
        self.windows.append(Window(fault.kind, start, end, detail, fault.affects))
        self.say(f"chaos: {fault.kind} done in {end - start:.1f} s ({detail})")

    def _actions(self, kind: str) -> Callable[[], str]:
        stack = self.stack
        return {
            "gunicorn worker SIGKILL": stack.kill_worker,
            "SeaweedFS stopped": self._object_store_outage,
            "PostgreSQL connections terminated": (
                lambda: f"{stack.cut_database_connections()} connections"
            ),
            "Redis restarted": self._restart_redis,
            "app instance b stopped and started": self._restart_instance,
        }[kind]

    def _object_store_outage(self) -> str:
        started = time.monotonic()
        self.stack.stop_object_store()  # SIGTERM: in-flight requests may take a while
        stopping = time.monotonic() - started
        gevent.sleep(OBJECT_STORE_DOWN)
        started = time.monotonic()
        self.stack.start_object_store()
        return (
            f"stopping took {stopping:.1f} s, down {OBJECT_STORE_DOWN:.0f} s,"
            f" ready {time.monotonic() - started:.1f} s after start"
        )

    def _restart_redis(self) -> str:
        started = time.monotonic()
        self.stack.redis.stop()
        self.stack.redis.start()
        return f"answering again after {time.monotonic() - started:.1f} s"

    def _restart_instance(self) -> str:
        instance = self.stack.instances[-1]
        started = time.monotonic()
        instance.stop()
        stopped = time.monotonic() - started
        gevent.sleep(INSTANCE_DOWN)
        started = time.monotonic()
        instance.start()
        return (
            f"stopped in {stopped:.1f} s, down {INSTANCE_DOWN:.0f} s,"
            f" healthy {time.monotonic() - started:.1f} s after start"
        )
