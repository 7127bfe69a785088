"""Fixed-window counters of failures: block a key once it failed `limit` times in `window`.

State lives outside the process so that every gunicorn worker and every instance behind the
load balancer sees the same counts: in the app's database by default, in Redis when
`REDIS_URL` is set. Keys are hashed, so neither usernames nor addresses are stored in clear.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import redis
from flask import Flask, current_app
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from securestore.db_types import utcnow
from securestore.extensions import db
from securestore.throttle.models import ThrottleCounter

EXTENSION_KEY = "securestore.throttle"

# Increment, and start the window on the first failure (or if a key somehow lost its expiry).
_REDIS_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""


@dataclass(frozen=True)
class Limit:
    """At most `limit` failures for `subject` (e.g. a username) in `scope` per `window` s."""

    scope: str
    subject: str
    limit: int
    window: int

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.subject.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self.scope}:{digest[:40]}"


class Backend(Protocol):
    """Where counters live; each method is atomic across processes."""

    def peek(self, key: str) -> tuple[int, int]:
        """Return the failures counted under `key` and the seconds left in its window."""

    def hit(self, key: str, window: int) -> None:
        """Count one failure, opening a window of `window` seconds if none is open."""

    def reset(self, key: str) -> None:
        """Forget the failures under `key`."""


class DatabaseBackend:
    """Counters in the `throttle_counters` table, each change in a transaction of its own."""

    def peek(self, key: str) -> tuple[int, int]:
        with db.engine.connect() as connection:
            row = connection.execute(
                select(ThrottleCounter.count, ThrottleCounter.window_ends_at).where(
                    ThrottleCounter.key == key
                )
            ).first()
        if row is None:
            return 0, 0
        count, window_ends_at = row
        left = (window_ends_at - utcnow()).total_seconds()
        return (int(count), math.ceil(left)) if left > 0 else (0, 0)

    def hit(self, key: str, window: int) -> None:
        try:
            self._hit(key, window)
        except IntegrityError:
            # Another worker opened the same window between our delete and insert: count again.
            self._hit(key, window)

    def _hit(self, key: str, window: int) -> None:
        now = utcnow()
        with db.engine.begin() as connection:
            counted = connection.execute(
                update(ThrottleCounter)
                .where(ThrottleCounter.key == key, ThrottleCounter.window_ends_at > now)
                .values(count=ThrottleCounter.count + 1)
            ).rowcount
            if counted:
                return
            # Expired windows of every key go here, so the table holds only live counters.
            connection.execute(
                delete(ThrottleCounter).where(
                    (ThrottleCounter.key == key) | (ThrottleCounter.window_ends_at <= now)
                )
            )
            connection.execute(
                insert(ThrottleCounter).values(
                    key=key, count=1, window_ends_at=now + timedelta(seconds=window)
                )
            )

    def reset(self, key: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))


class RedisBackend:
    """Counters as Redis keys that expire with their window."""

    def __init__(self, connection: redis.Redis, prefix: str) -> None:
        self.connection = connection
        self.prefix = prefix
        self._hit = connection.register_script(_REDIS_HIT)

    def peek(self, key: str) -> tuple[int, int]:
        pipeline = self.connection.pipeline()
        pipeline.get(self.prefix + key)
        pipeline.ttl(self.prefix + key)
        count, ttl = pipeline.execute()
        if count is None or ttl <= 0:
            return 0, 0
        return int(count), int(ttl)

    def hit(self, key: str, window: int) -> None:
        self._hit(keys=[self.prefix + key], args=[window])

    def reset(self, key: str) -> None:
        self.connection.delete(self.prefix + key)


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may go ahead, and if not, how many seconds until it may."""

    blocked: bool
    retry_after: int = 0


class Throttle:
    """The app's throttle: picks its backend from `REDIS_URL` in `init_app`."""

    def init_app(self, app: Flask) -> None:
        url = app.config["REDIS_URL"]
        backend: Backend
        if url:
            backend = RedisBackend(redis.Redis.from_url(url), app.config["REDIS_KEY_PREFIX"])
        else:
            backend = DatabaseBackend()
        app.extensions[EXTENSION_KEY] = backend

    @property
    def backend(self) -> Backend:
        backend: Backend = current_app.extensions[EXTENSION_KEY]
        return backend

    def check(self, limits: Sequence[Limit]) -> Verdict:
        """Block when any limit is used up; `retry_after` is the longest wait among them."""
        waits = []
        for limit in limits:
            count, left = self.backend.peek(limit.key)
            if count >= limit.limit:
                waits.append(max(left, 1))
        return Verdict(blocked=True, retry_after=max(waits)) if waits else Verdict(False)

    def hit(self, limits: Sequence[Limit]) -> None:
        """Count one failure against every limit."""
        for limit in limits:
            self.backend.hit(limit.key, limit.window)

    def reset(self, limit: Limit) -> None:
        """Forget a subject's failures (a successful login resets its account's count)."""
        self.backend.reset(limit.key)


# Bound in `create_app`; lives here rather than in extensions.py, which this module imports.
throttle = Throttle()
