"""The load test's own logic: how answers are classified and what the audit then expects."""

from __future__ import annotations

import pytest

from bench.load.chaos import RESTART_ALLOWANCE, schedule
from bench.load.ledger import (
    ACKED,
    DELETED,
    EITHER,
    LIVE,
    REFUSED,
    UNKNOWN,
    Change,
    Ledger,
    Upload,
    outcome,
)
from bench.load.report import percentile

APP = {"Content-Security-Policy": "default-src 'self'"}


@pytest.mark.parametrize(
    ("status", "headers", "success", "expected"),
    [
        (201, APP, (), ACKED),
        (303, APP, (303,), ACKED),
        (303, APP, (), REFUSED),
        (503, APP, (), REFUSED),
        (502, {"Server": "nginx"}, (), UNKNOWN),  # nginx: the worker died mid-request
        (0, {}, (), UNKNOWN),  # no answer at all
    ],
)
def test_an_answer_is_acked_refused_by_the_app_or_unknown(
    status: int, headers: dict[str, str], success: tuple[int, ...], expected: str
) -> None:
    assert outcome(status, headers, success) == expected


def _upload(file_id: int) -> Upload:
    return Upload(
        username="u", via="form", started=1.0, outcome=ACKED,
        name=f"u-{file_id:05d}-1KiB.bin", size=1024, sha256="0" * 64, file_id=file_id,
    )  # fmt: skip


def _change(kind: str, file_id: int, started: float, outcome: str) -> Change:
    return Change(
        username="u", via="form", started=started, outcome=outcome, kind=kind, file_id=file_id
    )


def test_expected_states_follow_the_owner_s_acknowledged_changes() -> None:
    ledger = Ledger(uploads=[_upload(n) for n in (1, 2, 3, 4)])
    ledger.changes += [
        _change("delete", 1, 2.0, ACKED),
        _change("delete", 2, 2.0, REFUSED),
        _change("delete", 3, 2.0, UNKNOWN),
        _change("delete", 4, 2.0, UNKNOWN),
        _change("restore", 4, 3.0, ACKED),
    ]
    assert ledger.expected_states() == {1: DELETED, 2: LIVE, 3: EITHER, 4: LIVE}


def test_the_schedule_injects_every_fault_inside_the_run() -> None:
    for seconds in (60, 300):
        faults = schedule(seconds)
        assert {fault.kind for fault in faults} == {
            "gunicorn worker SIGKILL", "SeaweedFS stopped", "PostgreSQL connections terminated",
            "Redis restarted", "app instance b stopped and started",
        }  # fmt: skip
        assert all(f.at + f.duration + RESTART_ALLOWANCE <= seconds for f in faults)
    kills = [f.at for f in schedule(300) if f.kind == "gunicorn worker SIGKILL"]
    assert [b - a for a, b in zip(kills, kills[1:], strict=False)] == [30.0] * (len(kills) - 1)


def test_percentile_is_nearest_rank() -> None:
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([5.0], 99) == 5.0
    assert percentile([], 50) is None
