"""Run the shipped deployment files for real, on loopback, with only ports and paths changed.

Each launcher starts a process this test session owns, waits until it really serves, and
stops exactly that process (never a process found by name).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from securestore.locals3 import LocalS3

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = REPO_ROOT / "nginx" / "securestore.conf"
SYSTEMD_DIR = REPO_ROOT / "systemd"

# What the shipped nginx file says, and what the tests put in its place. Each must occur
# exactly as written, so a change to the shipped file that the tests do not know about fails.
SHIPPED_UPSTREAM = "server unix:/run/securestore.sock fail_timeout=0;"
SHIPPED_CERT = "/etc/letsencrypt/live/securestore.example.com/fullchain.pem"
SHIPPED_KEY = "/etc/letsencrypt/live/securestore.example.com/privkey.pem"
SHIPPED_STATIC = "alias /opt/securestore/static/;"
# Debian's; deploy/user-data.sh puts the system's own in its place.
SHIPPED_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


class ProcessFailed(RuntimeError):
    """A launched process exited or never became ready; the message carries its log."""


def free_ports(count: int) -> list[int]:
    """Return `count` distinct TCP ports on 127.0.0.1 that nothing listens on right now.

    All are held bound until every one is chosen: ports asked for one at a time can come
    back equal (the kernel hands a port just released out again), and an nginx site whose
    HTTP and HTTPS ports are one port refuses to start ("no ssl_certificate is defined").
    """
    with contextlib.ExitStack() as held:
        sockets = [
            held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            for _ in range(count)
        ]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def ipv6_loopback() -> bool:
    """Tell whether [::1] can be bound here (some containers have no IPv6)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def _replace_once(text: str, old: str, new: str) -> str:
    count = text.count(old)
    if count != 1:
        raise AssertionError(f"expected {old!r} once in the shipped config, found {count}")
    return text.replace(old, new)


@dataclass(frozen=True)
class NginxSite:
    """The shipped site with test ports and paths in place of production ones."""

    http_port: int
    https_port: int
    upstreams: tuple[str, ...]
    static_dir: Path
    cert: Path
    key: Path
    # Clients that share one address here but would each have their own in production (a
    # load test's crowd on loopback): each `limit_conn` per address is multiplied by it.
    clients_per_address: int = 1

    def render(self, shipped: str) -> str:
        text = shipped
        text = re.sub(
            r"(limit_conn securestore_per_address )(\d+);",
            lambda m: f"{m.group(1)}{int(m.group(2)) * self.clients_per_address};",
            text,
        )
        servers = "\n    ".join(f"server {address} fail_timeout=0;" for address in self.upstreams)
        text = _replace_once(text, SHIPPED_UPSTREAM, servers)
        text = _replace_once(text, SHIPPED_CERT, str(self.cert))
        text = _replace_once(text, SHIPPED_KEY, str(self.key))
        text = _replace_once(text, SHIPPED_STATIC, f"alias {self.static_dir}/;")
        v6 = ipv6_loopback()
        for shipped_port, port, suffix in (
            (80, self.http_port, ""),
            (443, self.https_port, " ssl"),
        ):
            text = _replace_once(
                text, f"listen {shipped_port}{suffix};", f"listen 127.0.0.1:{port}{suffix};"
            )
            text = _replace_once(
                text,
                f"listen [::]:{shipped_port}{suffix};",
                f"listen [::1]:{port}{suffix};" if v6 else "",
            )
        return text


def site_for_one_app(app: Gunicorn, cert: Path, key: Path) -> NginxSite:
    """The shipped site on free ports in front of one gunicorn, with the package's static
    files and the certificate `cert` (private key `key`)."""
    http_port, https_port = free_ports(2)
    return NginxSite(
        http_port=http_port,
        https_port=https_port,
        upstreams=(app.upstream,),
        static_dir=Path(str(resources.files("securestore") / "static")),
        cert=cert,
        key=key,
    )


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def _mime_types(nginx: str) -> Path | None:
    """Find mime.types next to nginx's own configuration, as a stock nginx.conf includes it."""
    result = subprocess.run([nginx, "-V"], capture_output=True, text=True, check=True)
    match = re.search(r"--conf-path=(\S+)", result.stderr)
    conf_dir = Path(match.group(1)).parent if match else Path("/etc/nginx")
    candidate = conf_dir / "mime.types"
    return candidate if candidate.is_file() else None


