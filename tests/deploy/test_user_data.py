"""deploy/user-data.sh: clean under shellcheck, and its dry run on this machine shows a whole
install for each system, of the shipped files, while it can run nothing but text tools."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.harness import (
    NGINX_CONF,
    REPO_ROOT,
    SHIPPED_CA_BUNDLE,
    SHIPPED_CERT,
    SHIPPED_KEY,
    SYSTEMD_DIR,
)

SCRIPT = REPO_ROOT / "deploy" / "user-data.sh"
ENV_TEMPLATE = REPO_ROOT / "deploy" / "securestore.env.example"
SYSTEMS = ["al2023", "debian12"]
FIRST_RUN = [
    "--package", "/srv/releases/securestore-0.1.0-py3-none-any.whl",
    "--host-name", "files.example.org",
    "--primary-bucket", "acme-primary", "--backup-bucket", "acme-backup", "--region", "eu-west-1",
]
# All a dry run may run besides bash's builtins: it reads and prints, nothing else.
TEXT_TOOLS = ("awk", "cat", "dirname", "grep", "sed", "sort", "tail")
_WRITE = re.compile(r"^\+ write (\S+) \(mode (\d+)\)\n((?:    \| .*\n)*)", re.MULTILINE)


@pytest.fixture(scope="module")
def text_tools_only(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PATH with only the text tools: any install command in a dry run fails to start."""
    folder = tmp_path_factory.mktemp("bin")
    for tool in TEXT_TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (folder / tool).symlink_to(found)
    return str(folder)


def _dry_run(path: str, *options: str) -> subprocess.CompletedProcess[str]:
    if Path("/etc/securestore/securestore.env").exists():
        pytest.skip("this machine has a SecureStore settings file: a dry run would show a re-run")
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(SCRIPT), "--dry-run", *options],
        capture_output=True, text=True, timeout=60, env={"PATH": path},
    )


def _written(output: str) -> dict[str, tuple[str, str]]:
    """The files a dry run would write: path -> (mode, content); the last write wins."""
    return {
        path: (mode, "".join(line[6:] + "\n" for line in body.splitlines()))
        for path, mode, body in _WRITE.findall(output)
    }


def test_shellcheck_accepts_the_script(shellcheck: str) -> None:
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("system", SYSTEMS)
def test_dry_run_names_every_step_and_runs_nothing(system: str, text_tools_only: str) -> None:
    result = _dry_run(text_tools_only, "--os", system, *FIRST_RUN)

    assert result.returncode == 0, result.stderr
    steps = set(re.findall(r'^\s*step "([^"]+)"$', SCRIPT.read_text(), re.MULTILINE))
    assert len(steps) >= 10
    assert set(re.findall(r"^==> (.+)$", result.stdout, re.MULTILINE)) == steps
    assert "+ systemctl restart securestore.service" in result.stdout


@pytest.mark.parametrize("system", SYSTEMS)
def test_dry_run_installs_the_shipped_units_site_and_settings_template(
    system: str, text_tools_only: str
) -> None:
    output = _dry_run(text_tools_only, "--os", system, *FIRST_RUN).stdout

    for unit in ("securestore.socket", "securestore.service", "securestore-backup-sync.service",
                 "securestore-backup-sync.timer"):
        assert f"+ install -m 0644 {SYSTEMD_DIR / unit} /etc/systemd/system/{unit}\n" in output
    assert f"{SYSTEMD_DIR / 'securestore.sysusers.conf'} /etc/sysusers.d/securestore.conf" in output
    site_path = {"al2023": "/etc/nginx/conf.d/securestore.conf",
                 "debian12": "/etc/nginx/sites-available/securestore"}[system]
    mode, site = _written(output)[site_path]
    # Only the host name, the certificate's folder and the system's CA bundle differ from the
    # shipped site (the first two are the lines the nginx tests replace too): what they prove
    # holds for the installed site.
    folder = "/etc/letsencrypt/live/files.example.org"
    shipped = NGINX_CONF.read_text().replace(
        "server_name securestore.example.com;", "server_name files.example.org;"
    )
    ca = {"al2023": "/etc/pki/tls/certs/ca-bundle.crt", "debian12": SHIPPED_CA_BUNDLE}[system]
    shipped = shipped.replace(f"{SHIPPED_CA_BUNDLE};", f"{ca};")
    shipped = shipped.replace(SHIPPED_CERT, f"{folder}/fullchain.pem")
    assert mode == "0644" and site == shipped.replace(SHIPPED_KEY, f"{folder}/privkey.pem")
    mode, settings = _written(output)["/etc/securestore/securestore.env"]
    assert mode == "0600" and settings.startswith(ENV_TEMPLATE.read_text().split("SECRET_KEY=")[0])


