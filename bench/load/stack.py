"""The load test's stack on loopback, every server private to the run, with handles for chaos.

SeaweedFS (`securestore.locals3`), a fresh PostgreSQL database on the machine's server, a
private `redis-server` for the shared throttle, two app instances under gunicorn with the
shipped config (`tests.deploy.harness.running_gunicorn`) and nginx with the shipped site in
front of both. Each chaos action acts on one of these processes by its own handle, never on
a process found by name; the machine's shared Redis and PostgreSQL server are never stopped.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from unittest import mock

import psutil
import redis
import sqlalchemy as sa
from flask import Flask

from bench.stack import app_environment, certificate, migrate
from securestore import config as settings
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
from tests.postgres import fresh_database

PRIMARY = "load-primary"
BACKUP = "load-backup"
# Every Locust user reaches the app from 127.0.0.1 through nginx, so the per-address login
# throttle would pause the whole crowd once the attackers used it up. It is raised beyond
# what the attackers can reach in a run; the per-account limit keeps its shipped value and
# is what throttles them (docs/reliability.md).
ADDRESS_LIMIT = "1000000"


class StackError(RuntimeError):
    """Something the stack needs is missing or did not start; the message says what."""


@dataclass
class Instance:
    """One app instance: a gunicorn master on its own unix socket, which nginx forwards to."""

    name: str
    root: Path
    env: dict[str, str]
    _exits: contextlib.ExitStack | None = field(default=None, init=False, repr=False)
    gunicorn: Gunicorn | None = field(default=None, init=False, repr=False)

    @property
    def socket(self) -> Path:
        return self.root / f"{self.name}.sock"

    def start(self) -> None:
        """Start gunicorn and return once /healthz answers on its socket."""
        exits = contextlib.ExitStack()
        log = self.root / f"gunicorn-{self.name}.log"
        self.gunicorn = exits.enter_context(running_gunicorn(self.socket, self.env, log))
        self._exits = exits

    def stop(self) -> None:
        """Stop gunicorn as systemd would (SIGTERM: in-flight requests may finish)."""
        exits, self._exits, self.gunicorn = self._exits, None, None
        if exits is not None:
            exits.close()

    def workers(self) -> list[psutil.Process]:
        """The worker processes (the master only forks and watches them)."""
        if self.gunicorn is None:
            return []
        try:
            return psutil.Process(self.gunicorn.process.pid).children()
        except psutil.NoSuchProcess:
            return []


@dataclass
class PrivateRedis:
    """A `redis-server` of this run only, without persistence, restartable on its port."""

    root: Path
    port: int = field(default_factory=lambda: free_ports(1)[0])
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 20) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise StackError("redis-server is missing: apt-get install -y redis-server")
        command = [
            binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", str(self.root),
        ]  # fmt: skip
        with open(self.root / "redis.log", "ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    raise StackError(f"redis-server did not start; see {self.root}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(10)


@dataclass
class LoadStack:
    """What the load users talk to, what the chaos acts on, and what the audit reads."""

    root: Path
    s3: LocalS3
    redis: PrivateRedis
    database_url: str
    instances: list[Instance]
    env: dict[str, str]
    base_url: str = ""
    cert: Path | None = None
    _killed: int = field(default=0, init=False)

    # -- chaos -----------------------------------------------------------------------------

    def kill_worker(self) -> str:
        """SIGKILL one gunicorn worker, taking the instances in turn; say which."""
        running = [i for i in self.instances if i.workers()]
        if not running:
            return "no worker running"
        instance = running[self._killed % len(running)]
        worker = instance.workers()[0]
        self._killed += 1
        worker.send_signal(signal.SIGKILL)
        return f"worker {worker.pid} of instance {instance.name}"

    def stop_object_store(self) -> None:
        self.s3.stop()

    def start_object_store(self) -> None:
        """Start SeaweedFS again on the same ports and data (it keeps every object)."""
        self.s3.start()

    def cut_database_connections(self) -> int:
        """Terminate every app connection to the run's database; return how many there were."""
        name = sa.engine.make_url(self.database_url).database
        engine = sa.create_engine(self.database_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                return len(
                    connection.execute(
                        sa.text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = :name AND pid <> pg_backend_pid()"
                        ),
                        {"name": name},
                    ).all()
                )
        finally:
            engine.dispose()

    # -- operator's tools ------------------------------------------------------------------

    def flask(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run `flask --app securestore ...` as an operator would, outside the checkout."""
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "securestore", *args],
            cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    @contextlib.contextmanager
    def cli_app(self) -> Iterator[Flask]:
        """The app in this process, on the stack's settings, to run CLI commands in bulk.

        boto3 reads its credentials from the process environment, not from the app's settings,
        so the stack's S3 identity is lent to this process while the app is in use (`users
        create` looks for objects left under the name).
        """
        instance = str(self.root / "cli" / "instance")
        credentials = {key: value for key, value in self.env.items() if key.startswith("AWS_")}
        with mock.patch.dict(os.environ, credentials):
            yield create_app(settings.settings_from_environ(self.env, instance))


def _instance_env(common: Mapping[str, str], home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {**common, "HOME": str(home), "SECURESTORE_INSTANCE_PATH": str(home / "instance")}


@contextlib.contextmanager
def running_load_stack(root: Path, server_url: str, users: int) -> Iterator[LoadStack]:
    """Start everything, yield the stack, then stop it all and drop the database.

    All `users` reach nginx from 127.0.0.1: each gets the shipped per-address connection
    limits as its own, as each would from its own address in production.
    """
    nginx = nginx_binary()
    if nginx is None:
        raise StackError("nginx is missing: apt-get install -y nginx")
    with contextlib.ExitStack() as exits:
        database_url = exits.enter_context(fresh_database(server_url, "securestore_load"))
        migrate(database_url)
        s3 = LocalS3.throwaway(root, (PRIMARY, BACKUP), "load")
        s3.start()
        exits.callback(s3.stop)
        private_redis = PrivateRedis(root)
        private_redis.start()
        exits.callback(private_redis.stop)
        env = app_environment(
            s3,
            home=root,
            database_url=database_url,
            secret_key=secrets.token_urlsafe(32),  # shared by both instances, as in production
            primary=PRIMARY,
            backup_bucket=BACKUP,
        )
        env.update(
            REDIS_URL=private_redis.url,
            REDIS_KEY_PREFIX=f"securestore-load-{secrets.token_hex(4)}:",
            LOGIN_ADDRESS_LIMIT=ADDRESS_LIMIT,
            GUNICORN_LOG_LEVEL="warning",
        )
        instances = [Instance(name, root, _instance_env(env, root / name)) for name in "ab"]
        stack = LoadStack(root, s3, private_redis, database_url, instances, env)
        for instance in instances:
            instance.start()
            exits.callback(instance.stop)
        cert, key = certificate(root)
        http_port, https_port = free_ports(2)
        site = NginxSite(
            http_port=http_port,
            https_port=https_port,
            upstreams=tuple(f"unix:{instance.socket}" for instance in instances),
            static_dir=Path(str(resources.files("securestore") / "static")),
            cert=cert,
            key=key,
            clients_per_address=users,
        )
        exits.enter_context(running_nginx(nginx, root / "nginx", site))
        stack.base_url = f"https://127.0.0.1:{site.https_port}"
        stack.cert = cert
        yield stack
