"""The audit after the run: the store checked against the ledger, as its owners see it.

1. `backup sync --now` copies what the outage left pending (the operator's step after one).
2. Every user's files are listed through the API with a read token made by the CLI; each
   listed file must be one the ledger explains (an acknowledged upload, or one whose answer
   never came), once, with its owner's name, never a refused upload; every acknowledged
   upload not later deleted must be there (else it is lost) and every acknowledged delete
   gone.
3. Each listed file is downloaded and hashed (SHA-256 equal to what was sent); the backup
   copy of each acknowledged upload is read straight from the backup bucket and hashed too,
   deleted files' copies included (Restore needs them).
4. `backup verify` reports the store's own view. Each problem must belong to an upload that
   got no 2xx (an orphan: the object was written, the row not; a missing backup: the row was
   written, the copy not) or to a file a delete or restore of which got no 2xx (the object
   deleted or copied, the row not); anything else fails. Those are
   then cleaned and repaired (`--repair --delete-orphans`), and a last `backup verify` must
   find nothing.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
import sqlalchemy as sa
from gevent.pool import Pool

from bench.load.ledger import ACKED, DELETED, LIVE, REFUSED, Ledger, Upload
from bench.load.stack import BACKUP, LoadStack

_PROBLEM = re.compile(r"^(\w+) (missing|mismatched|orphan): owner (\S+), key (.+?): ")
_NUMBERED = re.compile(r" \(\d+\)(?=\.bin$)")
CHUNK = 1024 * 1024


@dataclass
class AuditResult:
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    commands: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.problems

    def fail(self, kind: str, what: str) -> None:
        self.counts[kind] += 1
        self.problems.append(f"{kind}: {what}")

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "counts": dict(sorted(self.counts.items())),
            "problems": self.problems,
            "notes": self.notes,
            "commands": self.commands,
        }


def audit(stack: LoadStack, ledger: Ledger) -> AuditResult:
    result = AuditResult()
    _run(stack, result, "backup sync", "backup", "sync", "--now")
    users = sorted({u.username for u in ledger.uploads})
    keys = _keys(stack)
    tokens = _read_tokens(stack, users)
    listed = {user: _list_all(stack, tokens[user]) for user in users}
    to_hash = _check_listings(ledger, listed, result)
    deleted = [u for u in _acked(ledger) if ledger.expected_states()[u.file_id] == DELETED]
    _check_bytes(stack, tokens, keys, to_hash, deleted, result)
    for line in ledger.leaks:
        result.fail("cross-user read", line)
    for line in ledger.mismatches:
        result.fail("wrong bytes during the run", line)
    _check_verify(stack, ledger, result)
    return result


def _run(stack: LoadStack, result: AuditResult, label: str, *args: str) -> tuple[int, str]:
    done = stack.flask(*args)
    output = (done.stdout + done.stderr).strip()
    result.commands[label] = {"exit": done.returncode, "output": output.splitlines()[-30:]}
    return done.returncode, done.stdout


def _keys(stack: LoadStack) -> dict[int, str]:
    engine = sa.create_engine(stack.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT id, key FROM stored_files")).all()
    finally:
        engine.dispose()
    return {int(file_id): key for file_id, key in rows}


def _read_tokens(stack: LoadStack, users: list[str]) -> dict[str, str]:
    """A read-only token per user, from the CLI (`tokens create`), run in this process."""
    tokens = {}
    with stack.cli_app() as app:
        runner = app.test_cli_runner()
        for user in users:
            args = ["tokens", "create", "--user", user, "--name", "audit", "--scope", "read"]
            done = runner.invoke(args=args)
            if done.exit_code != 0:
                raise RuntimeError(f"tokens create for {user}: {done.output}")
            tokens[user] = done.stdout.strip().splitlines()[-1]
    return tokens


def _session(stack: LoadStack, token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    # Given on each call: this requests release ignores a path in Session.verify.
    session.request = functools.partial(session.request, verify=str(stack.cert))  # type: ignore[method-assign]
    return session


def _list_all(stack: LoadStack, token: str) -> list[dict[str, Any]]:
    """Every file of the token's user, page by page (keyset cursor)."""
    session = _session(stack, token)
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 200}
    while True:
        page = session.get(stack.base_url + "/api/v1/files", params=params, timeout=60)
        page.raise_for_status()
        body = page.json()
        items += body["items"]
        if not body["next_cursor"]:
            return items
        params["cursor"] = body["next_cursor"]


def _acked(ledger: Ledger) -> list[Upload]:
    return [u for u in ledger.uploads if u.outcome == ACKED and u.file_id is not None]


