"""Marshmallow schemas: they shape the JSON answers and generate the OpenAPI document."""

from __future__ import annotations

import marshmallow as ma

from securestore.files.listing import MAX_PAGE_SIZE, ORDERS
from securestore.files.models import BackupState
from securestore.tokens.service import SCOPES

DEFAULT_PAGE_SIZE = 50


class ErrorDetailSchema(ma.Schema):
    code = ma.fields.String(required=True, metadata={"description": "Stable, machine-readable."})
    message = ma.fields.String(required=True, metadata={"description": "For people."})


class ErrorSchema(ma.Schema):
    """The body of every 4xx and 5xx answer under /api/ (`errors.render_error`)."""

    error = ma.fields.Nested(ErrorDetailSchema, required=True)


class FileSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True, metadata={"description": "Unique in its folder."})
    folder_id = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "Null at the root."}
    )
    path = ma.fields.String(
        required=True, metadata={"description": "Below the user's root: `docs/2026/report.pdf`."}
    )
    size = ma.fields.Integer(required=True, metadata={"description": "Bytes."})
    sha256 = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Hex digest; null for a direct upload (see `checksum`)."},
    )
    checksum = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "A direct upload's S3 checksum, `SHA256:<base64>-<parts>` (the "
            "SHA-256 of its parts' SHA-256s); null otherwise."
        },
    )
    content_type = ma.fields.String(required=True)
    backup_state = ma.fields.Enum(BackupState, by_value=True, required=True)
    created_at = ma.fields.DateTime(required=True)


class FilePageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(FileSchema), required=True)
    next_cursor = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Pass as `cursor` for the next page; null on the last page."},
    )


class FileListQuerySchema(ma.Schema):
    cursor = ma.fields.String(metadata={"description": "`next_cursor` of the previous page."})
    limit = ma.fields.Integer(
        load_default=DEFAULT_PAGE_SIZE, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE)
    )
    q = ma.fields.String(metadata={"description": "Only names containing this (any case)."})
    order = ma.fields.String(load_default="newest", validate=ma.validate.OneOf(list(ORDERS)))
    folder_id = ma.fields.Integer(
        metadata={"description": "List this folder's files; omitted: the root's."}
    )
    recursive = ma.fields.Boolean(
        load_default=False, metadata={"description": "Every folder's files (a search with `q`)."}
    )


class UploadQuerySchema(ma.Schema):
    name = ma.fields.String(
        metadata={"description": "The file name, required for a raw (non-multipart) body."}
    )
    folder_id = ma.fields.Integer(metadata={"description": "Upload into this folder."})
    path = ma.fields.String(
        metadata={
            "description": "Upload to this path below the root (`a/b/c.txt`), creating missing"
            " folders; its last part is the file's name."
        }
    )
    on_conflict = ma.fields.String(
        load_default="rename",
        validate=ma.validate.OneOf(["rename", "replace"]),
        metadata={
            "description": "A name already used: `rename` stores `name (2)`, `replace` gives"
            " that file the new content and keeps the old one as a version."
        },
    )


class FileChangeSchema(ma.Schema):
    name = ma.fields.String(metadata={"description": "The new name."})
    folder_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "Move into this folder; null: the root."}
    )


class FolderSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    parent_id = ma.fields.Integer(required=True, allow_none=True)
    path = ma.fields.String(required=True, metadata={"description": "Below the root: `docs/2026`."})
    created_at = ma.fields.DateTime(required=True)


class FolderCreateSchema(ma.Schema):
    name = ma.fields.String(required=True)
    parent_id = ma.fields.Integer(allow_none=True, load_default=None)


class FolderChangeSchema(ma.Schema):
    name = ma.fields.String()
    parent_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "Move under this folder; null: the root."}
    )


class FolderListQuerySchema(ma.Schema):
    parent_id = ma.fields.Integer(metadata={"description": "Omitted: the root's subfolders."})
    cursor = ma.fields.String(metadata={"description": "`next_cursor` of the previous page."})
    limit = ma.fields.Integer(
        load_default=DEFAULT_PAGE_SIZE, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE)
    )


class FolderPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(FolderSchema), required=True)
    next_cursor = ma.fields.String(required=True, allow_none=True)


class VersionSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    size = ma.fields.Integer(required=True)
    sha256 = ma.fields.String(
        required=True, allow_none=True, metadata={"description": "Null for a direct upload."}
    )
    created_at = ma.fields.DateTime(
        required=True, metadata={"description": "When this content was uploaded."}
    )


