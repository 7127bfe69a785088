"""How long a file waits for its backup copy after the copy failed during its upload.

Two measurements decide which retry mechanisms SecureStore keeps (docs/performance.md):
1. What boto3's own retries bridge: the time a `CopyObject` spends retrying against an
   unreachable endpoint before it gives up, with the app's client settings.
2. The pending window after a backup outage of D seconds, replayed on a simulated clock with
   the app's real backoff rule (`backup_rules.retry_delay`): the in-process retry thread of
   earlier releases (one retry 30 s after the upload, then the sync timer every 5 minutes)
   against the sync timer alone, every minute.
Run: python -m bench.backup_window
"""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Callable

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from securestore.files.backup_rules import retry_delay

OUTAGES = (2, 10, 25, 60, 300, 1800)
# Uploads land uniformly over the outage; each gets its own phase against the timer.
UPLOADS_PER_OUTAGE = 120


def boto3_bridge_seconds(runs: int = 5) -> float:
    """Median time a copy spends in boto3's standard retries before raising."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: connections are refused
    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 -- a throwaway key for a closed port
        config=BotoConfig(retries={"mode": "standard", "max_attempts": 3}),
    )
    spent = []
    for _ in range(runs):
        started = time.monotonic()
        try:
            client.copy_object(Bucket="b", Key="k", CopySource={"Bucket": "a", "Key": "k"})
        except (BotoCoreError, ClientError):
            spent.append(time.monotonic() - started)
    return statistics.median(spent)


def window(outage: float, uploaded_at: float, retries: Callable[[float, int], float]) -> float:
    """Seconds from a failed upload until its copy succeeds once the outage is over.

    `retries(now, attempts)` is when the next attempt happens after `attempts` failures.
    """
    now, attempts = uploaded_at, 1
    while True:
        now = retries(now, attempts)
        if now >= outage:
            return now - uploaded_at
        attempts += 1


def timer_every(period: float, phase: float) -> Callable[[float, int], float]:
    """The sync timer: runs at phase + k * period and copies what its backoff lets it."""

    def next_try(now: float, attempts: int) -> float:
        due = now + retry_delay(attempts).total_seconds()
        runs = max(0, -(-(due - phase) // period))
        return phase + runs * period

    return next_try


def thread_then_timer(delay: float, period: float, phase: float) -> Callable[[float, int], float]:
    """One in-process retry `delay` after the upload, then the timer."""
    timer = timer_every(period, phase)

    def next_try(now: float, attempts: int) -> float:
        return now + delay if attempts == 1 else timer(now, attempts)

    return next_try


def main() -> None:
    bridge = boto3_bridge_seconds()
    print(f"boto3 standard retries (3 attempts) bridge an outage of {bridge:.2f} s at most")
    print("outage s | thread 30 s + timer 5 min: mean / max | timer 1 min alone: mean / max")
    for outage in OUTAGES:
        old, new = [], []
        for n in range(UPLOADS_PER_OUTAGE):
            uploaded = outage * n / UPLOADS_PER_OUTAGE
            phase = (n * 37.0) % 300  # the timer's phase relative to the upload
            old.append(window(outage, uploaded, thread_then_timer(30, 300, phase)))
            new.append(window(outage, uploaded, timer_every(60, phase % 60)))
        print(
            f"{outage:8} | {statistics.mean(old):7.0f} / {max(old):5.0f}"
            f" | {statistics.mean(new):7.0f} / {max(new):5.0f}"
        )


if __name__ == "__main__":
    main()
