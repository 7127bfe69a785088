"""The production shape on loopback for the benchmark: SeaweedFS, gunicorn, nginx.

Reuses what the project already ships and tests: `securestore.locals3` for SeaweedFS, and the
deployment tests' harness, which runs gunicorn with `securestore.gunicorn_conf` and nginx with
the shipped `nginx/securestore.conf` changing only ports, paths and the upstream. Every server
is a child of this process on free ports, stopped by its own handle.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import psutil
from botocore.config import Config as BotoConfig
from flask import Flask
from flask_migrate import upgrade

from securestore import create_app
from securestore.locals3 import LocalS3
from tests.deploy.harness import (
    Gunicorn,
    NginxSite,
    free_ports,
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
    ceiling_url: str
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

    def ceiling_get_url(self, key: str, client: Any) -> str:
        """A presigned GET of `key` in the primary bucket, through nginx's ceiling server."""
        url = client.generate_presigned_url(
            "get_object", Params={"Bucket": PRIMARY, "Key": key}, ExpiresIn=3600
        )
        parts = urlsplit(url)
        return f"{self.ceiling_url}{parts.path}?{parts.query}"

    def file_id(self, name: str) -> int:
        """The id of the stored file called `name` (each run's names are unique)."""
        with sqlite3.connect(self.database) as connection:
            (found,) = connection.execute(
                "SELECT id FROM stored_files WHERE name = ?", (name,)
            ).fetchone()
        return int(found)

    def app_processes(self) -> list[psutil.Process]:
        """The gunicorn workers (the master only forks and watches them)."""
        assert self.gunicorn is not None
        return psutil.Process(self.gunicorn.process.pid).children()

    def nginx_processes(self) -> list[psutil.Process]:
        master = psutil.Process(int((self.nginx_prefix / "nginx.pid").read_text()))
        return [master, *master.children()]


@dataclass(frozen=True)
class BenchSite(NginxSite):
    """The shipped site plus a "ceiling" server: the same TLS and proxy settings, no app.

    It proxies every request to SeaweedFS, so a download through it is the fastest the path
    through nginx can be; the app's download through nginx is compared with it.
    """

    ceiling_port: int = 0
    s3_endpoint: str = ""

    def render(self, shipped: str) -> str:
        text = super().render(shipped)
        return text + ceiling_server(text, self.https_port, self.ceiling_port, self.s3_endpoint)


def ceiling_server(site: str, https_port: int, port: int, s3_endpoint: str) -> str:
    """The rendered site's HTTPS server with its locations swapped for a proxy to S3.

    Everything at the server level stays (TLS, headers, proxy buffers and timeouts); the Host
    header is S3's own, since a presigned URL is signed for it.
    """
    listen = f"listen 127.0.0.1:{https_port} ssl;"
    start = site.rfind("server {", 0, site.index(listen))
    head = site[start : site.index("\n    location ", start)]
    head = head.replace(listen, f"listen 127.0.0.1:{port} ssl;")
    head = re.sub(r"\n\s*listen \[::1\]:\d+ ssl;", "", head)
    host = urlsplit(s3_endpoint).netloc
    return (
        f"\n# The benchmark's ceiling: nginx to SeaweedFS, no app.\n{head}\n"
        f"    location / {{\n"
        f"        proxy_pass {s3_endpoint};\n"
        f'        proxy_set_header Connection "";\n'
        f"        proxy_set_header Host {host};\n"
        f"    }}\n}}\n"
    )


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that nginx serves and the clients trust."""
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


def app_environment(
    s3: LocalS3,
    *,
    home: Path,
    database_url: str,
    secret_key: str,
    primary: str = PRIMARY,
    backup_bucket: str = BACKUP,
) -> dict[str, str]:
    """What the service's EnvironmentFile would hold for this stack, plus the local S3's key.

    `S3_*` tuning variables of the caller's environment pass through, so a run can try them.
    """
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "SECURESTORE_ENV": "production",
        "SECURESTORE_INSTANCE_PATH": str(home / "instance"),
        "SECRET_KEY": secret_key,
        "DATABASE_URL": database_url,
        "S3_PRIMARY_BUCKET": primary,
        "S3_BACKUP_BUCKET": backup_bucket,
        "S3_ENDPOINT_URL": s3.endpoint_url,
        "S3_REGION": "us-east-1",
        "TRUSTED_PROXY_COUNT": "1",
        # Two workers of four threads: eight uploads at once, as the concurrency test sends.
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "4",
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "LOG_LEVEL": "WARNING",
        **{k: v for k, v in os.environ.items() if k.startswith("S3_") and k != "S3_ENDPOINT_URL"},
    }


def local_app(stack: Stack) -> Flask:
    """The app in this process, on the stack's database and S3: what `flask` commands run
    on (with the local S3's key in this process's environment, see `running_stack`)."""
    return create_app(
        {
            "SECRET_KEY": secrets.token_hex(32),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{stack.database}",
            "S3_PRIMARY_BUCKET": PRIMARY,
            "S3_BACKUP_BUCKET": BACKUP,
            "S3_ENDPOINT_URL": stack.s3.endpoint_url,
            "S3_REGION": "us-east-1",
        }
    )


def migrate(database_url: str) -> None:
    """Build the schema with the migrations, as `flask db upgrade` does at deploy time (the
    load test's PostgreSQL as well as this stack's SQLite)."""
    app = create_app(
        {
            "SECRET_KEY": secrets.token_hex(32),
            "SQLALCHEMY_DATABASE_URI": database_url,
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
    # For `local_app`, as the tests give it: boto3's default chain reads them.
    os.environ.update(
        AWS_ACCESS_KEY_ID=s3.access_key,
        AWS_SECRET_ACCESS_KEY=s3.secret_key,
        AWS_EC2_METADATA_DISABLED="true",
    )
    try:
        cert, key = certificate(root)
        http_port, https_port, ceiling_port = free_ports(3)
        socket_path = root / "gunicorn.sock"
        site = BenchSite(
            http_port=http_port,
            https_port=https_port,
            upstreams=(f"unix:{socket_path}",),
            static_dir=Path(str(resources.files("securestore") / "static")),
            cert=cert,
            key=key,
            ceiling_port=ceiling_port,
            s3_endpoint=s3.endpoint_url,
        )
        with running_nginx(nginx, root / "nginx", site) as prefix:
            yield Stack(
                root=root,
                s3=s3,
                nginx_prefix=prefix,
                base_url=f"https://127.0.0.1:{https_port}",
                cert=cert,
                database=root / "bench.db",
                ceiling_url=f"https://127.0.0.1:{ceiling_port}",
            )
    finally:
        s3.stop()


@contextmanager
def running_app(stack: Stack, backup_bucket: str, **settings: str) -> Iterator[Gunicorn]:
    """Run the app under gunicorn (shipped config) on the socket nginx forwards to.

    `settings` are more environment variables for it, such as `DOWNLOAD_MODE="redirect"`.
    """
    secret_key = secrets.token_hex(32)
    database_url = f"sqlite:///{stack.database}"
    if not stack.database.exists():
        migrate(f"sqlite:///{stack.database}")
    env = (
        app_environment(
            stack.s3,
            home=stack.root,
            database_url=database_url,
            secret_key=secret_key,
            backup_bucket=backup_bucket,
        )
        | settings
    )
    log = stack.root / "-".join(["gunicorn", backup_bucket, *settings.values()])
    with running_gunicorn(stack.root / "gunicorn.sock", env, log.with_suffix(".log")) as gunicorn:
        stack.gunicorn = gunicorn
        try:
            yield gunicorn
        finally:
            stack.gunicorn = None
