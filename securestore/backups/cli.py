"""`flask --app securestore backup sync|verify|restore`: the operator's side of backups.

Each command exits non-zero when something is still wrong, so the systemd timer's unit shows
as failed and monitoring notices.
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from securestore.auth.models import User
from securestore.auth.service import find_user
from securestore.backups import recovery, service
from securestore.backups.verify import ORPHAN, verify
from securestore.errors import SecureStoreError
from securestore.extensions import storage
from securestore.files.copies import MISMATCHED, MISSING, UNENCRYPTED, UNLOCKED

backup = AppGroup("backup", help="Backup copies: sync, verify and repair, restore.")


@backup.command("sync")
@click.option(
    "--now", "ignore_backoff", is_flag=True, help="Retry every pending copy now, ignoring backoff."
)
def sync_command(ignore_backoff: bool) -> None:
    """Copy every pending backup that is due, purge deleted files past retention, and abort
    direct uploads left unfinished past UPLOAD_EXPIRY_HOURS."""
    try:
        report = service.sync(ignore_backoff=ignore_backoff)
    except SecureStoreError as error:
        raise _failure(error) from None
    renewed = (
        f", locks renewed {report.renewed} (errors {report.renew_errors})"
        if storage.lock_mode
        else ""
    )
    accounts = (
        f"; deleted accounts: {report.waiting_deletions} file(s) wait for their backup,"
        f" {report.accounts_forgotten} account(s) forgotten"
        if report.waiting_deletions or report.accounts_forgotten
        else ""
    )
    tree = (
        f"; moves repaired {report.moves_repaired}, files moved {report.files_moved},"
        f" versions copied {report.versions_copied} (failed {report.versions_failed}),"
        f" folders purged {report.folders_purged}"
        if report.moves_repaired or report.files_moved or report.versions_copied
        or report.versions_failed or report.folders_purged
        else ""
    )  # fmt: skip
    click.echo(
        f"copied {report.copied}, failed {report.failed}, purged {report.purged}"
        f" (purge errors {report.purge_errors}){renewed}, uploads expired"
        f" {report.uploads_expired}; {_state_counts()}{accounts}{tree}"
    )
    if report.failed or report.purge_errors or report.renew_errors or report.versions_failed:
        raise SystemExit(1)


@backup.command("verify")
@click.option("--user", "username", help="Check only this user's files and objects.")
@click.option("--deep", is_flag=True, help="Read and hash every byte instead of asking S3.")
@click.option("--repair", is_flag=True, help="Recopy every bad copy from the good one.")
@click.option("--delete-orphans", is_flag=True, help="Delete objects that have no database row.")
@click.option(
    "--orphan-min-age",
    type=click.IntRange(min=0),
    default=24,
    show_default=True,
    help="Hours an orphan must have existed before --delete-orphans deletes it.",
)
def verify_command(
    username: str | None, deep: bool, repair: bool, delete_orphans: bool, orphan_min_age: int
) -> None:
    """Check both copies of every file; print each problem, then a summary."""
    user = _existing_user(username) if username else None
    try:
        report = verify(
            user=user,
            deep=deep,
            repair=repair,
            delete_orphans=delete_orphans,
            orphan_min_age=timedelta(hours=orphan_min_age),
        )
    except SecureStoreError as error:
        raise _failure(error) from None
    for problem in report.problems:
        outcome = f" -> {problem.fixed}" if problem.fixed else ""
        click.echo(
            f"{problem.copy} {problem.kind}: owner {problem.owner}, key {problem.key}:"
            f" {problem.detail}{outcome}"
        )
    fixed = len(report.problems) - len(report.unresolved)
    click.echo(
        f"checked {report.checked}, ok {report.ok}, missing {report.count(MISSING)},"
        f" mismatched {report.count(MISMATCHED)}, orphans {report.count(ORPHAN)},"
        f" fixed {fixed}, unencrypted {report.count(UNENCRYPTED)},"
        f" unlocked {report.count(UNLOCKED)}; {_lock_description()}; {_state_counts()}"
    )
    if report.unresolved:
        raise SystemExit(1)


@backup.command("restore")
@click.option("--user", "username", required=True, help="Whose files to rebuild.")
def restore_command(username: str) -> None:
    """Rebuild a user's file records and primary objects from the backup bucket."""
    try:
        report = recovery.restore_user(username)
    except SecureStoreError as error:
        raise _failure(error) from None
    name = report.user.username
    if report.created_user:
        click.echo(
            f"Created account {name} with no usable password; set one with"
            f" `flask --app securestore users set-password {name}`."
        )
    click.echo(
        f"restored {report.restored} files of {name} from s3://{storage.backup_bucket}/{name}/,"
        f" {report.present} already present"
    )


def _failure(error: SecureStoreError) -> click.ClickException:
    detail = f" ({error.detail})" if error.detail != error.message else ""
    return click.ClickException(error.message + detail)


def _existing_user(username: str) -> User:
    user = find_user(username)
    if user is None:
        raise click.ClickException(f"No user named {username!r}.")
    return user


def _lock_description() -> str:
    if storage.lock_mode is None:
        return "backup lock off"
    days = current_app.config["BACKUP_LOCK_DAYS"]
    return f"backup lock {storage.lock_mode.lower()}, at least {days} days"


def _state_counts() -> str:
    counts = service.counts()
    return (
        f"backups: {counts.done} done, {counts.pending} pending, {counts.failed} failed,"
        f" {counts.verified} verified, {counts.deleted} deleted within retention"
    )
