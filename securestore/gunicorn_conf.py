"""Gunicorn settings for production.

Used as ``gunicorn --config python:securestore.gunicorn_conf wsgi:app``.

The file ships inside the package so the installed wheel carries it. Every value can be
overridden on the command line (the command line wins over this file), and the few that an
operator tunes per machine also read an environment variable set in the EnvironmentFile.

Why these choices:

* ``gthread`` workers. A sync worker is killed when one request outlives ``timeout``, and a
  multi-gigabyte upload streamed through nginx (request buffering is off) can take minutes.
  A threaded worker keeps answering the master's heartbeat while its threads move bytes, so
  ``timeout`` only catches a hung process, never a slow upload. boto3 clients are thread-safe;
  the app keeps one per process.
* No ``preload_app``. Each worker imports the app and calls ``create_app`` after the fork,
  so the boto3 client, its connection pool and its refreshable credentials belong to that
  process alone; nothing created in the master is shared across a fork.
* Logs to stdout/stderr: systemd's journal collects them (``journalctl -u securestore``).
"""

import os


def _int_env(name: str, default: int) -> int:
    """Read a positive integer setting, naming the variable when it is not one."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise SystemExit(f"{name} must be at least 1, got {value}")
    return value


def _cpu_count() -> int:
    """Count the CPUs this process may run on (respects affinity, unlike cpu_count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Under systemd the listening socket comes from securestore.socket (socket activation)
# and this address is ignored; it only applies when gunicorn is started by hand.
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]

worker_class = "gthread"
workers = _int_env("GUNICORN_WORKERS", 2 * _cpu_count() + 1)
threads = _int_env("GUNICORN_THREADS", 4)
preload_app = False

# Heartbeat limit for a stuck worker (not a per-request limit with gthread, see above).
timeout = 120
# On SIGTERM (systemctl stop/restart) in-flight requests get this long to finish.
# systemd's TimeoutStopSec in securestore.service is set above it.
graceful_timeout = 120
# nginx talks HTTP/1.1 to us; keep idle upstream connections briefly.
keepalive = 5

# Recycle workers now and then so slow leaks cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The client address comes from nginx's X-Forwarded-For; cookies and query strings stay out.
access_log_format = '%({x-forwarded-for}i)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'

# Gunicorn >= 25 opens a control socket under $HOME by default; the service user has no
# home and two instances on one host would collide, so it stays off.
control_socket_disable = True

proc_name = "securestore"
