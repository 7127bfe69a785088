"""The production shape on loopback for the benchmark: SeaweedFS, gunicorn, nginx.

Reuses what the project already ships and tests: `securestore.locals3` for SeaweedFS, and the
deployment tests' harness, which runs gunicorn with `securestore.gunicorn_conf` and nginx with
the shipped `nginx/securestore.conf` changing only ports, paths and the upstream. Every server
is a child of this process on free ports, stopped by its own handle.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import boto3
import psutil
from botocore.config import Config as BotoConfig
from flask_migrate import upgrade

from securestore import create_app
from securestore.locals3 import LocalS3
from tests.deploy.harness import (
    Gunicorn,
    NginxSite,
    free_port,
    nginx_binary,
    running_gunicorn,
    running_nginx,
)

PRIMARY = "bench-primary"
BACKUP = "bench-backup"
# A bucket name botocore refuses before sending a request: the app's backup copy then fails at
# once, which measures the upload alone (the file stays "pending"). A bucket that does not
# exist would not do: SeaweedFS answers a copy into it with a 500, which botocore retries
# with backoff (130-290 ms per upload).
NO_BACKUP = "bench-no-backup!"


@dataclass
class Stack:
    """What the benchmark talks to and watches."""

    root: Path
    s3: LocalS3
    nginx_prefix: Path
    base_url: str
    cert: Path
    database: Path
    gunicorn: Gunicorn | None = None

    def raw_client(self, pool: int = 32) -> Any:
        """A plain boto3 client on the same S3: the ceiling the app is compared with."""
        return boto3.client(
            "s3",
            endpoint_url=self.s3.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.s3.access_key,
            aws_secret_access_key=self.s3.secret_key,
            config=BotoConfig(s3={"addressing_style": "path"}, max_pool_connections=pool),
        )

    def app_processes(self) -> list[psutil.Process]:
        """The gunicorn workers (the master only forks and watches them)."""
        assert self.gunicorn is not None
        return psutil.Process(self.gunicorn.process.pid).children()

    def nginx_processes(self) -> list[psutil.Process]:
        master = psutil.Process(int((self.nginx_prefix / "nginx.pid").read_text()))
        return [master, *master.children()]


def _certificate(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit("openssl is missing: apt-get install -y openssl")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def _app_environment(stack: Stack, backup_bucket: str, secret_key: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(stack.root),
        "SECURESTORE_ENV": "production",
        "SECURESTORE_INSTANCE_PATH": str(stack.root / "instance"),
        "SECRET_KEY": secret_key,
        "DATABASE_URL": f"sqlite:///{stack.database}",
        "S3_PRIMARY_BUCKET": PRIMARY,
        "S3_BACKUP_BUCKET": backup_bucket,
        "S3_ENDPOINT_URL": stack.s3.endpoint_url,
        "S3_REGION": "us-east-1",
        "TRUSTED_PROXY_COUNT": "1",
        # Two workers of four threads: eight uploads at once, as the concurrency test sends.
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
        "AWS_ACCESS_KEY_ID": stack.s3.access_key,
        "AWS_SECRET_ACCESS_KEY": stack.s3.secret_key,
        "LOG_LEVEL": "WARNING",
        **{k: v for k, v in os.environ.items() if k.startswith("S3_") and k != "S3_ENDPOINT_URL"},
    }


def _migrate(stack: Stack, secret_key: str) -> None:
    app = create_app(
        {
            "SECRET_KEY": secret_key,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{stack.database}",
            "S3_PRIMARY_BUCKET": PRIMARY,
            "S3_BACKUP_BUCKET": BACKUP,
        }
    )
    with app.app_context():
        upgrade()


@contextmanager
def running_stack(root: Path) -> Iterator[Stack]:
    """Start SeaweedFS and nginx; `app(stack, backup_bucket)` starts gunicorn behind them."""
    nginx = nginx_binary()
    if nginx is None:
        raise SystemExit("nginx is missing: apt-get install -y nginx")
    s3 = LocalS3.throwaway(root, (PRIMARY, BACKUP), "bench")
    s3.start()
    try:
        cert, key = _certificate(root)
        https_port = free_port()
        socket_path = root / "gunicorn.sock"
        site = NginxSite(
            http_port=free_port(),
            https_port=https_port,
            upstreams=(f"unix:{socket_path}",),
            static_dir=Path(str(resources.files("securestore") / "static")),
            cert=cert,
            key=key,
        )
        with running_nginx(nginx, root / "nginx", site) as prefix:
            yield Stack(
                root=root,
                s3=s3,
                nginx_prefix=prefix,
                base_url=f"https://127.0.0.1:{https_port}",
                cert=cert,
                database=root / "bench.db",
            )
    finally:
        s3.stop()


@contextmanager
def running_app(stack: Stack, backup_bucket: str) -> Iterator[Gunicorn]:
    """Run the app under gunicorn (shipped config) on the socket nginx forwards to."""
    secret_key = secrets.token_hex(32)
    if not stack.database.exists():
        _migrate(stack, secret_key)
    env = _app_environment(stack, backup_bucket, secret_key)
    with running_gunicorn(
        stack.root / "gunicorn.sock", env, stack.root / f"gunicorn-{backup_bucket}.log"
    ) as gunicorn:
        stack.gunicorn = gunicorn
        try:
            yield gunicorn
        finally:
            stack.gunicorn = None
