"""The file manager in a real Chromium, against the real app and a real SeaweedFS.

The app is served by werkzeug on a free port with a strict Content-Security-Policy (no
'unsafe-inline'; the app's own policy wins when it sets one), and every page fails the test
on any console error or CSP violation. Screenshots land in test-artifacts/ (git-ignored);
`make screenshots` copies the current ones to docs/.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response
from werkzeug.serving import make_server

from securestore.locals3 import LocalS3
from tests.fixtures.apps import PASSWORD
from tests.fixtures.s3 import PRIMARY

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

pytestmark = [pytest.mark.seaweedfs, pytest.mark.browser]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# What the security hardening requires of every page: nothing inline, nothing from elsewhere.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 740}
KIB = 1024


class Browsing:
    """A page that records every console error, page error and CSP violation it sees."""

    def __init__(self, browser: Any, base_url: str, **context_options: Any) -> None:
        self.context = browser.new_context(base_url=base_url, **context_options)
        self.context.set_default_timeout(15_000)
        self.context.add_init_script(REPORT_CSP_VIOLATIONS)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self._devtools: Any = None
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.problems.append(message.text)

    def screenshot(self, name: str, **options: Any) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), **options)

    def register(self, username: str) -> None:
        page = self.page
        response = page.goto("/auth/register")
        assert response is not None
        policy = response.headers.get("content-security-policy", "")
        assert "script-src" in policy and "unsafe-inline" not in policy
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Confirm password").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        self.arrive_at_files()

    def login(self, username: str) -> None:
        page = self.page
        page.goto("/auth/login")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        self.arrive_at_files()

    def arrive_at_files(self) -> None:
        """Wait for the file page's scripts, not just its URL: the URL changes on the first byte."""
        expect(self.page).to_have_url("/files/")
        self.page.wait_for_load_state("load")

    def open_folder(self, name: str) -> None:
        """Open a folder of the list and wait for the page's scripts (they show the folder
        button), so a drop that follows lands in them."""
        self.page.locator("#folder-rows").get_by_role("link", name=name, exact=True).click()
        expect(self.page.get_by_role("heading", name=name, exact=True)).to_be_visible()
        self.page.wait_for_load_state("load")
        expect(self.page.get_by_role("button", name="Choose a folder")).to_be_visible()

    def logout(self) -> None:
        page = self.page
        page.get_by_test_id("account-menu").click()
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url("/auth/login")
        expect(page.get_by_role("status").filter(has_text="You are logged out.")).to_be_visible()

    def drop(self, *files: tuple[str, bytes]) -> None:
        """Drop files on the drop zone the way a drag from the desktop does."""
        payload = [{"name": name, "data": base64.b64encode(body).decode()} for name, body in files]
        self.page.evaluate(
            """(files) => {
              const transfer = new DataTransfer();
              for (const file of files) {
                const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], file.name));
              }
              const zone = document.querySelector("[data-testid=drop-zone]");
              for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, {
                  bubbles: true, cancelable: true, dataTransfer: transfer }));
              }
            }""",
            payload,
        )

    def drag(self, source: Any, target: Any) -> None:
        """Drag one element onto another with the events (and the one DataTransfer) of a
        mouse drag: dragstart on the source, then dragenter, dragover and drop on the target."""
        source.evaluate(
            """(source, target) => {
              const transfer = new DataTransfer();
              const fire = (element, type) => element.dispatchEvent(new DragEvent(type, {
                bubbles: true, cancelable: true, dataTransfer: transfer }));
              fire(source, "dragstart");
              for (const type of ["dragenter", "dragover", "drop"]) { fire(target, type); }
              fire(source, "dragend");
            }""",
            target.element_handle(),
        )

    def throttle_uploads(self, bytes_per_second: int) -> None:
        """Slow this page's uploads down with Chromium's network emulation (-1: full speed)."""
        if self._devtools is None:
            self._devtools = self.context.new_cdp_session(self.page)
            self._devtools.send("Network.enable")
        self._devtools.send(
            "Network.emulateNetworkConditions",
            {
                "offline": False,
                "latency": 0,
                "downloadThroughput": -1,
                "uploadThroughput": bytes_per_second,
            },
        )

    def upload_row(self, name: str) -> Any:
        return self.page.locator(".upload-item").filter(has_text=name)

    def file_row(self, name: str) -> Any:
        return self.page.locator("#file-rows tr").filter(has_text=name)

    def listed_names(self) -> list[str]:
        names: list[str] = self.page.locator("#file-rows .text-break").all_inner_texts()
        return names

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def live_server(seaweed_app: Flask, seaweedfs: LocalS3) -> Iterator[str]:
    """Serve the app from a thread on a free port, as a browser sees it; direct uploads from
    its pages may reach the primary bucket (the bucket CORS `make run` sets for its own)."""

    # Direct uploads send parts to SeaweedFS, the one other origin a page may connect to.
    s3 = seaweedfs.endpoint_url
    policy = STRICT_CSP.replace("connect-src 'self'", f"connect-src 'self' {s3}")

    @seaweed_app.after_request
    def strict_csp(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        return response

    server = make_server("127.0.0.1", 0, seaweed_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_port}"
    seaweedfs.allow_browser_uploads(PRIMARY, [origin])
    yield origin
    server.shutdown()
    thread.join()
    server.server_close()


@pytest.fixture
def browsing(chromium: Any, live_server: str, request: pytest.FixtureRequest) -> Iterator[Browsing]:
    marker = request.node.get_closest_marker("browsing")
    session = Browsing(
        chromium, live_server, **(marker.kwargs if marker else {"viewport": DESKTOP})
    )
    yield session
    session.close()


def test_drop_upload_list_sort_filter_download_delete_and_logout(
    browsing: Browsing, tmp_path: Path
) -> None:
    page = browsing.page
    browsing.register("dora")
    expect(page.get_by_test_id("empty-state")).to_contain_text("No files yet")
    browsing.screenshot("01-empty")
    browsing.logout()
    browsing.login("dora")

    files = {
        "notes.txt": b"remember the milk\n" * 40,
        "holiday photo.png": bytes(range(256)) * 200,
        "annual report.pdf": os.urandom(3 * 1024 * KIB),
    }
    page.evaluate("window.notReloaded = true")
    # A slow uplink for a moment, to see the speed and the time left while the upload runs.
    browsing.throttle_uploads(128 * KIB)
    # Larger than Chromium and the loopback socket can hold ahead of the throttle: a smaller
    # file can be handed to the socket whole before the cancel, and the server rightly keeps it.
    browsing.drop(*files.items(), ("cancel me.bin", os.urandom(16 * 1024 * KIB)))
    expect(browsing.upload_row("annual report.pdf").locator(".upload-detail")).to_have_text(
        re.compile(r"\d+% · [\d.]+ (KiB|MiB)/s · \d+ (s|min) left")
    )
    browsing.screenshot("02-uploading")
    cancelled = browsing.upload_row("cancel me.bin")
    cancelled.get_by_role("button", name="Cancel the upload of cancel me.bin").click()
    expect(cancelled).to_have_attribute("data-state", "cancelled")
    browsing.throttle_uploads(-1)
    for name in files:
        row = browsing.upload_row(name)
        expect(row).to_have_attribute("data-state", "done")
        expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
        expect(row).to_contain_text("100% · Uploaded")
    expect(page.get_by_role("status").filter(has_text="Uploads finished")).to_have_text(
        "Uploads finished. 3 files uploaded."
    )
    # The list shows the new files without the page having been reloaded.
    expect(page.locator("#file-rows tr")).to_have_count(3)
    assert page.evaluate("window.notReloaded") is True
    assert sorted(browsing.listed_names()) == sorted(files)
    expect(browsing.file_row("annual report.pdf")).to_contain_text("3.0 MiB")
    expect(browsing.file_row("notes.txt").locator("time")).to_have_text("just now")
    expect(browsing.file_row("annual report.pdf").locator(".bi-file-earmark-pdf")).to_have_count(1)
    browsing.screenshot("03-uploaded", full_page=True)

    page.get_by_role("link", name="Name", exact=True).click()
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "ascending")
    assert browsing.listed_names() == ["annual report.pdf", "holiday photo.png", "notes.txt"]
    page.get_by_role("link", name="Size", exact=True).click()
    expect(page.locator("th[aria-sort]")).to_have_attribute("aria-sort", "descending")
    assert browsing.listed_names() == ["annual report.pdf", "holiday photo.png", "notes.txt"]
    assert page.url.endswith("/files/?order=largest")

    page.get_by_label("Filter by name").fill("PHOTO")
    expect(page.locator("#file-rows tr")).to_have_count(1)
    expect(page.get_by_test_id("file-count")).to_have_text("1 file match “PHOTO”")
    page.get_by_label("Filter by name").fill("nothing like this")
    expect(page.get_by_test_id("empty-state")).to_contain_text("No file names contain")
    page.get_by_role("link", name="Show all files").click()
    expect(page.locator("#file-rows tr")).to_have_count(3)

    badge = browsing.file_row("notes.txt").locator(".backup-badge")
    expect(badge).to_have_text("Backed up")
    badge.focus()
    expect(page.get_by_role("tooltip")).to_contain_text("backup bucket")
    page.keyboard.press("Escape")

    for name in ("notes.txt", "annual report.pdf"):
        with page.expect_download() as download:
            page.get_by_role("link", name=f"Download {name}").click()
        target = tmp_path / name
        download.value.save_as(target)
        assert download.value.suggested_filename == name
        assert target.read_bytes() == files[name]

    # Delete by keyboard: the dialog opens on Cancel, Tab reaches Delete, Enter confirms.
    page.get_by_role("link", name="Delete holiday photo.png").focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Delete this file?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("holiday photo.png will be removed")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    browsing.screenshot("04-delete-dialog")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Delete")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Deleted the file.")).to_be_visible()
    assert sorted(browsing.listed_names()) == ["annual report.pdf", "notes.txt"]

    browsing.logout()
    assert browsing.problems == []


