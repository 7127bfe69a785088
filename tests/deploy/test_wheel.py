"""The wheel an operator installs carries everything the deployment runs."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.deploy.harness import REPO_ROOT

VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
DEPLOYMENT_FILES = [
    "deploy/user-data.sh",
    "deploy/securestore.env.example",
    "nginx/securestore.conf",
    *(f"systemd/{path.name}" for path in sorted((REPO_ROOT / "systemd").iterdir())),
]


def test_wheel_holds_the_entry_point_config_migrations_assets_and_deployment_files(
    tmp_path: Path,
) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(REPO_ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    (wheel,) = tmp_path.glob("securestore-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    for required in (
        "wsgi.py",  # ExecStart: gunicorn ... wsgi:app
        "securestore/gunicorn_conf.py",  # --config python:securestore.gunicorn_conf
        "securestore/migrations/alembic.ini",  # flask --app securestore db upgrade
        "securestore/migrations/env.py",
        "securestore/templates/base.html",
        "securestore/static/securestore.css",  # nginx serves /static/ from the package
    ):
        assert required in names, required
    assert any(n.startswith("securestore/migrations/versions/") and n.endswith(".py")
               and not n.endswith("__init__.py") for n in names)
    # deploy/user-data.sh of a wheel installs the files next to it: the shipped ones, unchanged.
    with zipfile.ZipFile(wheel) as archive:
        for shipped in DEPLOYMENT_FILES:
            carried = f"securestore-{VERSION}.data/data/share/securestore/{shipped}"
            assert archive.read(carried) == (REPO_ROOT / shipped).read_bytes(), shipped
