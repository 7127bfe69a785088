"""List, upload, download and delete the logged-in user's files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from securestore.errors import (
    SecureStoreError,
    TooLargeError,
    TooManyFilesError,
    ValidationError,
    wants_json,
)
from securestore.extensions import csrf
from securestore.files import folders, listing, organize, service, streaming
from securestore.files.models import StoredFile
from securestore.files.naming import split_path
from securestore.files.responses import download_response, export_response
from securestore.quotas import service as quotas
from securestore.request_limits import accepts_uploads

bp = Blueprint("files", __name__, url_prefix="/files")

PAGE_SIZE = 50
# The total beside the list is exact up to this many files, then "more than": counting stops
# there, so a page costs the same for a user with a million files.
COUNT_LIMIT = 10_000
# Sortable columns: label, the order a first click picks, and the one a second click flips to.
SORT_COLUMNS = {
    "name": ("Name", "name", "name_desc"),
    "size": ("Size", "largest", "smallest"),
    "date": ("Uploaded", "newest", "oldest"),
}


@dataclass(frozen=True)
class SortLink:
    """A column header's link: the order it switches to and whether the list is sorted by it."""

    column: str
    label: str
    order: str
    active: bool


@bp.before_request
@login_required
def require_login() -> None:
    """Every files route is for logged-in users only."""


@bp.get("/")
def index() -> str:
    """Show the upload panel, the storage used, and one page of the user's files."""
    return render_template("files/index.html", **listing_context(), **usage_context())


@bp.get("/listing", endpoint="listing")
def listing_fragment() -> str:
    """Render just the file list, for the page's script to swap in without a reload."""
    return render_template("files/_listing.html", **listing_context())


@bp.post("/upload")
@accepts_uploads
@csrf.exempt  # streaming.protected_files checks the token without spooling the body
def upload() -> ResponseReturnValue:
    """Stream every file of the multipart field `file` to S3; a failure of one keeps the others.

    A form post gets the list back (303). A script asking for JSON gets each stored file and
    each refused one with its reason, under the status of the first refusal (else 201). An
    oversize file stops the whole request (413): reading on would only waste bandwidth.
    """
    stored: list[StoredFile] = []
    refused: list[tuple[str, SecureStoreError]] = []
    try:
        for item in streaming.protected_files(request):
            try:
                # Resolved once the CSRF token checked out: a path may create folders.
                target, name = upload_target(item.filename)
                incoming = service.Incoming(
                    name, item.stream, item.content_type, item.declared_size
                )
                stored.append(
                    service.store_upload(
                        current_user, incoming, target, address=request.remote_addr
                    )
                )
            except TooLargeError:
                raise
            except SecureStoreError as error:
                refused.append((item.filename, error))
    except TooManyFilesError as error:
        refused.append(("", error))  # the files stored before it are kept
    if not stored and not refused:
        raise ValidationError("Choose at least one file to upload.")
    status = refused[0][1].status if refused else 201
    if wants_json():
        return jsonify(
            files=[file_json(record) for record in stored],
            errors=[error_json(name, reason) for name, reason in refused],
        ), status
    if stored:
        # Flashes travel in the session cookie, which is signed, not encrypted: no file names.
        flash(f"Uploaded {len(stored)} file{'' if len(stored) == 1 else 's'}.", "success")
    if refused:
        context = {**listing_context(), **usage_context()}
        return render_template("files/index.html", refused=refused, **context), status
    return redirect(url_for("files.index"), code=303)


def upload_target(filename: str) -> tuple[service.Target, str]:
    """Where a file of the upload goes, and under which name: into `?folder_id=` (the root
    by default), or to `?path=` below it (a folder upload's relative path; folders on the way
    are created); `?on_conflict=replace` replaces a file of that name, keeping a version."""
    folder = folders.folder_or_root(current_user, request.args.get("folder_id", type=int))
    replace = request.args.get("on_conflict") == "replace"
    path = request.args.get("path")
    if not path:
        return service.Target(folder, replace), filename
    *parents, name = split_path(path)
    return service.Target(folders.ensure_path(current_user, folder, parents), replace), name