@pytest.mark.config(MAX_UPLOAD_BYTES=24 * KIB)
def test_a_file_over_the_limit_fails_alone_while_the_others_upload(browsing: Browsing) -> None:
    page = browsing.page
    browsing.register("limits")
    browsing.drop(
        ("small one.txt", b"a" * 2 * KIB),
        ("too big.bin", b"b" * 40 * KIB),
        ("small two.txt", b"c" * 3 * KIB),
    )
    expect(browsing.upload_row("small one.txt")).to_have_attribute("data-state", "done")
    expect(browsing.upload_row("small two.txt")).to_have_attribute("data-state", "done")
    big = browsing.upload_row("too big.bin")
    expect(big).to_have_attribute("data-state", "error")
    expect(big).to_contain_text("Too large: 40.0 KiB; this server accepts up to 24.0 KiB per file.")
    expect(page.get_by_role("status").filter(has_text="Uploads finished")).to_have_text(
        "Uploads finished. 2 files uploaded. 1 file failed."
    )
    expect(page.locator("#file-rows tr")).to_have_count(2)
    browsing.screenshot("05-upload-errors")

    # A page that believes in a larger limit still gets the server's 413, shown on that file
    # (in direct mode when the upload starts, before a byte reaches S3).
    page.evaluate("document.getElementById('upload-form').dataset.maxBytes = String(1 << 30)")
    browsing.drop(("sneaky.bin", b"d" * 30 * KIB))
    sneaky = browsing.upload_row("sneaky.bin")
    expect(sneaky).to_have_attribute("data-state", "error")
    expect(sneaky).to_contain_text("larger than the 24.0 KiB you may upload")
    expect(page.locator("#file-rows tr")).to_have_count(2)
    # Chromium logs every 4xx answer; the 413 is the one this test asked for.
    unexpected = [p for p in browsing.problems if "status of 413" not in p]
    assert unexpected == []


