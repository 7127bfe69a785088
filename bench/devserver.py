"""What `make run` gives a user on one machine: a browser-style upload against raw boto3.

Starts `python -m securestore.devserver` (SeaweedFS, gunicorn with the shipped config, the
sync timer) on free ports in a temporary instance folder, then alternates raw boto3
multipart uploads and browser-style form uploads of the same size to the same SeaweedFS and
prints the median MB/s of each and their ratio.
Run: python -m bench.devserver [MiB] [runs]
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import count
from pathlib import Path
from types import SimpleNamespace

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotoConfig
from dotenv import dotenv_values

from bench.browser import Browser
from bench.payload import MIB, GeneratedFile
from securestore.devserver import PRIMARY_BUCKET
from securestore.locals3 import free_ports


def main(size_mib: int = 256, runs: int = 3) -> None:
    port = free_ports()["s3.port"]
    with tempfile.TemporaryDirectory(prefix="devserver-bench-") as folder:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        server = subprocess.Popen(
            [sys.executable, "-m", "securestore.devserver", "--instance", folder, "--free-ports"],
            env={**env, "PORT": str(port)},
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _measure(Path(folder), f"http://127.0.0.1:{port}", size_mib * MIB, runs)
        finally:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(60)


def _measure(instance: Path, base_url: str, size: int, runs: int) -> None:
    browser = _wait_for_app(base_url)
    local = dotenv_values(instance / "local-s3.env")
    raw = boto3.client(
        "s3",
        endpoint_url=local["S3_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id=local["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=local["AWS_SECRET_ACCESS_KEY"],
        config=BotoConfig(s3={"addressing_style": "path"}),
    )
    transfer = TransferConfig(multipart_chunksize=8 * MIB, max_concurrency=4)
    raw_rates, app_rates = [], []
    names = count()
    for run in range(runs):
        started = time.perf_counter()
        raw.upload_fileobj(GeneratedFile(size), PRIMARY_BUCKET, f"raw/{run}.bin", Config=transfer)
        raw_rates.append(size / (time.perf_counter() - started) / 1e6)
        app_rates.append(size / browser.upload(f"f{next(names)}.bin", size) / 1e6)
        print(f"run {run + 1}: raw {raw_rates[-1]:.1f} MB/s, app {app_rates[-1]:.1f} MB/s")
    raw_mbs, app_mbs = statistics.median(raw_rates), statistics.median(app_rates)
    print(
        f"{size // MIB} MiB, medians of {runs}: raw boto3 {raw_mbs:.1f} MB/s,"
        f" make run {app_mbs:.1f} MB/s, ratio {app_mbs / raw_mbs:.2f}"
    )


def _wait_for_app(base_url: str) -> Browser:
    deadline = time.monotonic() + 120
    while True:
        try:
            return Browser(SimpleNamespace(base_url=base_url, cert=""), "bench")  # type: ignore[arg-type]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
