"""No AWS key material, private key or filled-in secret is ever committed."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.deploy.harness import REPO_ROOT

# Built from parts so this file does not match its own patterns.
ACCESS_KEY_ID = re.compile(r"\b(?:AK" + r"IA|AS" + r"IA)[0-9A-Z]{16}\b")
SECRET_ASSIGNMENT = re.compile(
    r"(?i)\b(aws_secret_access_key|aws_session_token|secret_key|password)\b"
    r"[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40,})"
)
PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE " + r"KEY-----")
SKIP_DIRS = {".git", ".venv", "instance", "node_modules", "__pycache__", ".pytest_cache",
             ".ruff_cache", ".mypy_cache", "build", "dist", "test-artifacts"}


def _repository_files() -> list[Path]:
    """Every file git would commit: tracked plus untracked-but-not-ignored."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO_ROOT, capture_output=True, check=True,
        ).stdout.decode().split("\0")
        return [REPO_ROOT / name for name in listed if name and (REPO_ROOT / name).is_file()]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the tree
        return [
            path for path in REPO_ROOT.rglob("*")
            if path.is_file() and not SKIP_DIRS.intersection(path.relative_to(REPO_ROOT).parts)
        ]


def _findings() -> list[str]:
    found = []
    for path in _repository_files():
        try:
            text = path.read_text(errors="ignore")
        except OSError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for pattern in (ACCESS_KEY_ID, SECRET_ASSIGNMENT, PRIVATE_KEY):
                if pattern.search(line):
                    found.append(f"{path.relative_to(REPO_ROOT)}:{number}: {pattern.pattern[:30]}")
    return found


def test_scan_patterns_catch_what_they_are_for() -> None:
    fake_id = "AS" + "IA" + "Q" * 16
    fake_secret = "A1b2/" * 8
    assert ACCESS_KEY_ID.search(f"aws_access_key_id = {fake_id}")
    assert SECRET_ASSIGNMENT.search(f'AWS_SECRET_ACCESS_KEY="{fake_secret}"')
    assert SECRET_ASSIGNMENT.search(f"SECRET_KEY={fake_secret}")
    assert not SECRET_ASSIGNMENT.search("SECRET_KEY=")
    assert not SECRET_ASSIGNMENT.search('SECRET_KEY = os.environ["SECRET_KEY"]')
    assert PRIVATE_KEY.search("-----BEGIN RSA PRIVATE " + "KEY-----")


def test_repository_holds_no_aws_keys_or_secrets() -> None:
    files = _repository_files()
    assert any(path.name == "README.md" for path in files)  # the scan really ran
    assert _findings() == []