def _check_listings(
    ledger: Ledger, listed: dict[str, list[dict[str, Any]]], result: AuditResult
) -> list[tuple[dict[str, Any], Upload]]:
    """Match every listed file to the ledger; return the (file, upload) pairs to hash."""
    states = ledger.expected_states()
    by_id = {u.file_id: u for u in _acked(ledger)}
    by_name = {(u.username, u.name): u for u in ledger.uploads if u.outcome != ACKED}
    seen: Counter[int] = Counter()
    pairs = []
    for user, files in listed.items():
        for file in files:
            result.counts["listed files"] += 1
            if not file["name"].startswith(user + "-"):
                result.fail("cross-user read", f"{user}'s list holds {file['name']}")
                continue
            upload = by_id.get(file["id"]) or by_name.get((user, _NUMBERED.sub("", file["name"])))
            if upload is None:
                result.fail("unexplained file", f"{user}: {file['id']} {file['name']}")
                continue
            seen[id(upload)] += 1
            if seen[id(upload)] > 1:
                result.fail("duplicate", f"{user}: {upload.name} listed again as {file['id']}")
            if upload.outcome == REFUSED:
                result.fail("refused upload visible", _described(upload, file))
            elif upload.outcome != ACKED:
                result.counts["unanswered uploads visible"] += 1
            elif states[file["id"]] == DELETED:
                result.fail("acknowledged delete still listed", _described(upload, file))
            pairs.append((file, upload))
    listed_ids = {file["id"] for files in listed.values() for file in files}
    for upload in _acked(ledger):
        result.counts["acknowledged uploads"] += 1
        state = states[upload.file_id]
        result.counts[f"expected {state}"] += 1
        if state == LIVE and upload.file_id not in listed_ids:
            result.fail("lost", f"{upload.username}: {upload.file_id} {upload.name}")
    return pairs


def _described(upload: Upload, file: dict[str, Any]) -> str:
    return (
        f"{upload.username}: {file['id']} {file['name']} (answer {upload.status} at"
        f" {upload.ended:.1f})"
    )


def _check_bytes(
    stack: LoadStack,
    tokens: dict[str, str],
    keys: dict[int, str],
    pairs: list[tuple[dict[str, Any], Upload]],
    deleted: list[Upload],
    result: AuditResult,
) -> None:
    """Hash every listed file as downloaded and every backup copy (listed and deleted)."""
    s3 = stack.s3.client()

    def listed(pair: tuple[dict[str, Any], Upload]) -> None:
        file, upload = pair
        session = _session(stack, tokens[upload.username])
        url = f"{stack.base_url}/api/v1/files/{file['id']}/content"
        with session.get(url, stream=True, timeout=300) as answer:
            digest = _sha256(answer.iter_content(CHUNK)) if answer.status_code == 200 else "-"
        result.counts["downloads hashed"] += 1
        if digest != upload.sha256 or file["sha256"] != upload.sha256:
            result.fail(
                "download differs", f"{upload.username}: {file['id']} ({answer.status_code})"
            )
        backup(file["id"], upload)

    def backup(file_id: int, upload: Upload) -> None:
        try:
            body = s3.get_object(Bucket=BACKUP, Key=keys[file_id], ChecksumMode="DISABLED")["Body"]
            digest = _sha256(body.iter_chunks(CHUNK))
        except Exception as error:  # noqa: BLE001 -- any failure to read it is the finding
            digest = f"unreadable ({type(error).__name__})"
        result.counts["backup copies hashed"] += 1
        if digest != upload.sha256:
            result.fail("backup copy differs", f"{upload.username}: {file_id} {digest[:24]}")

    pool = Pool(4)
    pool.map(listed, pairs)
    pool.map(lambda upload: backup(upload.file_id, upload), deleted)


def _sha256(chunks: Any) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def _check_verify(stack: LoadStack, ledger: Ledger, result: AuditResult) -> None:
    """`backup verify`; explain each orphan by an unacknowledged upload; repair; verify again."""
    code, output = _run(stack, result, "backup verify", "backup", "verify")
    unanswered = {(u.username, u.name) for u in ledger.uploads if u.outcome != ACKED}
    problems = [m for m in map(_PROBLEM.match, output.splitlines()) if m]
    unsettled = {change.file_id for change in ledger.changes if change.outcome != ACKED}
    file_ids = {key: file_id for file_id, key in _keys(stack).items()}
    result.counts["verify problems"] = len(problems)
    for match in problems:
        copy, kind, owner, key = match.groups()
        name = _NUMBERED.sub("", key.partition("/")[2])
        if (owner, name) in unanswered:
            # The crash windows of an upload that got no 2xx: object written, row not (an
            # orphan), or row written, copy not (a backup still pending under its lease).
            result.counts[f"{copy} {kind} of an unacknowledged upload"] += 1
            result.notes.append(f"{copy} {kind} {key}: an upload that got no 2xx")
        elif file_ids.get(key) in unsettled:
            # A delete or restore that got no 2xx may have stopped between S3 and the row.
            result.counts[f"{copy} {kind} after a delete or restore with no 2xx"] += 1
            result.notes.append(f"{copy} {kind} {key}: a delete or restore of it got no 2xx")
        else:
            result.fail(f"{copy} {kind}", key)
    if code != 0:
        _run(stack, result, "backup verify --repair", "backup", "verify", "--repair",
             "--delete-orphans", "--orphan-min-age", "0")  # fmt: skip
        code, output = _run(stack, result, "backup verify (after repair)", "backup", "verify")
    if code != 0:
        result.fail("verify still failing", output.strip().splitlines()[-1])