@bp.get("/<id:file_id>/download")
def download(file_id: int) -> ResponseReturnValue:
    """Send the file (whole, a `Range` of it, or a redirect to S3: see `download_response`)."""
    return download_response(service.get_file(current_user, file_id), request.remote_addr)


@bp.get("/<id:file_id>/delete")
def confirm_delete(file_id: int) -> str:
    """Ask before deleting (the page's script asks in a dialog instead)."""
    return render_template(
        "files/confirm_delete.html", file=service.get_file(current_user, file_id)
    )


@bp.post("/<id:file_id>/delete")
def delete(file_id: int) -> ResponseReturnValue:
    """Delete the file; the list no longer shows it, "Recently deleted" does."""
    service.delete_file(current_user, file_id, address=request.remote_addr)
    flash("Deleted the file. You can restore it from Recently deleted.", "success")
    return redirect(url_for("files.index"), code=303)


@bp.get("/export")
def export() -> ResponseReturnValue:
    """Download every file as one ZIP with `manifest.json` (names, sizes, SHA-256)."""
    return export_response(current_user, request.remote_addr)


@bp.get("/deleted")
def deleted() -> str:
    """Show the user's deleted files and folders that can still be restored, and until when."""
    return render_template(
        "files/deleted.html",
        entries=organize.list_deleted(current_user),
        retention=service.retention(),
    )


@bp.post("/<id:file_id>/restore")
def restore(file_id: int) -> ResponseReturnValue:
    """Restore a deleted file from its backup copy; it is listed again under its name."""
    service.restore_file(current_user, file_id, address=request.remote_addr)
    flash("Restored the file.", "success")
    return redirect(url_for("files.deleted"), code=303)


def listing_context() -> dict[str, Any]:
    """Read the folder, order, filter and page from the query string and fetch that page.

    `all=1` with a filter searches every folder (each hit then shows its folder).
    """
    order = request.args.get("order", "newest")
    name_filter = request.args.get("q", "").strip()[:255]
    folder = folders.folder_or_root(current_user, request.args.get("folder", type=int))
    recursive = bool(name_filter) and request.args.get("all") == "1"
    page = listing.list_page(
        current_user,
        cursor=request.args.get("cursor") or None,
        limit=PAGE_SIZE,
        name_filter=name_filter or None,
        order=order,
        folder=folder,
        recursive=recursive,
    )
    first_page = not request.args.get("cursor")
    return {
        "folder": folder,
        "breadcrumb": folders.ancestors(folder),
        "recursive": recursive,
        # Subfolders above the first page of files; a search across folders lists files only.
        "subfolders": (
            folders.list_page(current_user, folder).items if first_page and not name_filter else []
        ),
        "page": page,
        "order": order,
        "name_filter": name_filter,
        "descending": listing.ORDERS[order][1],
        "first_page": first_page,
        "total": listing.count_files(
            current_user,
            name_filter or None,
            up_to=COUNT_LIMIT,
            folder=folder,
            recursive=recursive,
        ),
        "count_limit": COUNT_LIMIT,
        "sort_links": sort_links(order),
    }


def usage_context() -> dict[str, Any]:
    """What the page says about the account's storage: bytes used and the quota (or None)."""
    return {
        "usage_bytes": quotas.usage_of(current_user),
        "quota_bytes": quotas.quota_of(current_user),
    }


def sort_links(order: str) -> dict[str, SortLink]:
    """Build each sortable column's link: a click sorts by it, a second click reverses it."""
    links = {}
    for column, (label, first, second) in SORT_COLUMNS.items():
        target = second if order == first else first
        links[column] = SortLink(column, label, target, order in (first, second))
    return links


def file_json(record: StoredFile) -> dict[str, Any]:
    """Describe a stored file to a script."""
    return {
        "id": record.id,
        "name": record.name,
        "path": record.path,
        "size": record.size,
        "backup_state": record.backup_state.value,
    }


def error_json(name: str, error: SecureStoreError) -> dict[str, Any]:
    """Describe why one file of an upload was refused."""
    return {"name": name, "code": error.code, "message": error.message, "status": error.status}
