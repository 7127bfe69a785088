"""`make loadtest`, i.e. `python -m bench.load`: load and chaos on a private stack, then audit.

Exit status: 0 when the audit found nothing and no server failure fell outside every chaos
window; 1 otherwise; 2 when the stack cannot run here (no PostgreSQL, nginx or redis-server).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Locust's import patches the standard library for gevent; it must come before ssl, requests
# and boto3 are imported (bench.load's modules import them).
import gevent
from locust.env import Environment

from bench.load import audit as auditing
from bench.load import report
from bench.load.attackers import Guesser, Snooper
from bench.load.chaos import Chaos, schedule
from bench.load.client import LoadContext, SiteUser
from bench.load.ledger import Ledger
from bench.load.metrics import ProcessSampler, Requests, clock, progress
from bench.load.plot import plot
from bench.load.stack import LoadStack, StackError, running_load_stack
from bench.load.users import Member
from tests.postgres import unreachable

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "a long enough load-test password"
DECOYS = 2


def arguments(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=float(env.get("LOAD_SECONDS") or 300))
    parser.add_argument("--users", type=int, default=int(env.get("LOAD_USERS") or 50))
    parser.add_argument("--chaos", action="store_true", default=env.get("CHAOS", "") == "1")
    parser.add_argument(
        "--database-url", default=env.get("LOAD_DATABASE_URL") or DEFAULT_DATABASE_URL,
        help="a PostgreSQL server URL; the run creates and drops its own database there",
    )  # fmt: skip
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--seed", type=int, default=int(env.get("LOAD_SEED") or 1))
    return parser.parse_args(argv)


def make_accounts(stack: LoadStack, names: list[str]) -> None:
    """Create the accounts with `flask users create` (in this process, one app for all).

    Not through the registration form: a registration limit per address would stop a crowd
    that all comes from 127.0.0.1, and the accounts must exist whatever that limit is.
    """
    with stack.cli_app() as app:
        runner = app.test_cli_runner()
        for name in names:
            done = runner.invoke(args=["users", "create", name, "--password", PASSWORD])
            if done.exit_code != 0:
                raise StackError(f"users create {name}: {done.output}")


def commit() -> str:
    done = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def run(args: argparse.Namespace, stack: LoadStack) -> dict[str, Any]:
    attackers = max(1, args.users // 25)
    Guesser.fixed_count = Snooper.fixed_count = attackers
    members = args.users - 2 * attackers
    tag = secrets.token_hex(2)
    accounts = [f"lt{tag}u{n:03d}" for n in range(args.users)]
    decoys = [f"lt{tag}d{n:03d}" for n in range(DECOYS)]
    make_accounts(stack, accounts + decoys)
    ledger = Ledger()
    SiteUser.load = LoadContext(
        ledger, accounts, decoys, PASSWORD, tag, str(stack.cert),
        registrations=min(5, max(1, members // 10)), seed=args.seed,
    )  # fmt: skip
    faults = schedule(args.seconds) if args.chaos else []
    print(f"{args.users} users ({members} members, {attackers} password guessers, {attackers}"
          f" snoopers) for {args.seconds:.0f} s against {stack.base_url}")  # fmt: skip
    print("chaos schedule:" if faults else "no chaos (CHAOS=1 adds it)")
    for fault in faults:
        print(f"  {fault.describe()}")
    requests = Requests()
    environment = Environment(
        user_classes=[Member, Guesser, Snooper], host=stack.base_url, stop_timeout=60
    )
    environment.events.request.add_listener(requests.on_request)
    runner = environment.create_local_runner()
    origin = time.time()
    say = clock(origin)
    chaos = Chaos(stack, faults, say)
    processes = ProcessSampler(stack)
    processes.start()
    printer = progress(requests, say)
    chaos.start(origin)
    runner.start(args.users, spawn_rate=max(1.0, args.users / 10))
    gevent.sleep(args.seconds)
    chaos.cancel_pending()
    say("stopping the users (each finishes its request)")
    runner.quit()
    chaos.wait()
    printer.kill()
    cpu = processes.stop()
    ledger.save(stack.root / "ledger.json")
    say("audit: backup sync, every user's files listed, downloaded and hashed, backup verify")
    result = auditing.audit(stack, ledger)
    say("audit done")
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "origin": origin,
        "seconds": args.seconds,
        "users": args.users,
        "chaos": args.chaos,
        "schedule": [fault.describe() for fault in faults],
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
            "python": platform.python_version(),
        },  # fmt: skip
    }
    built = report.build(requests.samples, chaos.windows, ledger, result, processes.rows, meta)
    built["cpu"] = cpu
    built["windows_raw"] = [window.to_json() for window in chaos.windows]
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    png = args.results / f"loadtest-{stamp}.png"
    title = (
        f"SecureStore under load: {args.users} users, {args.seconds:.0f} s, chaos"
        f" {'on' if args.chaos else 'off'} ({meta['commit']}, {meta['date'][:10]})"
    )
    plot(requests.samples, chaos.windows, origin, png, title)
    built["png"] = str(png)
    (args.results / f"loadtest-{stamp}.json").write_text(json.dumps(built, indent=1))
    (args.results / f"loadtest-{stamp}-requests.json").write_text(
        json.dumps([sample.to_row() for sample in requests.samples])
    )
    report.print_report(built)
    print(f"report: {args.results / f'loadtest-{stamp}.json'}\npicture: {png}")
    return built


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    problem = unreachable(args.database_url)
    if problem:
        print(
            f"PostgreSQL is not reachable at {args.database_url} ({problem}).\n"
            "Set LOAD_DATABASE_URL to a server where this user may create databases,"
            " e.g. postgresql://postgres@127.0.0.1:5432/test.",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory(prefix="securestore-load-") as folder:
        try:
            with running_load_stack(Path(folder), args.database_url, args.users) as stack:
                built = run(args, stack)
        except StackError as error:
            print(f"cannot run the load test here: {error}", file=sys.stderr)
            return 2
    return 0 if built["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
