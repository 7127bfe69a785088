"""`make run`: a local SeaweedFS with both buckets, then the app on http://127.0.0.1:5000.

Everything lives under `instance/`: the S3 data (`s3/`), the generated S3 key and bucket
names (`local-s3.env`) and the session secret (`secret.env`), both mode 0600, so accounts and
files survive restarts. Ctrl-C stops the app and SeaweedFS.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from pathlib import Path
from types import FrameType

from flask_migrate import upgrade
from werkzeug.serving import run_simple

from securestore import create_app
from securestore.config import load_development_env
from securestore.locals3 import HOST, LocalS3, LocalS3Error, port_is_free

PRIMARY_BUCKET = "securestore-primary"
BACKUP_BUCKET = "securestore-backup"


def write_private_env(path: Path, values: dict[str, str]) -> None:
    """Write `KEY=value` lines readable by the owner only (the file holds secrets)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.writelines(f"{key}={value}\n" for key, value in values.items())
    os.chmod(path, 0o600)


def ensure_local_settings(instance: Path, s3_port: int) -> None:
    """Generate the local S3 key and the session secret once; later runs reuse them."""
    s3_env = instance / "local-s3.env"
    if not s3_env.exists():
        write_private_env(
            s3_env,
            {
                "AWS_ACCESS_KEY_ID": "local" + secrets.token_hex(8),
                "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(32),
                "S3_ENDPOINT_URL": f"http://{HOST}:{s3_port}",
                "S3_PRIMARY_BUCKET": PRIMARY_BUCKET,
                "S3_BACKUP_BUCKET": BACKUP_BUCKET,
            },
        )
    secret_env = instance / "secret.env"
    if not secret_env.exists():
        write_private_env(secret_env, {"SECRET_KEY": secrets.token_hex(32)})


def main(argv: list[str] | None = None) -> int:
    """Start SeaweedFS and the app; return the exit status for the shell."""
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    # The checkout's instance/ folder: the same one Flask picks for a package not installed
    # in site-packages, so `flask --app securestore ...` in the checkout shares its data.
    instance = Path(__file__).resolve().parent.parent / "instance"
    port = int(os.environ.get("PORT", "5000"))

    os.environ["SECURESTORE_ENV"] = "development"
    local_s3 = LocalS3(instance / "s3", (PRIMARY_BUCKET, BACKUP_BUCKET), "", "")
    ensure_local_settings(instance, local_s3.ports["s3.port"])
    load_development_env(str(instance))
    local_s3.access_key = os.environ["AWS_ACCESS_KEY_ID"]
    local_s3.secret_key = os.environ["AWS_SECRET_ACCESS_KEY"]

    taken = local_s3.taken_ports() + ([] if port_is_free(port) else [f"{port} (app, PORT)"])
    if taken:
        print("Cannot start: ports already in use: " + ", ".join(taken), file=sys.stderr)
        return 1
    # Ctrl-C, and SIGTERM from `kill` or a supervisor, stop SeaweedFS too. SIGINT is set
    # explicitly because a shell starting us in the background would have it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    print(f"Starting SeaweedFS (S3 on {local_s3.endpoint_url}, data in {local_s3.data_dir})")
    try:
        local_s3.start()
        app = create_app()
        with app.app_context():
            upgrade()
        print(f"SecureStore is running on http://{HOST}:{port}  (Ctrl-C stops it)")
        run_simple(HOST, port, app, threaded=True)
    except LocalS3Error as error:
        print(f"Cannot start SeaweedFS: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping SeaweedFS")
        local_s3.stop()
    return 0


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