def write_nginx_prefix(nginx: str, prefix: Path, site: NginxSite) -> Path:
    """Lay out a private nginx prefix whose main file includes the rendered shipped site.

    The main file stands in for the distribution's nginx.conf: it only adds what that file
    provides (pid, logs, temp paths, mime types) and includes the site in the http context.
    """
    prefix.mkdir(parents=True, exist_ok=True)
    site_file = prefix / "securestore.conf"
    site_file.write_text(site.render(NGINX_CONF.read_text()))
    mime = _mime_types(nginx)
    # As root nginx would switch workers to "nobody", who cannot read the test's files.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = prefix / "nginx.conf"
    main.write_text(
        f"""{user}worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    {f"include {mime};" if mime else ""}
    default_type application/octet-stream;
    access_log {prefix / "access.log"};
{temp}
    include {site_file};
}}
"""
    )
    return main


def nginx_command(nginx: str, prefix: Path, *args: str) -> list[str]:
    return [
        nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
        "-e", str(prefix / "error.log"), *args,
    ]


def _wait_tcp(port: int, process: subprocess.Popen[bytes], log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ProcessFailed(f"exited with {process.returncode}:\n{_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise ProcessFailed(f"not listening on {port} in time:\n{_tail(log)}")


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@contextlib.contextmanager
def running_nginx(nginx: str, prefix: Path, site: NginxSite) -> Iterator[Path]:
    """Run nginx in the foreground on the site's ports; yield its prefix (logs live there)."""
    write_nginx_prefix(nginx, prefix, site)
    log = prefix / "error.log"
    with open(prefix / "stdout.log", "wb") as out:
        process = subprocess.Popen(
            nginx_command(nginx, prefix, "-g", "daemon off;"), stdout=out, stderr=out
        )
    try:
        _wait_tcp(site.https_port, process, log, time.monotonic() + 30)
        yield prefix
    finally:
        _stop(process)


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket, to probe gunicorn before nginx is in front of it."""

    def __init__(self, path: Path, timeout: float = 5) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


def _http_status_over_unix(path: Path, url: str) -> int | None:
    connection = UnixHTTPConnection(path)
    try:
        connection.request("GET", url, headers={"X-Forwarded-Proto": "https"})
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


@dataclass
class Gunicorn:
    socket: Path
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def upstream(self) -> str:
        return f"unix:{self.socket}"

    def access_lines(self, needle: str) -> list[str]:
        lines = self.log.read_text(errors="replace").splitlines()
        return [line for line in lines if needle in line]


def gunicorn_command(bind: str, *extra: str) -> list[str]:
    """The service's ExecStart with the interpreter of this test run and a test address."""
    return [
        sys.executable, "-m", "gunicorn",
        "--config", "python:securestore.gunicorn_conf",
        "--bind", bind,
        *extra,
        "wsgi:app",
    ]


@contextlib.contextmanager
def running_gunicorn(
    socket_path: Path, env: Mapping[str, str], log: Path, *extra: str
) -> Iterator[Gunicorn]:
    """Start gunicorn with the shipped config on a unix socket; yield once /healthz answers."""
    with open(log, "wb") as out:
        process = subprocess.Popen(
            gunicorn_command(f"unix:{socket_path}", *extra),
            cwd=REPO_ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while _http_status_over_unix(socket_path, "/healthz") != 200:
            if process.poll() is not None:
                raise ProcessFailed(f"gunicorn exited with {process.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise ProcessFailed(f"gunicorn never became healthy:\n{_tail(log)}")
            time.sleep(0.2)
        yield Gunicorn(socket_path, log, process)
    finally:
        _stop(process, timeout=60)


def app_environment(
    seaweedfs: LocalS3, buckets: tuple[str, str], database_url: str, secret_key: str, instance: Path
) -> dict[str, str]:
    """What /etc/securestore/securestore.env holds, plus the local S3's key for boto3.

    `buckets` are the primary and the backup bucket.
    """
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(instance),
        "SECURESTORE_ENV": "production",
        "SECURESTORE_INSTANCE_PATH": str(instance),
        "SECRET_KEY": secret_key,
        "DATABASE_URL": database_url,
        "S3_PRIMARY_BUCKET": buckets[0],
        "S3_BACKUP_BUCKET": buckets[1],
        "S3_ENDPOINT_URL": seaweedfs.endpoint_url,
        "S3_REGION": "us-east-1",
        "TRUSTED_PROXY_COUNT": "1",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "2",
        # On EC2 the instance role supplies credentials; here the local S3's key does.
        "AWS_ACCESS_KEY_ID": seaweedfs.access_key,
        "AWS_SECRET_ACCESS_KEY": seaweedfs.secret_key,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
