"""The Locust users of `make loadtest` who use their own files: members.

A `Member` registers (or takes an account made through the CLI) and logs in, then lists and
pages, uploads 1 KiB to 64 MiB through the browser's multipart form and the API, downloads
with and without Range, deletes and restores, and uses the API with a token it made on the
tokens page. Every write goes into the ledger with its answer; every read is checked against
the bytes the member knows it uploaded. The attackers are in bench/load/attackers.py.

Upload flows: `UPLOAD_FLOWS` lists them; the direct-to-S3 flow (the browser sends the bytes
to a presigned S3 URL, then tells the app) slots in there once the app has it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from locust import task

from bench.load.client import SiteUser
from bench.load.content import TRAILER_BYTES, Payload, payload
from bench.load.ledger import ACKED, REFUSED, Change, Upload
from bench.payload import MultipartForm

ORDERS = ("newest", "oldest", "name", "name_desc", "largest", "smallest")
MIB = 1024 * 1024


class Member(SiteUser):
    """A person using their own files; the ledger gets every write and its answer."""

    weight = 10

    def on_start(self) -> None:
        super().on_start()
        number = self.load.user_number()
        self.rng = random.Random(self.load.seed * 1000 + number)
        self.uploads = 0
        self.files: dict[int, Payload] = {}
        self.trash: dict[int, Payload] = {}
        username = f"lt{self.load.tag}r{number:03d}"
        if self.load.may_register() and self.register(username) == "ok":
            self.username = username  # registering logged it in
            self.csrf = self.form_token("/files/", "GET /files/") or ""
        else:
            self.log_in(self.load.claim_account())
        if self.csrf:
            self.make_api_token()

    # -- reading -------------------------------------------------------------------------

    @task(8)
    def list_page(self) -> None:
        if not self.ready():
            return
        order = self.rng.choice(ORDERS)
        params: dict[str, str] = {"order": order}
        label = "GET /files/?order="
        if self.rng.random() < 0.25:
            params["q"] = f"-{self.rng.randrange(100):02d}"
            label = "GET /files/?q="
        with self.call("GET", "/files/", label, params=params) as page:
            if page.status_code == 200 and self.check_owner(page.text, "the file list"):
                page.success()
            else:
                page.failure(f"{page.status_code}")

    @task(4)
    def page_api(self) -> None:
        if not self.ready():
            return
        params: dict[str, Any] = {"limit": 5, "order": self.rng.choice(ORDERS)}
        for _ in range(3):
            with self.call(
                "GET", "/api/v1/files", "GET /api/v1/files", params=params,
                headers=self.api_headers(),
            ) as answer:  # fmt: skip
                if answer.status_code != 200:
                    answer.failure(f"{answer.status_code}")
                    return
                body = answer.json()
                names = " ".join(item["name"] for item in body["items"])
                if not self.check_owner(names, "an API page"):
                    answer.failure("another user's file")
                    return
                answer.success()
            if not body["next_cursor"]:
                return
            params["cursor"] = body["next_cursor"]

    @task(5)
    def download(self) -> None:
        self._download_whole("/files/{}/download", "GET /files/<id>/download", {})

    @task(2)
    def download_api(self) -> None:
        self._download_whole(
            "/api/v1/files/{}/content", "GET /api/v1/files/<id>/content", self.api_headers()
        )

    @task(4)
    def download_range(self) -> None:
        if not (self.ready() and self.files):
            return
        file_id, item = self.rng.choice(list(self.files.items()))
        start = self.rng.randrange(item.size)
        stop = min(item.size, start + self.rng.choice((1, 1024, 64 * 1024, MIB)))
        if self.rng.random() < 0.3:
            start, stop = max(0, item.size - TRAILER_BYTES - 10), item.size  # the trailer
        via_api = self.rng.random() < 0.4
        path = f"/api/v1/files/{file_id}/content" if via_api else f"/files/{file_id}/download"
        name = (
            "GET /api/v1/files/<id>/content (Range)"
            if via_api
            else "GET /files/<id>/download (Range)"
        )
        headers = {"Range": f"bytes={start}-{stop - 1}", **(self.api_headers() if via_api else {})}
        with self.call("GET", path, name, headers=headers) as answer:
            if answer.status_code != 206:
                answer.failure(f"{answer.status_code}")
            elif answer.content != item.slice(start, stop):
                self.load.ledger.mismatches.append(f"{self.username}: range of {file_id}")
                answer.failure("wrong bytes")
            else:
                answer.success()

    @task(2)
    def describe(self) -> None:
        if not (self.ready() and self.files):
            return
        file_id, item = self.rng.choice(list(self.files.items()))
        with self.call(
            "GET", f"/api/v1/files/{file_id}", "GET /api/v1/files/<id>", headers=self.api_headers()
        ) as answer:
            if answer.status_code != 200:
                answer.failure(f"{answer.status_code}")
            elif answer.json()["sha256"] != item.sha256:
                self.load.ledger.mismatches.append(f"{self.username}: sha256 of {file_id}")
                answer.failure("wrong sha256")
            else:
                answer.success()

    @task(1)
    def about_me(self) -> None:
        if not self.ready():
            return
        with self.call("GET", "/api/v1/me", "GET /api/v1/me", headers=self.api_headers()) as me:
            if me.status_code == 200 and me.json()["username"] == self.username:
                me.success()
            else:
                me.failure(f"{me.status_code}")

    # -- writing -------------------------------------------------------------------------

    @task(4)
    def upload_form(self) -> None:
        self._upload("form")

    @task(2)
    def upload_api(self) -> None:
        self._upload("api")

    @task(2)
    def delete(self) -> None:
        if not (self.ready() and self.files):
            return
        file_id = self.rng.choice(list(self.files))
        if self.rng.random() < 0.7:
            self._change("delete", file_id, "form", "POST", f"/files/{file_id}/delete",
                         "POST /files/<id>/delete", (303,))  # fmt: skip
        else:
            self._change("delete", file_id, "api", "DELETE", f"/api/v1/files/{file_id}",
                         "DELETE /api/v1/files/<id>", (204,))  # fmt: skip

    @task(1)
    def restore(self) -> None:
        if not (self.ready() and self.trash):
            return
        with self.call("GET", "/files/deleted", "GET /files/deleted") as page:
            if page.status_code == 200 and self.check_owner(page.text, "recently deleted"):
                page.success()
            else:
                page.failure(f"{page.status_code}")
        file_id = self.rng.choice(list(self.trash))
        self._change("restore", file_id, "form", "POST", f"/files/{file_id}/restore",
                     "POST /files/<id>/restore", (303,))  # fmt: skip

    @task(1)
    def log_out_and_in(self) -> None:
        if not self.ready() or self.rng.random() > 0.3:
            return
        self.post_form("/auth/logout", "POST /auth/logout", {}, (302, 303))
        self.csrf = ""
        self.log_in(self.username)

    # -- helpers -------------------------------------------------------------------------

    def _download_whole(self, template: str, name: str, headers: dict[str, str]) -> None:
        if not (self.ready() and self.files):
            return
        file_id, item = self.rng.choice(list(self.files.items()))
        started = time.perf_counter()
        with self.call("GET", template.format(file_id), name, headers=headers, stream=True) as r:
            received, tail = 0, b""
            try:
                for chunk in r.iter_content(MIB) if r.status_code == 200 else ():
                    received += len(chunk)
                    tail = (tail + chunk)[-TRAILER_BYTES:]
            except OSError as error:  # requests' stream errors derive from IOError
                r.failure(f"stream broken: {type(error).__name__}")
                return
            self.finish(r, started, received)
            if r.status_code != 200:
                r.failure(f"{r.status_code}")
            elif received != item.size or tail != item.trailer:
                self.load.ledger.mismatches.append(f"{self.username}: download of {file_id}")
                r.failure("wrong bytes")
            else:
                r.success()

    def _upload(self, via: str) -> None:
        if not self.ready():
            return
        self.uploads += 1
        item = payload(self.username, self.uploads, self.rng)
        record = Upload(
            username=self.username, via=via, started=time.time(),
            name=item.name, size=item.size, sha256=item.sha256,
        )  # fmt: skip
        self.load.ledger.uploads.append(record)
        UPLOAD_FLOWS[via](self, item, record)

    def _upload_form(self, item: Payload, record: Upload) -> None:
        form = MultipartForm(self.csrf, item.name, item.size, content=item)
        headers = {"Content-Type": form.content_type, "Accept": "application/json"}
        started = time.perf_counter()
        with self.call("POST", "/files/upload", f"POST /files/upload [{item.label}]",
                       data=form, headers=headers) as answer:  # fmt: skip
            self._settle(answer, record, item, started, lambda body: body["files"][0])

    def _upload_api(self, item: Payload, record: Upload) -> None:
        headers = {"Content-Type": "application/octet-stream", **self.api_headers()}
        started = time.perf_counter()
        name = f"POST /api/v1/files [{item.label}]"
        params = {"name": item.name}
        with self.call(
            "POST", "/api/v1/files", name, params=params, data=item, headers=headers
        ) as answer:
            self._settle(answer, record, item, started, lambda body: body)

    def _settle(
        self, answer: Any, record: Upload, item: Payload, started: float,
        stored: Callable[[Any], dict[str, Any]],
    ) -> None:  # fmt: skip
        """Record an upload's answer in the ledger and the member's own list of files."""
        self.finish(answer, started, 0)
        if record.settle(answer.status_code, answer.headers) != ACKED:
            answer.failure(f"{answer.status_code}")
            return
        file = stored(answer.json())
        record.file_id, record.stored_name = file["id"], file["name"]
        if file.get("sha256", item.sha256) != item.sha256 or file["size"] != item.size:
            self.load.ledger.mismatches.append(f"{self.username}: upload {file['id']} answer")
        self.files[file["id"]] = item
        answer.success()

    def _change(
        self, kind: str, file_id: int, via: str, method: str, path: str, name: str,
        expect: tuple[int, ...],
    ) -> None:  # fmt: skip
        """Delete or restore one file, with the ledger told the answer."""
        record = Change(
            username=self.username, via=via, started=time.time(), kind=kind, file_id=file_id
        )
        self.load.ledger.changes.append(record)
        data = {"csrf_token": self.csrf} if via == "form" else None
        headers = self.api_headers() if via == "api" else {}
        with self.call(method, path, name, data=data, headers=headers) as answer:
            record.settle(answer.status_code, answer.headers, expect)
            source, target = (
                (self.files, self.trash) if kind == "delete" else (self.trash, self.files)
            )
            item = source.pop(file_id)
            if answer.status_code in expect:
                target[file_id] = item
                answer.success()
            else:
                if record.outcome == REFUSED:
                    source[file_id] = item  # the app says nothing changed
                answer.failure(f"{answer.status_code}")


# How a member's upload reaches the app. "direct" (presigned S3 upload, then a call to the
# app) joins here when that flow exists; `_upload` picks among these.
UPLOAD_FLOWS: dict[str, Callable[[Member, Payload, Upload], None]] = {
    "form": Member._upload_form,
    "api": Member._upload_api,
}