class VersionListSchema(ma.Schema):
    versions = ma.fields.List(
        ma.fields.Nested(VersionSchema),
        required=True,
        metadata={"description": "Newest first; the current content is not one of them."},
    )


class TokenInfoSchema(ma.Schema):
    name = ma.fields.String(required=True)
    scopes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(SCOPES)),
        required=True,
        attribute="scope_list",
    )
    expires_at = ma.fields.DateTime(required=True, allow_none=True)


class MeSchema(ma.Schema):
    username = ma.fields.String(required=True)
    token = ma.fields.Nested(TokenInfoSchema, required=True)
    usage_bytes = ma.fields.Integer(
        required=True, metadata={"description": "Bytes of live files the account is charged."}
    )
    quota_bytes = ma.fields.Integer(
        required=True, allow_none=True, metadata={"description": "The quota; null: unlimited."}
    )


class CheckSchema(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    error = ma.fields.String(allow_none=True)


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(["ok", "unavailable"]))
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CheckSchema))


class ShareCreateSchema(ma.Schema):
    file_id = ma.fields.Integer(
        validate=ma.validate.Range(min=1), metadata={"description": "Share this file, or:"}
    )
    folder_id = ma.fields.Integer(
        validate=ma.validate.Range(min=1),
        metadata={"description": "share this folder's files (one of the two)."},
    )
    expires_in_days = ma.fields.Integer(
        metadata={"description": "1 to `SHARE_MAX_DAYS`; more is refused, not capped. Default 7."}
    )
    password = ma.fields.String(
        metadata={"description": "Visitors must enter it; same rules as account passwords."}
    )
    max_downloads = ma.fields.Integer(
        allow_none=True, metadata={"description": "Omitted or null: no limit."}
    )


class ShareSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    file_id = ma.fields.Integer(required=True, allow_none=True)
    folder_id = ma.fields.Integer(required=True, allow_none=True)
    created_at = ma.fields.DateTime(required=True)
    expires_at = ma.fields.DateTime(required=True, metadata={"description": "UTC."})
    max_downloads = ma.fields.Integer(required=True, allow_none=True)
    downloads = ma.fields.Integer(required=True, metadata={"description": "Counted so far."})
    has_password = ma.fields.Boolean(required=True)


class ShareStateSchema(ShareSchema):
    state = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["active", "expired", "exhausted"])
    )


class IssuedShareSchema(ShareSchema):
    url = ma.fields.String(
        required=True,
        metadata={"description": "`/s/<token>` on `PUBLIC_URL`; shown only in this answer."},
    )


class ShareListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(ShareStateSchema), required=True)


class UploadStartSchema(ma.Schema):
    name = ma.fields.String(required=True)
    size = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=1),
        metadata={"description": "Bytes; an empty file goes through `POST /api/v1/files`."},
    )
    content_type = ma.fields.String(load_default=None)
    folder_id = ma.fields.Integer(load_default=None, allow_none=True)


class UploadStartedSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    part_size = ma.fields.Integer(
        required=True, metadata={"description": "Bytes of every part but the last."}
    )
    part_count = ma.fields.Integer(required=True)
    expires_at = ma.fields.DateTime(
        required=True, metadata={"description": "Unfinished by then, the upload is aborted."}
    )


class PartsRequestSchema(ma.Schema):
    part_numbers = ma.fields.List(
        ma.fields.Integer(),
        required=True,
        validate=ma.validate.Length(min=1, max=1000),
    )
    checksums = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        load_default=dict,
        metadata={
            "description": "Base64 SHA-256 of each part, by part number: signed into its URL, "
            "so S3 refuses other bytes. For every part of the upload, or for none."
        },
    )


class PartUrlsSchema(ma.Schema):
    urls = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={
            "description": "A presigned `PUT` URL per part number, valid 15 minutes; send the "
            "part's checksum as `x-amz-checksum-sha256` when one was given."
        },
    )


class ReceivedPartSchema(ma.Schema):
    part_number = ma.fields.Integer(required=True, attribute="number")
    size = ma.fields.Integer(required=True)
    etag = ma.fields.String(required=True)


class UploadSchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    size = ma.fields.Integer(required=True)
    part_size = ma.fields.Integer(required=True)
    parts = ma.fields.List(
        ma.fields.Nested(ReceivedPartSchema),
        required=True,
        metadata={"description": "The parts S3 has received: send only the others."},
    )
