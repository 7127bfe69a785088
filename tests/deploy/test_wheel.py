"""The wheel an operator installs carries everything the deployment runs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.deploy.harness import REPO_ROOT


def test_wheel_holds_the_entry_point_gunicorn_config_migrations_and_assets(
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