@pytest.mark.browsing(viewport=PHONE, color_scheme="dark", is_mobile=True, has_touch=True)
def test_a_phone_in_dark_mode_reaches_every_action(browsing: Browsing, tmp_path: Path) -> None:
    page = browsing.page
    browsing.register("phone")
    expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
    # "Choose a folder" takes every file inside, subfolders included.
    folder = tmp_path / "trip"
    (folder / "tickets").mkdir(parents=True)
    (folder / "receipt.jpg").write_bytes(b"\xff\xd8" + b"x" * 900)
    (folder / "tickets" / "train.pdf").write_bytes(b"%PDF-1.4 ticket")
    expect(page.get_by_role("button", name="Choose a folder")).to_be_visible()
    page.locator("#folder").set_input_files(folder)
    expect(browsing.upload_row("trip/receipt.jpg")).to_have_attribute("data-state", "done")
    expect(browsing.upload_row("trip/tickets/train.pdf")).to_have_attribute("data-state", "done")
    # The folder keeps its tree: the top level shows "trip", which holds the rest.
    page.locator("#folder-rows").get_by_role("link", name="trip", exact=True).click()
    expect(page.locator("#folder-rows tr")).to_have_count(1)
    expect(page.locator("#file-rows tr")).to_have_count(1)
    row = browsing.file_row("receipt.jpg")
    expect(row).to_be_visible()
    actions = [
        page.get_by_role("button", name="Choose files"),
        page.get_by_label("Filter by name"),
        page.get_by_role("link", name="Name", exact=True),
        row.get_by_role("link", name="Download receipt.jpg"),
        row.get_by_role("link", name="Delete receipt.jpg"),
        row.locator(".backup-badge"),
        page.get_by_test_id("account-menu"),
    ]
    for action in actions:
        expect(action).to_be_visible()
        box = action.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    browsing.screenshot("06-phone-dark", full_page=True)
    page.get_by_test_id("account-menu").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.keyboard.press("Escape")
    browsing.logout()
    assert browsing.problems == []


