"""The public pages of a share link, `/s/<token>`: for anyone holding the link, no account.

They show the shared file's name and size (a folder's: its files, with their paths below it)
and nothing else of its owner's, not even the username; every answer keeps the link out of
`Referer` headers and search engines. Bytes pass through the app, or with
`DOWNLOAD_MODE=accel` through nginx, never a presigned redirect: an S3 key names the owner,
and nginx keeps the URL to itself.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from securestore.errors import AuthenticationError
from securestore.files import service as files
from securestore.files.models import StoredFile
from securestore.files.responses import (
    accel_response,
    file_response,
    nginx_fetches,
    requested_span,
    zip_response,
)
from securestore.shares import access
from securestore.shares.forms import UnlockForm
from securestore.shares.models import ShareLink

bp = Blueprint("public_shares", __name__, url_prefix="/s")


@bp.after_request
def private_headers(response: Response) -> Response:
    """The token is the secret: never sent on as a referrer, indexed or kept in a cache."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(token: str, link: ShareLink, form: UnlockForm | None = None) -> str:
    unlocked = access.unlocked(link)
    return render_template(
        "shares/public.html",
        token=token,
        file=link.file,
        folder=link.folder,
        # A folder's contents are shown only to a browser that may download them.
        contents=access.shared_files(link) if link.folder is not None and unlocked else [],
        unlocked=unlocked,
        form=form,
    )


@bp.get("/<token>")
def page(token: str) -> str:
    """The file's name and size with a Download button, or the password form first."""
    link = access.visit(token, address=request.remote_addr)
    return _page(token, link, None if access.unlocked(link) else UnlockForm())


@bp.post("/<token>")
def unlock(token: str) -> ResponseReturnValue:
    """Check the link's password (CSRFProtect checks the form); a right one grants this
    browser the link for a while."""
    link = access.open_link(token)
    form = UnlockForm()
    if not form.validate_on_submit():
        return _page(token, link, form), 400
    try:
        access.unlock(link, form.password.data or "", address=request.remote_addr)
    except AuthenticationError as error:
        form.password.errors = [error.message]
        return _page(token, link, form), 401
    return redirect(url_for("public_shares.page", token=token), code=303)


@bp.get("/<token>/download")
def download(token: str) -> ResponseReturnValue:
    """Send the file as an attachment (a folder link: the folder as one streamed ZIP);
    counted once its bytes start, resumes not again."""
    link = access.open_link(token, used_up_ok=True)
    if link.folder is not None:
        return zip_response(access.start_zip(link, address=request.remote_addr))
    return _send(link, access.shared_file(link, None))


@bp.get("/<token>/files/<id:file_id>/download")
def download_file(token: str, file_id: int) -> ResponseReturnValue:
    """Send one file of a folder link as an attachment; a file outside its folder is 404."""
    link = access.open_link(token, used_up_ok=True)
    return _send(link, access.shared_file(link, file_id))


def _send(link: ShareLink, record: StoredFile) -> ResponseReturnValue:
    span = requested_span(record)
    if nginx_fetches():
        access.admit_download(link, record, span, address=request.remote_addr)
        return accel_response(files.signed_url(record))
    stream = access.start_download(link, record, span, address=request.remote_addr)
    return file_response(record, span, stream)
