"""Fixed-window counters of attempts: an attempt is counted before it is evaluated.

`take` counts one attempt against every limit with one atomic increment each and refuses it
when any count goes over its limit, so parallel requests cannot all slip through before the
first failure is recorded; a success gives its attempt back (`refund`). State lives outside
the process so that every gunicorn worker and every instance behind the load balancer sees
the same counts: in the app's database by default, in Redis when `REDIS_URL` is set. Keys are
hashed, so neither usernames nor addresses are stored in clear.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import redis
from flask import Flask, current_app
from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from securestore.db_types import utcnow
from securestore.extensions import db
from securestore.throttle.models import ThrottleCounter

EXTENSION_KEY = "securestore.throttle"

# Count one attempt; start the window on the first (or if a key somehow lost its expiry).
_REDIS_TAKE = """
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return {count, redis.call('TTL', KEYS[1])}
"""
_REDIS_REFUND = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Limit:
    """At most `limit` attempts for `subject` (e.g. a username) in `scope` per `window` s."""

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

    def take(self, key: str, window: int) -> tuple[int, int]:
        """Count one attempt (opening a window of `window` s if none is open); return the
        count including it and the seconds left in the window."""

    def refund(self, key: str) -> None:
        """Give one attempt back (never below zero)."""

    def peek(self, key: str) -> tuple[int, int]:
        """Return the attempts counted under `key` and the seconds left in its window."""

    def reset(self, key: str) -> None:
        """Forget the attempts under `key`."""


class DatabaseBackend:
    """Counters in the `throttle_counters` table, each change a transaction of its own."""

    def take(self, key: str, window: int) -> tuple[int, int]:
        now = utcnow()
        ends = now + timedelta(seconds=window)
        table = ThrottleCounter.__table__
        open_window = table.c.window_ends_at > now
        with db.engine.begin() as connection:
            insert: Any = (
                postgresql.insert(table)
                if connection.dialect.name == "postgresql"
                else sqlite.insert(table)
            )
            statement = insert.values(key=key, count=1, window_ends_at=ends)
            statement = statement.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": case((open_window, table.c.count + 1), else_=1),
                    "window_ends_at": case((open_window, table.c.window_ends_at), else_=ends),
                },
            ).returning(table.c.count, table.c.window_ends_at)
            count, window_ends_at = connection.execute(statement).one()
            if count == 1:
                # A new window: expired ones of every key go here, so the table stays small.
                connection.execute(delete(table).where(table.c.window_ends_at <= now))
        return int(count), max(1, math.ceil((window_ends_at - now).total_seconds()))

    def refund(self, key: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(
                update(ThrottleCounter)
                .where(ThrottleCounter.key == key, ThrottleCounter.count > 0)
                .values(count=ThrottleCounter.count - 1)
            )

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

    def reset(self, key: str) -> None:
        with db.engine.begin() as connection:
            connection.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))


class RedisBackend:
    """Counters as Redis keys that expire with their window."""

    def __init__(self, connection: redis.Redis, prefix: str) -> None:
        self.connection = connection
        self.prefix = prefix
        self._take = connection.register_script(_REDIS_TAKE)
        self._refund = connection.register_script(_REDIS_REFUND)

    def take(self, key: str, window: int) -> tuple[int, int]:
        count, ttl = self._take(keys=[self.prefix + key], args=[window])
        return int(count), max(1, int(ttl))

    def refund(self, key: str) -> None:
        self._refund(keys=[self.prefix + key])

    def peek(self, key: str) -> tuple[int, int]:
        pipeline = self.connection.pipeline()
        pipeline.get(self.prefix + key)
        pipeline.ttl(self.prefix + key)
        count, ttl = pipeline.execute()
        if count is None or ttl <= 0:
            return 0, 0
        return int(count), int(ttl)

    def reset(self, key: str) -> None:
        self.connection.delete(self.prefix + key)


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may go ahead, the counts it made, and the wait when it may not."""

    blocked: bool
    counts: tuple[int, ...] = ()
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

    def take(self, limits: Sequence[Limit]) -> Verdict:
        """Count an attempt against every limit; refused (and given back) when any is over.

        `retry_after` is the longest wait among the limits that are used up.
        """
        taken = [(limit, *self.backend.take(limit.key, limit.window)) for limit in limits]
        counts = tuple(count for _, count, _ in taken)
        waits = [left for limit, count, left in taken if count > limit.limit]
        if not waits:
            return Verdict(blocked=False, counts=counts)
        self.refund(limits)
        return Verdict(blocked=True, counts=counts, retry_after=max(waits))

    def count(self, limit: Limit) -> tuple[int, int]:
        """Count an attempt that is never refused here (the caller weighs the count): return
        the count including it and the seconds left in its window."""
        return self.backend.take(limit.key, limit.window)

    def refund(self, limits: Sequence[Limit]) -> None:
        """Give an attempt back to every limit (it succeeded, or it was refused unheard)."""
        for limit in limits:
            self.backend.refund(limit.key)

    def peek(self, limit: Limit) -> tuple[int, int]:
        """The attempts counted against `limit` and the seconds left in its window."""
        return self.backend.peek(limit.key)

    def reset(self, limit: Limit) -> None:
        """Forget a subject's attempts (a successful login resets its account's count)."""
        self.backend.reset(limit.key)


# Bound in `create_app`; lives here rather than in extensions.py, which this module imports.
throttle = Throttle()