@pytest.mark.browsing(viewport=DESKTOP, java_script_enabled=False)
def test_without_javascript_the_plain_form_uploads(browsing: Browsing) -> None:
    page = browsing.page
    browsing.register("nojs")
    page.get_by_label("Files", exact=True).set_input_files(
        [{"name": "plain.txt", "mimeType": "text/plain", "buffer": b"no scripts needed"}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status").filter(has_text="Uploaded 1 file.")).to_be_visible()
    expect(browsing.file_row("plain.txt")).to_be_visible()
    page.get_by_role("link", name="Delete plain.txt").click()
    expect(page.get_by_role("heading", name="Delete this file?")).to_be_visible()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status").filter(has_text="Deleted the file.")).to_be_visible()
    assert browsing.problems == []


def test_token_page_and_api_docs_work_under_the_csp(browsing: Browsing) -> None:
    page = browsing.page
    browsing.register("tina")
    page.get_by_test_id("account-menu").click()
    page.get_by_role("link", name="Access tokens").click()
    page.get_by_label("Name").fill("laptop sync")
    page.get_by_label("write: upload and delete files").uncheck()
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("Token secret").input_value()
    assert re.fullmatch(r"sst_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", secret)
    row = page.locator("tr", has_text="laptop sync")
    expect(row).to_contain_text("read")
    expect(row).not_to_contain_text("write")
    browsing.screenshot("07-api-token")
    page.get_by_role("link", name="API docs").click()
    expect(page).to_have_url("/api/v1/docs")
    document = page.request.get("/api/v1/openapi.json").json()
    methods = {"get", "put", "post", "delete", "patch"}
    operations = sum(len(methods & item.keys()) for item in document["paths"].values())
    # Every operation of the document, drawn by the local bundle.
    expect(page.locator(".opblock")).to_have_count(operations)
    expect(page.get_by_text("OAS 3.1")).to_be_visible()
    browsing.screenshot("08-api-docs")
    assert browsing.problems == []


def test_a_share_link_with_a_password_and_a_limit_dies_at_its_limit(
    browsing: Browsing, chromium: Any, live_server: str
) -> None:
    page = browsing.page
    browsing.register("sam")
    body = b"the plan, version 3\n" * 50
    browsing.drop(("plan.txt", body))
    expect(browsing.upload_row("plan.txt")).to_have_attribute("data-state", "done")
    browsing.file_row("plan.txt").get_by_role("link", name="Share plan.txt").click()
    page.get_by_label("Expires after (days)").fill("2")
    page.get_by_label("Password (optional)").fill("a link password for sam")
    page.get_by_label("Download limit (optional)").fill("2")
    page.get_by_role("button", name="Create link").click()
    url = page.get_by_label("Share link").input_value()
    assert re.fullmatch(re.escape(live_server) + r"/s/[A-Za-z0-9_-]{43}", url)
    page.get_by_test_id("new-share").get_by_role("button", name="Copy").click()
    expect(page.get_by_test_id("new-share").locator("[data-copy-label]")).not_to_have_text("Copy")
    browsing.screenshot("09-share-created")

    visitor = Browsing(chromium, live_server, viewport=DESKTOP)
    try:
        stranger = visitor.page
        stranger.goto(url)
        expect(stranger.get_by_test_id("shared-name")).to_have_text("plan.txt")
        expect(stranger.locator("body")).not_to_contain_text("sam")
        stranger.get_by_label("Password").fill("a link password for sam")
        stranger.get_by_role("button", name="Unlock").click()
        for _ in range(2):
            with stranger.expect_download() as started:
                stranger.get_by_role("link", name="Download").click()
            assert Path(started.value.path()).read_bytes() == body
        visitor.screenshot("10-share-visitor")
        assert stranger.goto(url).status == 404  # type: ignore[union-attr]
        expect(stranger.locator("body")).not_to_contain_text("plan.txt")
        assert visitor.problems == [] or all("404" in p for p in visitor.problems)
    finally:
        visitor.close()

    page.goto("/shares/")
    row = page.locator("tr[data-share-id]")
    expect(row).to_have_attribute("data-state", "exhausted")
    expect(row.get_by_test_id("share-downloads")).to_have_text("2 of 2")
    assert browsing.problems == []


def test_folders_a_folder_upload_a_drag_and_drop_move_and_a_version_restore(
    browsing: Browsing, tmp_path: Path
) -> None:
    page = browsing.page
    browsing.register("organizer")
    page.get_by_label("New folder name").fill("Archive")
    page.get_by_test_id("create-folder").click()
    expect(page.get_by_role("heading", name="Archive")).to_be_visible()
    expect(page.get_by_test_id("empty-state")).to_contain_text("This folder is empty")
    page.get_by_test_id("breadcrumb").get_by_role("link", name="My files").click()

    photos = tmp_path / "photos"
    (photos / "2026").mkdir(parents=True)
    (photos / "cover.jpg").write_bytes(b"\xff\xd8 cover")
    (photos / "2026" / "beach.jpg").write_bytes(b"\xff\xd8 beach")
    browsing.arrive_at_files()
    expect(page.get_by_role("button", name="Choose a folder")).to_be_visible()
    page.locator("#folder").set_input_files(photos)
    expect(browsing.upload_row("photos/2026/beach.jpg")).to_have_attribute("data-state", "done")
    expect(browsing.upload_row("photos/cover.jpg")).to_have_attribute("data-state", "done")
    page.reload()
    browsing.open_folder("photos")
    browsing.open_folder("2026")
    expect(page.get_by_test_id("breadcrumb")).to_contain_text("photos")
    assert browsing.listed_names() == ["beach.jpg"]
    page.get_by_test_id("breadcrumb").get_by_role("link", name="My files").click()
    browsing.arrive_at_files()

    browsing.drop(("notes.txt", b"first draft"))
    expect(browsing.upload_row("notes.txt")).to_have_attribute("data-state", "done")
    expect(browsing.file_row("notes.txt")).to_be_visible()
    archive = page.locator("#folder-rows tr").filter(has_text="Archive")
    browsing.drag(browsing.file_row("notes.txt"), archive)
    expect(browsing.file_row("notes.txt")).to_have_count(0)
    browsing.open_folder("Archive")
    expect(browsing.file_row("notes.txt")).to_be_visible()

    page.get_by_test_id("replace").check()
    browsing.drop(("notes.txt", b"second draft, longer"))
    expect(browsing.upload_row("notes.txt")).to_have_attribute("data-state", "done")
    page.reload()
    page.wait_for_load_state("load")
    assert browsing.listed_names() == ["notes.txt"]  # replaced, not "notes (2).txt"
    browsing.file_row("notes.txt").get_by_role("link", name="Versions of notes.txt").click()
    expect(page.locator("tr[data-version-id]")).to_have_count(1)
    browsing.screenshot("12-versions")
    page.get_by_test_id("restore-version").click()
    expect(page.get_by_role("status").filter(has_text="Restored that version")).to_be_visible()
    expect(page.locator("tr[data-version-id]")).to_have_count(1)  # the replaced content
    page.get_by_role("link", name="its folder").click()
    download = browsing.file_row("notes.txt").get_by_role("link", name="Download notes.txt")
    answer = page.request.get(download.get_attribute("href") or "")
    assert answer.body() == b"first draft"
    browsing.screenshot("11-folders")
    assert browsing.problems == []


def _part_puts(page: Any) -> list[int]:
    """Record the part number of every part PUT to S3 that S3 accepted, in order."""
    accepted: list[int] = []

    def seen(response: Any) -> None:
        number = re.search(r"[?&]partNumber=(\d+)", response.url)
        if response.request.method == "PUT" and number and response.ok:
            accepted.append(int(number.group(1)))

    page.on("response", seen)
    return accepted


def _reload_with_parts_1_and_2_sent(browsing: Browsing, accepted: list[int], file: Path) -> None:
    """Choose `file` (three parts), let only parts 1 and 2 reach S3, then reload the page: an
    upload cut short, remembered by the page."""
    page = browsing.page
    page.route(re.compile(r".*[?&]partNumber=3&.*"), lambda route: route.abort("failed"))
    page.locator("#file").set_input_files(file)
    expect(browsing.upload_row(file.name)).to_contain_text("%")
    deadline = 100
    while sorted(accepted) != [1, 2] and deadline:
        page.wait_for_timeout(100)
        deadline -= 1
    assert sorted(accepted) == [1, 2]
    page.unroute(re.compile(r".*[?&]partNumber=3&.*"))
    page.reload()
    page.wait_for_load_state("load")


def test_a_direct_upload_survives_a_cut_part_and_resumes_after_a_reload(
    browsing: Browsing, tmp_path: Path, seaweedfs: LocalS3
) -> None:
    page = browsing.page
    browsing.register("resumer")
    body = os.urandom(12 * 1024 * KIB)  # three parts of the tests' 5 MiB
    video = tmp_path / "holiday video.mp4"
    video.write_bytes(body)
    accepted = _part_puts(page)

    # The network drops part 2 once: the transport sends it again, after a pause.
    cut: list[str] = []

    def drop_once(route: Any) -> None:
        if not cut:
            cut.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(re.compile(r".*[?&]partNumber=2&.*"), drop_once)
    page.locator("#file").set_input_files(video)
    expect(browsing.upload_row("holiday video.mp4")).to_have_attribute("data-state", "done")
    assert len(cut) == 1 and sorted(accepted) == [1, 2, 3]
    page.unroute(re.compile(r".*[?&]partNumber=2&.*"))
    assert seaweedfs.client().get_object(
        Bucket=PRIMARY, Key="resumer/holiday video.mp4"
    )["Body"].read() == body

    # Part 3 never gets through; the page is reloaded with parts 1 and 2 in S3.
    second = tmp_path / "second video.mp4"
    second.write_bytes(body[::-1])
    accepted.clear()
    _reload_with_parts_1_and_2_sent(browsing, accepted, second)
    expect(page.get_by_role("button", name="Choose a folder")).to_be_visible()
    accepted.clear()
    page.locator("#file").set_input_files(second)
    row = browsing.upload_row("second video.mp4")
    expect(row).to_have_attribute("data-state", "done")
    assert row.get_attribute("data-resumed") == "true"
    assert accepted == [3]  # parts 1 and 2 were not sent again
    assert seaweedfs.client().get_object(
        Bucket=PRIMARY, Key="resumer/second video.mp4"
    )["Body"].read() == body[::-1]
    expect(page.locator("#file-rows tr")).to_have_count(2)
    # Chromium logs the two parts the test cut; nothing else went wrong.
    cut_parts = ["net::ERR_CONNECTION_RESET", "net::ERR_FAILED"]
    assert [p for p in browsing.problems if not any(c in p for c in cut_parts)] == []


def test_a_remembered_upload_whose_id_now_names_another_is_not_resumed(
    browsing: Browsing, tmp_path: Path, seaweedfs: LocalS3
) -> None:
    """The page remembers an unfinished upload by its id, in the browser; should that id name
    another upload later (the app's database rebuilt, say), the file is not sent into it."""
    page = browsing.page
    browsing.register("reuser")
    body = os.urandom(12 * 1024 * KIB)  # three parts of the tests' 5 MiB
    video = tmp_path / "trip.mp4"
    video.write_bytes(body)
    accepted = _part_puts(page)
    _reload_with_parts_1_and_2_sent(browsing, accepted, video)
    # The remembered upload goes, and its id comes to name another file's upload.
    other = page.evaluate(
        """async () => {
            const form = document.getElementById("upload-form");
            const base = new URL(form.dataset.directUrl, window.location.href);
            const headers = { "Content-Type": "application/json",
              "X-CSRFToken": form.elements.namedItem("csrf_token").value };
            const remembered = Object.keys(localStorage)
              .filter((key) => key.startsWith("securestore.upload:"));
            for (const key of remembered) {
              const gone = new URL(localStorage.getItem(key), base);
              await fetch(gone, { method: "DELETE", headers });
            }
            const started = await fetch(base, { method: "POST", headers,
              body: JSON.stringify({ name: "other.bin", size: 7 }) });
            const id = (await started.json()).id;
            remembered.forEach((key) => { localStorage.setItem(key, String(id)); });
            return [remembered.length, id];
        }"""
    )
    assert other[0] == 1
    accepted.clear()
    page.locator("#file").set_input_files(video)
    row = browsing.upload_row("trip.mp4")
    expect(row).to_have_attribute("data-state", "done")
    assert row.get_attribute("data-resumed") != "true"
    assert sorted(accepted) == [1, 2, 3]
    client = seaweedfs.client()
    assert client.get_object(Bucket=PRIMARY, Key="reuser/trip.mp4")["Body"].read() == body
    untouched = page.evaluate(
        """async (id) => {
            const form = document.getElementById("upload-form");
            const base = new URL(form.dataset.directUrl, window.location.href);
            return (await (await fetch(new URL(String(id), base))).json()).parts.length;
        }""",
        other[1],
    )
    assert untouched == 0
    assert [p for p in browsing.problems if "net::ERR_FAILED" not in p] == []


def test_a_direct_upload_asks_for_part_urls_in_growing_batches_one_ahead(
    browsing: Browsing, tmp_path: Path, seaweedfs: LocalS3
) -> None:
    """19 parts: a batch of 3 (what the workers start on), then up to three times as many,
    each asked for while the one before is sent (9, then the last 7); no worker asks for a
    URL out of turn, and every part goes once."""
    page = browsing.page
    browsing.register("batcher")
    body = os.urandom(18 * 5 * 1024 * KIB + 1000)
    large = tmp_path / "large.bin"
    large.write_bytes(body)
    batches: list[list[int]] = []

    def asked(request: Any) -> None:
        if request.url.endswith("/parts"):
            batches.append(request.post_data_json["part_numbers"])

    page.on("request", asked)
    accepted = _part_puts(page)
    page.locator("#file").set_input_files(large)
    expect(browsing.upload_row("large.bin")).to_have_attribute("data-state", "done")
    assert batches == [list(range(1, 4)), list(range(4, 13)), list(range(13, 20))]
    assert sorted(accepted) == list(range(1, 20))
    stored = seaweedfs.client().head_object(Bucket=PRIMARY, Key="batcher/large.bin")
    assert stored["ContentLength"] == len(body)
    assert browsing.problems == []


PART = 8 * 1024 * KIB


@pytest.mark.parametrize(
    ("last", "sent_bytes", "seconds", "expected"),
    [
        (0, 0, 0.0, 3),  # the first batch: the parts sent at once
        (3, 0, 0.0, 9),  # nothing arrived yet: threefold
        (9, PART, 1.0, 27),  # 8 MiB/s: threefold, far below 5 minutes' worth
        (27, PART, 1.0, 64),  # never more than 64
        (9, PART, PART / 250_000, 8),  # 250 kB/s: 8 parts are 4.5 minutes
        (9, PART, PART / 100_000, 3),  # 100 kB/s: 5 minutes hold 3 parts
        (9, PART, PART / 10_000, 3),  # slower still: never fewer than go at once
    ],
)
def test_a_url_batch_grows_threefold_up_to_what_5_minutes_send(
    browsing: Browsing, last: int, sent_bytes: int, seconds: float, expected: int
) -> None:
    """The page's batch sizing (url-batches.js), in the browser: on a slow connection a batch
    holds no more parts than the upload sends in 5 minutes, so no URL expires unused."""
    browsing.register("sizer")
    size = browsing.page.evaluate(
        """async (args) => (await import("/static/js/url-batches.js")).nextBatchSize(args)""",
        {"first": 3, "last": last, "sentBytes": sent_bytes, "seconds": seconds, "partSize": PART},
    )
    assert size == expected


@pytest.mark.config(UPLOAD_MODE="stream")
def test_stream_mode_sends_files_through_the_app(browsing: Browsing) -> None:
    page = browsing.page
    browsing.register("streamer2")
    sent: list[str] = []
    page.on("request", lambda request: sent.append(f"{request.method} {request.url}"))
    browsing.drop(("through the app.txt", b"streamed" * 100))
    expect(browsing.upload_row("through the app.txt")).to_have_attribute("data-state", "done")
    uploads = [line for line in sent if line.startswith(("POST", "PUT"))]
    assert uploads and all("/files/upload" in line and "partNumber" not in line for line in uploads)
    assert browsing.problems == []
