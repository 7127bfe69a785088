"""Retry a failed backup copy soon after the upload, in the background.

One daemon thread per process waits `BACKUP_RETRY_DELAY_SECONDS` after each failure and tries
once more in an app context of its own, so the user's request never waits. The thread starts
on the first failure, i.e. inside a request in a gunicorn worker, never in a process that
forks afterwards. If the process dies first, nothing is lost: the file is still `pending` in
the database and `backup sync` copies it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from flask import Flask, current_app

from securestore.backups.service import retry_file

log = logging.getLogger(__name__)

EXTENSION_KEY = "securestore.backup_retry"
# Beyond this many waiting retries (a long outage), `backup sync` does the work instead.
MAX_WAITING = 1000


class BackupRetrier:
    """A queue of files to retry after a fixed delay, drained by one lazily started thread."""

    def __init__(self, app: Flask, delay: float) -> None:
        self._app = app
        self._delay = delay
        self._queue: queue.Queue[tuple[float, int]] = queue.Queue(maxsize=MAX_WAITING)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def schedule(self, file_id: int) -> None:
        """Retry `file_id` after the delay; does nothing when the in-app retry is off (0)."""
        if self._delay <= 0:
            return
        try:
            self._queue.put_nowait((time.monotonic() + self._delay, file_id))
        except queue.Full:
            log.warning("backup retry queue full; backup sync will copy file %d", file_id)
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="securestore-backup-retry", daemon=True
                )
                self._thread.start()

    def join(self) -> None:
        """Wait until every scheduled retry has run (for tests and orderly shutdowns)."""
        self._queue.join()

    def _run(self) -> None:
        while True:
            due, file_id = self._queue.get()
            try:
                time.sleep(max(0.0, due - time.monotonic()))
                with self._app.app_context():
                    retry_file(file_id)
            except Exception:
                # The thread must survive anything; the file stays pending for `backup sync`.
                log.exception("background backup retry of file %d failed", file_id)
            finally:
                self._queue.task_done()


def init_app(app: Flask) -> None:
    """Give the app its retrier; `BACKUP_RETRY_DELAY_SECONDS=0` turns the in-app retry off."""
    app.extensions[EXTENSION_KEY] = BackupRetrier(app, app.config["BACKUP_RETRY_DELAY_SECONDS"])


def retrier() -> BackupRetrier:
    """The current app's retrier."""
    instance: BackupRetrier = current_app.extensions[EXTENSION_KEY]
    return instance