def test_amazon_linux_and_debian_differ_only_where_their_systems_do(text_tools_only: str) -> None:
    al2023 = _dry_run(text_tools_only, "--os", "al2023", *FIRST_RUN).stdout
    debian = _dry_run(text_tools_only, "--os", "debian12", *FIRST_RUN).stdout

    assert "+ dnf install -y -q python3.11 nginx certbot python3-certbot-nginx" in al2023
    assert "apt-get install -y -qq --no-install-recommends python3.11-venv nginx" in debian
    # Amazon Linux's nginx runs as nginx: a drop-in gives it the socket, the unit stays shipped.
    drop_in = "/etc/systemd/system/securestore.socket.d/nginx-user.conf"
    assert "SocketUser=nginx\nSocketGroup=nginx\n" in _written(al2023)[drop_in][1]
    assert drop_in not in debian
    enable = (
        "+ ln -sfn /etc/nginx/sites-available/securestore /etc/nginx/sites-enabled/securestore\n"
        "+ rm -f /etc/nginx/sites-enabled/default\n"
    )
    assert enable in debian and "+ ln -sfn /etc/nginx" not in al2023
    assert "certbot-renew.timer" in al2023 and "certbot-renew.timer" not in debian
    assert "+ getenforce" in al2023 and "does not enable SELinux" in debian


def test_first_run_settings_name_the_buckets_the_site_and_a_new_secret(
    text_tools_only: str,
) -> None:
    key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    output = _dry_run(text_tools_only, "--os", "debian12", *FIRST_RUN, "--lock-mode",
                      "compliance", "--lock-days", "90", "--kms-key-id", key).stdout
    lines = _written(output)["/etc/securestore/securestore.env"][1].splitlines()

    for expected in ("S3_PRIMARY_BUCKET=acme-primary", "S3_BACKUP_BUCKET=acme-backup",
                     "S3_REGION=eu-west-1", "PUBLIC_URL=https://files.example.org",
                     "BACKUP_LOCK_MODE=compliance", "BACKUP_LOCK_DAYS=90", f"S3_KMS_KEY_ID={key}",
                     "S3_SSE=aws:kms", "DATABASE_URL=sqlite:////var/lib/securestore/securestore.db",
                     "SECRET_KEY=<secret>", "TRUSTED_PROXY_COUNT=1", "DOWNLOAD_MODE=accel"):
        assert lines.count(expected) == 1, expected
    assert not [line for line in lines if line.startswith("DATABASE_URL=postgresql")]


def test_a_second_run_keeps_the_secret_and_the_operators_edits(tmp_path: Path) -> None:
    current = tmp_path / "securestore.env"
    current.write_text("SECRET_KEY=kept-secret\nLOG_LEVEL=DEBUG\nBACKUP_LOCK_MODE=off\n"
                       "# BACKUP_LOCK_MODE=an example in a comment\nBACKUP_LOCK_MODE=off\n")
    merged = subprocess.run(
        ["bash", "-c", 'source "$1"; given=([BACKUP_LOCK_MODE]=governance [REGISTRATION]=invite); '
         'settings_text new-secret "$2"', "bash", str(SCRIPT), str(current)],
        capture_output=True, text=True, check=True,
    ).stdout

    assert merged == ("SECRET_KEY=kept-secret\nLOG_LEVEL=DEBUG\nBACKUP_LOCK_MODE=governance\n"
                      "# BACKUP_LOCK_MODE=an example in a comment\nREGISTRATION=invite\n")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([o for o in FIRST_RUN if o not in ("--region", "eu-west-1")], "S3_REGION is needed"),
        ([*FIRST_RUN, "--lock-mode", "immutable"], "BACKUP_LOCK_MODE: 'immutable'"),
        ([*FIRST_RUN, "--host-name", "files.example.org;evil"], "--host-name"),
        ([*FIRST_RUN, "--os", "centos7"], "--os must be al2023 or debian12"),
    ],
)
def test_dry_run_refuses_what_could_not_work(
    options: list[str], message: str, text_tools_only: str
) -> None:
    result = _dry_run(text_tools_only, "--os", "al2023", *options)
    assert result.returncode == 1 and message in result.stderr, result.stderr
