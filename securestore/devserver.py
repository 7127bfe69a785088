"""`make run`: a local SeaweedFS with both buckets, then the app on http://127.0.0.1:5000.

The app runs under gunicorn with the shipped `securestore.gunicorn_conf` (threads, timeouts),
as in production, with `backup sync` every minute beside it as the systemd timer does there.
Everything lives under `instance/`: the S3 data (`s3/`), the generated S3 keys and bucket
names (`local-s3.env`) and the session secret (`secret.env`), both mode 0600, so accounts and
files survive restarts. Settings in the environment reach the app (`REGISTRATION=invite make
run`). Ctrl-C stops the app and SeaweedFS.

The backup bucket is created with Object Lock and the app runs with `BACKUP_LOCK_MODE=
governance` under an S3 identity of its own, without admin rights; the admin identity that
creates the buckets (`S3_ADMIN_ACCESS_KEY_ID`) is used by nothing else. An `instance/` made
before that keeps its single key and unlocked bucket; `--lock-backups` moves it over.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import FrameType

from flask import Flask
from flask_migrate import upgrade

from securestore import create_app
from securestore.backups import service as backups
from securestore.config import load_development_env
from securestore.locals3 import HOST, LocalS3, LocalS3Error, free_ports, port_is_free

PRIMARY_BUCKET = "securestore-primary"
BACKUP_BUCKET = "securestore-backup"
# Where --lock-backups moves the backups of an instance/ made before Object Lock.
LOCKED_BACKUP_BUCKET = "securestore-backup-locked"
LOCK_MODE = "governance"  # a developer can still clear it with the admin key
CHECKOUT_INSTANCE = Path(__file__).resolve().parent.parent / "instance"
# Two workers are plenty on a laptop; production's default is 2 x CPUs + 1.
DEFAULT_WORKERS = "2"
SYNC_SECONDS = 60

log = logging.getLogger(__name__)


class StartError(RuntimeError):
    """The app server could not be started; the message says why."""


def write_private_env(path: Path, values: dict[str, str]) -> None:
    """Write `KEY=value` lines readable by the owner only (the file holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.writelines(f"{key}={value}\n" for key, value in values.items())
    os.chmod(path, 0o600)


def ensure_local_settings(instance: Path, s3_port: int) -> None:
    """Generate the local S3 keys and the session secret once; later runs reuse them."""
    s3_env = instance / "local-s3.env"
    if not s3_env.exists():
        write_private_env(
            s3_env,
            {
                **_new_key("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "local"),
                **_new_key("S3_ADMIN_ACCESS_KEY_ID", "S3_ADMIN_SECRET_ACCESS_KEY", "admin"),
                "S3_ENDPOINT_URL": f"http://{HOST}:{s3_port}",
                "S3_PRIMARY_BUCKET": PRIMARY_BUCKET,
                "S3_BACKUP_BUCKET": BACKUP_BUCKET,
                "BACKUP_LOCK_MODE": LOCK_MODE,
            },
        )
    secret_env = instance / "secret.env"
    if not secret_env.exists():
        write_private_env(secret_env, {"SECRET_KEY": secrets.token_hex(32)})


def _new_key(id_name: str, secret_name: str, prefix: str) -> dict[str, str]:
    return {id_name: prefix + secrets.token_hex(8), secret_name: secrets.token_urlsafe(32)}


def read_env(path: Path) -> dict[str, str]:
    """The `KEY=value` lines of a file `write_private_env` wrote."""
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def seaweedfs_for(
    instance: Path, settings: dict[str, str], ports: dict[str, int] | None = None
) -> LocalS3:
    """The SeaweedFS that `settings` (instance/local-s3.env) describes.

    With an admin key: the admin and app identities and a locked backup bucket. Without (an
    instance/ from before Object Lock): one key, both buckets plain, as that version ran.
    """
    primary, backup = settings["S3_PRIMARY_BUCKET"], settings["S3_BACKUP_BUCKET"]
    app_key = (settings["AWS_ACCESS_KEY_ID"], settings["AWS_SECRET_ACCESS_KEY"])
    server = LocalS3(instance / "s3", (primary, backup), *app_key)
    if "S3_ADMIN_ACCESS_KEY_ID" in settings:
        admin_key = (settings["S3_ADMIN_ACCESS_KEY_ID"], settings["S3_ADMIN_SECRET_ACCESS_KEY"])
        server = LocalS3(
            instance / "s3",
            (primary,),
            *admin_key,
            locked_buckets=(backup,),
            app_key=app_key,
            lock_days=int(os.environ.get("BACKUP_LOCK_DAYS") or 30),
        )
    if ports is not None:
        server.ports = ports
    return server


def lock_backups(instance: Path, ports: dict[str, int] | None) -> int:
    """Move an old instance/'s backups to a new bucket under Object Lock, then switch to it.

    The old key was SeaweedFS's admin: it stays the admin, and the app gets a new key of its
    own. The admin copies every backup object over (server-side, with its metadata); then
    instance/local-s3.env names the new bucket, the lock mode and both keys, and one
    `backup sync` locks the copy of every file. The old bucket is left as it was.
    """
    s3_env = instance / "local-s3.env"
    settings = read_env(s3_env)
    if "S3_ADMIN_ACCESS_KEY_ID" in settings:
        print(f"{s3_env} already has locked backups in {settings['S3_BACKUP_BUCKET']}")
        return 0
    moved = {
        **settings,
        "S3_ADMIN_ACCESS_KEY_ID": settings["AWS_ACCESS_KEY_ID"],
        "S3_ADMIN_SECRET_ACCESS_KEY": settings["AWS_SECRET_ACCESS_KEY"],
        **_new_key("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "local"),
        "S3_BACKUP_BUCKET": LOCKED_BACKUP_BUCKET,
        "BACKUP_LOCK_MODE": LOCK_MODE,
    }
    target = seaweedfs_for(instance, moved, ports)
    # The old bucket stays served (and readable by the admin) while it is copied from.
    target.buckets += (settings["S3_BACKUP_BUCKET"],)
    target.start()
    try:
        admin = target.client()
        pages = admin.get_paginator("list_objects_v2").paginate(Bucket=settings["S3_BACKUP_BUCKET"])
        count = 0
        for item in (item for page in pages for item in page.get("Contents", [])):
            admin.copy_object(
                Bucket=LOCKED_BACKUP_BUCKET,
                Key=item["Key"],
                CopySource={"Bucket": settings["S3_BACKUP_BUCKET"], "Key": item["Key"]},
                ServerSideEncryption="AES256",
            )
            count += 1
        write_private_env(s3_env, moved)
        os.environ.update(moved)
        app = create_app()
        with app.app_context():
            upgrade()
            report = backups.sync(ignore_backoff=True)
    finally:
        target.stop()
    print(
        f"Copied {count} backup objects to {LOCKED_BACKUP_BUCKET} (Object Lock, {LOCK_MODE});"
        f" locked {report.renewed} files' copies ({report.renew_errors} errors). {s3_env} now"
        f" uses that bucket and a new app key. The old bucket {settings['S3_BACKUP_BUCKET']}"
        " is left as it was."
    )
    return 1 if report.renew_errors or report.failed else 0


def gunicorn_command(port: int) -> list[str]:
    """The production server command, bound to loopback (the shipped config otherwise)."""
    return [
        sys.executable, "-m", "gunicorn",
        "--config", "python:securestore.gunicorn_conf",
        "--bind", f"{HOST}:{port}",
        "wsgi:app",
    ]  # fmt: skip


class SyncTimer:
    """Run `backup sync` every `SYNC_SECONDS` in this process, as systemd's timer does."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="backup-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopped.wait(SYNC_SECONDS):
            try:
                with self._app.app_context():
                    report = backups.sync()
            except Exception:
                log.exception("backup sync failed; the next run tries again")
                continue
            if report.copied or report.failed or report.purged:
                print(f"backup sync: {report}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Start SeaweedFS, the app under gunicorn and the sync timer; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instance", type=Path, default=CHECKOUT_INSTANCE, help=argparse.SUPPRESS)
    # For tests: SeaweedFS on free ports instead of its defaults.
    parser.add_argument("--free-ports", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--lock-backups",
        action="store_true",
        help="move an old instance/'s backups to a bucket under Object Lock, then exit",
    )
    options = parser.parse_args(argv)
    # The checkout's instance/ folder is the one Flask picks for a package not installed in
    # site-packages, so `flask --app securestore ...` in the checkout shares its data.
    instance: Path = options.instance.resolve()
    port = int(os.environ.get("PORT", "5000"))

    os.environ["SECURESTORE_ENV"] = "development"
    os.environ["SECURESTORE_INSTANCE_PATH"] = str(instance)
    os.environ.setdefault("GUNICORN_WORKERS", DEFAULT_WORKERS)
    ports = free_ports() if options.free_ports else None
    ensure_local_settings(instance, ports["s3.port"] if ports else 8333)
    load_development_env(str(instance))
    if options.lock_backups:
        return lock_backups(instance, ports)
    local_s3 = seaweedfs_for(instance, read_env(instance / "local-s3.env"), ports)
    if local_s3.app_key is None:
        print(
            "This instance/ was made before backups were locked: its backup bucket has no"
            " Object Lock and the app holds the admin key. To move it (with make run"
            f" stopped): {sys.executable} -m securestore.devserver --lock-backups",
            flush=True,
        )

    taken = local_s3.taken_ports() + ([] if port_is_free(port) else [f"{port} (app, PORT)"])
    if taken:
        print("Cannot start: ports already in use: " + ", ".join(taken), file=sys.stderr)
        return 1
    # Ctrl-C, and SIGTERM from `kill` or a supervisor, stop everything. SIGINT is set
    # explicitly because a shell starting us in the background would have it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    print(f"Starting SeaweedFS (S3 on {local_s3.endpoint_url}, data in {local_s3.data_dir})")
    server: subprocess.Popen[bytes] | None = None
    timer: SyncTimer | None = None
    try:
        local_s3.start()
        site = [f"http://{HOST}:{port}", f"http://localhost:{port}"]
        local_s3.allow_browser_uploads(local_s3.buckets[0], site)
        app = create_app()
        with app.app_context():
            upgrade()
        # A session of its own, so that stopping it stops every worker, even one still booting.
        server = subprocess.Popen(gunicorn_command(port), start_new_session=True)  # noqa: S603
        _wait_until_serving(server, port)
        timer = SyncTimer(app)
        timer.start()
        print(f"SecureStore is running on http://{HOST}:{port}  (Ctrl-C stops it)", flush=True)
        return_code = server.wait()
        return 0 if return_code == 0 else 1
    except LocalS3Error as error:
        print(f"Cannot start SeaweedFS: {error}", file=sys.stderr)
        return 1
    except StartError as error:
        print(f"Cannot start the app: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        if timer is not None:
            timer.stop()
        if server is not None:
            _stop(server)
        print("Stopping SeaweedFS")
        local_s3.stop()


def _wait_until_serving(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise StartError(f"gunicorn exited with {server.returncode}; see its log above")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2):  # noqa: S310
                return
        except OSError:
            time.sleep(0.2)
    raise StartError("gunicorn did not answer /healthz within 60 s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop gunicorn and its workers: a quick shutdown (SIGINT), then SIGKILL after 30 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGINT)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # a worker left behind by its master
    server.wait()


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
