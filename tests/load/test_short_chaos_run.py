"""A short `make loadtest` with chaos (60 s, 10 users) whose ledger audit must pass.

It runs `python -m bench.load` in a child process: Locust patches the standard library for
gevent on import, which must not happen inside the test session. Timings are not asserted
(the machine is shared); the ledger audit is: nothing lost, duplicated or leaked, no
refused upload visible, no unexplained orphan, `backup verify` clean at the end.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.harness import REPO_ROOT, nginx_binary
from tests.postgres import unreachable

pytestmark = pytest.mark.load


@pytest.fixture
def server_url() -> str:
    """The PostgreSQL server the run creates (and drops) its database on."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set (CI sets it to the machine's PostgreSQL)")
    problem = unreachable(url)
    if problem:
        pytest.skip(f"PostgreSQL is not reachable at TEST_DATABASE_URL: {problem}")
    if importlib.util.find_spec("locust") is None:
        pytest.skip("Locust is not installed (make test installs the load extra)")
    if nginx_binary() is None or shutil.which("redis-server") is None:
        pytest.skip("nginx or redis-server is missing (make test installs them with apt-get)")
    return url


def test_a_short_run_under_chaos_loses_duplicates_and_leaks_nothing(
    server_url: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--seconds", "60", "--users", "10", "--chaos",
         "--database-url", server_url, "--results", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    output = f"{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
    reports = sorted(tmp_path.glob("loadtest-*Z.json"))
    assert reports, output
    report = json.loads(reports[-1].read_text())
    audit = report["audit"]
    assert audit["passed"], (audit["problems"], output)
    assert audit["counts"]["acknowledged uploads"] > 0, output
    assert audit["counts"]["downloads hashed"] > 0, output
    assert len(report["windows"]) == 6, report["windows"]  # every fault was injected
    assert (tmp_path / Path(report["png"]).name).is_file()
