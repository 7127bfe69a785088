"""Profile the app's side of one upload and one download with py-spy (sampling, all threads).

Runs the same stack as `make bench`, records the gunicorn workers with `py-spy record` while a
file goes up and comes back through nginx, and prints where the on-CPU samples fell (idle
threads are left out): the functions with the most samples on top of the stack (self time),
so a missed target is explained by measurement.
Run: python -m bench.profile [MiB]   (writes the collapsed stacks to bench/results/)
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.browser import Browser
from bench.payload import MIB
from bench.run import RESULTS, _file_id
from bench.stack import BACKUP, Stack, running_app, running_stack


def _record(stack: Stack, label: str, work: Callable[[], Any]) -> Path:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    assert stack.gunicorn is not None
    out = RESULTS / f"profile-{label}.txt"
    recorder = subprocess.Popen(
        [py_spy, "record", "--pid", str(stack.gunicorn.process.pid), "--subprocesses",
         "--threads", "--rate", "200", "--format", "raw", "--output", str(out),
         "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        work()
    finally:
        recorder.send_signal(2)  # SIGINT: py-spy writes what it has and exits
        recorder.wait(60)
    return out


def summarize(path: Path, top: int = 15) -> None:
    """Print the leaf functions with the most samples, over all threads."""
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        leaves[frames[-1]] += int(count)
        total += int(count)
    print(f"\n{path.name}: {total} samples; top of stack:")
    for frame, count in leaves.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {frame[:130]}")


def main() -> None:
    size = (int(sys.argv[1]) if len(sys.argv) > 1 else 256) * MIB
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="securestore-profile-") as folder:
        with running_stack(Path(folder)) as stack, running_app(stack, BACKUP):
            browser = Browser(stack, "profiled")
            up = _record(stack, "upload", lambda: browser.upload("p.bin", size))
            file_id = _file_id(stack, "p.bin")
            down = _record(stack, "download", lambda: browser.download(file_id, size))
    summarize(up)
    summarize(down)


if __name__ == "__main__":
    main()
