"""The ledger: every upload, delete and restore the users sent, and what the app answered.

Jepsen's idea applied to a file store: each write is recorded with its outcome, and the audit
after the run checks the store against it. An outcome is one of

- `acked`: a 2xx (a form's 303); the app promised the change (an upload's id comes with it);
- `refused`: an error answered by the app itself (it carries the app's headers): the app says
  nothing changed, so nothing may have;
- `unknown`: no answer from the app (nginx's 502 for a killed worker, a reset, a timeout):
  the change may or may not have happened, and the audit accepts both, but never a mix-up.

Users also note here what they saw that belongs to someone else (`leak`) and any read whose
bytes differ from what was uploaded (`mismatches`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ACKED, REFUSED, UNKNOWN = "acked", "refused", "unknown"
LIVE, DELETED, EITHER = "live", "deleted", "either"


def outcome(status: int, headers: Any, success: tuple[int, ...] = ()) -> str:
    """Classify an answer: 2xx (or a `success` status, a form's 303) acked, the app's own
    error refused, anything else unknown.

    Every answer the app writes carries its Content-Security-Policy (securestore/headers.py);
    nginx's own error pages and a dropped connection (status 0) do not.
    """
    if 200 <= status < 300 or status in success:
        return ACKED
    if status and headers is not None and "Content-Security-Policy" in headers:
        return REFUSED
    return UNKNOWN


@dataclass(kw_only=True)
class Write:
    """One write a user sent, and what it got: when, the status, the outcome."""

    username: str
    via: str
    started: float
    ended: float = 0.0
    status: int = 0
    outcome: str = UNKNOWN

    def settle(self, status: int, headers: Any, success: tuple[int, ...] = ()) -> str:
        """Record the answer (see `outcome`) and return the outcome."""
        self.ended, self.status = time.time(), status
        self.outcome = outcome(status, headers, success)
        return self.outcome


@dataclass(kw_only=True)
class Upload(Write):
    """One upload as sent (name, size, SHA-256 of the bytes) and as answered."""

    name: str
    size: int
    sha256: str
    file_id: int | None = None
    stored_name: str | None = None


@dataclass(kw_only=True)
class Change(Write):
    """A delete or restore of one file by its owner, and the answer."""

    kind: str
    file_id: int


@dataclass
class Ledger:
    uploads: list[Upload] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    # Reads that did not give back the bytes (or digest) that were uploaded.
    mismatches: list[str] = field(default_factory=list)

    def leak(self, username: str, what: str) -> None:
        self.leaks.append(f"{username}: {what}")

    def upload_for(self, file_id: int) -> Upload | None:
        return next((u for u in self.uploads if u.file_id == file_id), None)

    def expected_states(self) -> dict[int, str]:
        """Where each acknowledged upload should be now: live, deleted, or either.

        Only a file's owner changes it, one request at a time, so the owner's order of
        changes is the file's history. A refused change changed nothing; an unknown one
        leaves the state open until an acknowledged change settles it again.
        """
        states = {u.file_id: LIVE for u in self.uploads if u.outcome == ACKED and u.file_id}
        for change in sorted(self.changes, key=lambda c: c.started):
            if change.file_id not in states or change.outcome == REFUSED:
                continue
            if change.outcome == UNKNOWN:
                states[change.file_id] = EITHER
            else:
                states[change.file_id] = DELETED if change.kind == "delete" else LIVE
        return states

    def counts(self) -> dict[str, int]:
        """How many writes of each kind got each outcome."""
        tally: dict[str, int] = {}
        for record in [*self.uploads, *self.changes]:
            kind = "upload" if isinstance(record, Upload) else record.kind
            key = f"{kind}_{record.outcome}"
            tally[key] = tally.get(key, 0) + 1
        return dict(sorted(tally.items()))

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> Ledger:
        raw = json.loads(path.read_text())
        return cls(
            uploads=[Upload(**item) for item in raw["uploads"]],
            changes=[Change(**item) for item in raw["changes"]],
            leaks=list(raw["leaks"]),
            mismatches=list(raw["mismatches"]),
        )
