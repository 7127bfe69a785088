"""Direct uploads: S3 takes the bytes from the client, the app only starts, signs and finishes.

The app starts a multipart upload at the file's final key and signs one short-lived URL per
part. When the client names a part's SHA-256, it is signed into that URL (a signed
`x-amz-checksum-sha256` header), so S3 refuses any other bytes and a URL is good for one
part of one upload of one key only. S3 keeps a SHA-256 of every part of such an upload and a
composite checksum of the object, which the file record keeps. An upload whose parts come
without checksums is started without a checksum algorithm, because S3 then refuses parts
that carry none (AWS) or cannot complete without them (SeaweedFS).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from botocore.utils import check_dns_name

from securestore.storage.multipart import abort
from securestore.storage.part_signing import PartSigner
from securestore.storage.translate import translated
from securestore.storage.types import OpenUpload, ReceivedPart

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_s3 import S3Client

# The ceiling: a URL is a bearer credential for one part, so it lives briefly.
PART_URL_SECONDS = 15 * 60
CHECKSUM_ALGORITHM = "SHA256"
# What S3 answers a CompleteMultipartUpload whose parts do not make the object asked for.
_REFUSED_CODES = frozenset(
    {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "InvalidRequest", "BadDigest"}
)
_NO_UPLOAD = frozenset({"NoSuchUpload"})


@dataclass(frozen=True)
class DirectUploads:
    """The direct-upload calls on the primary bucket, with the writes' encryption settings."""

    client: S3Client
    # The client's session: its credentials (the same object the client signs with, refreshed
    # as the instance role rotates them) sign the part URLs after a batch's first.
    session: Session
    bucket: str
    encryption: dict[str, str]

    def start(self, key: str, *, content_type: str, checksummed: bool) -> str:
        """Start a multipart upload at `key` (a SHA-256 per part when `checksummed`).

        Returns the upload's id; the object gets the bucket's `S3_SSE` encryption.
        """
        extra = {"ChecksumAlgorithm": CHECKSUM_ALGORITHM} if checksummed else {}
        with translated("start direct upload", self.bucket, key):
            answer = self.client.create_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                ContentType=content_type,
                **self.encryption,  # type: ignore[arg-type]
                **extra,  # type: ignore[arg-type]
            )
        return answer["UploadId"]

    def part_urls(
        self, key: str, upload_id: str, checksums: Mapping[int, str | None]
    ) -> dict[int, str]:
        """Sign a `PUT` URL for each part number in `checksums`, bound to its checksum
        (base64 SHA-256) where one is given. The URLs are bearer credentials until they
        expire: never log them.

        boto3 signs the first; its address, credential scope and instant are what botocore
        resolved for this key, and `PartSigner` signs the others for the same address alone
        (boto3 would run its endpoint rules, parameter checks, event hooks and signer again
        for every part of the batch: half a millisecond per URL).
        """
        first, *others = sorted(checksums)
        urls = {first: self._presigned_part(key, upload_id, first, checksums[first])}
        if not others:
            return urls
        address = urlsplit(urls[first])
        query = dict(parse_qsl(address.query))
        credentials = self.session.get_credentials()
        if credentials is None:  # boto3 just signed with them: only a race could get here
            raise RuntimeError("the S3 credentials went away")
        signer = PartSigner(
            address._replace(query=""),
            credentials.get_frozen_credentials(),
            region=query["X-Amz-Credential"].split("/")[2],
            timestamp=query["X-Amz-Date"],
            expires=PART_URL_SECONDS,
        )
        for number in others:
            urls[number] = signer.url(upload_id, number, checksums[number])
        return urls

    def _presigned_part(self, key: str, upload_id: str, number: int, checksum: str | None) -> str:
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": number,
        }
        if checksum is not None:
            params["ChecksumSHA256"] = checksum
        with translated("sign upload part", self.bucket, key):
            return self.client.generate_presigned_url(
                "upload_part", Params=params, ExpiresIn=PART_URL_SECONDS
            )

    def origin(self) -> str:
        """The scheme, host and port that part URLs point at: what a page's CSP must allow
        in `connect-src` and the bucket's CORS must admit the page to.

        Worked out from the client's endpoint as botocore addresses the bucket, without
        signing anything: at start-up the instance role's credentials may not be there yet.
        A custom endpoint (`S3_ENDPOINT_URL`) is addressed path-style; on AWS the bucket is in
        the regional host (`S3Storage` asks for virtual-hosted URLs: the global host that
        `auto` signs outside us-east-1 answers a redirect, which a CORS preflight cannot
        follow), except for a name that cannot be a host there (a dotted one would not match
        S3's wildcard certificate): botocore addresses those path-style.
        """
        endpoint = urlsplit(self.client.meta.endpoint_url)
        style = (self.client.meta.config.s3 or {}).get("addressing_style")  # type: ignore[attr-defined]
        if style == "path" or not check_dns_name(self.bucket):  # dotted names fail it too
            return f"{endpoint.scheme}://{endpoint.netloc}"
        return f"{endpoint.scheme}://{self.bucket}.{endpoint.netloc}"

    def received_parts(self, key: str, upload_id: str) -> list[ReceivedPart]:
        """The parts S3 holds of the upload, by number; `NotFoundError` once it is gone."""
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=key, UploadId=upload_id
        )
        parts = []
        with translated("list parts", self.bucket, key, missing=_NO_UPLOAD):
            for page in pages:
                parts += [
                    ReceivedPart(
                        number=part["PartNumber"],
                        size=part["Size"],
                        etag=part["ETag"],
                        checksum=part.get("ChecksumSHA256"),
                    )
                    for part in page.get("Parts", [])
                ]
        return sorted(parts, key=lambda part: part.number)

    def finish(self, key: str, upload_id: str, parts: list[ReceivedPart]) -> str | None:
        """Complete the upload with `If-None-Match: *`; return S3's checksum of the object.

        The checksum reads `SHA256:<base64>-<parts>` (composite: the SHA-256 of the parts'
        SHA-256s), None for an upload without checksums. Raises `ObjectExistsError` when
        `key` was taken meanwhile, `UploadMismatchError` when S3 refuses the parts,
        `NotFoundError` when the upload is gone.
        """
        listed = [
            {"PartNumber": part.number, "ETag": part.etag}
            | ({"ChecksumSHA256": part.checksum} if part.checksum else {})
            for part in parts
        ]
        with translated(
            "finish direct upload", self.bucket, key, missing=_NO_UPLOAD, refused=_REFUSED_CODES
        ):
            answer = self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},  # type: ignore[typeddict-item]
                IfNoneMatch="*",
            )
        checksum = answer.get("ChecksumSHA256")
        return f"{CHECKSUM_ALGORITHM}:{checksum}" if checksum else None

    def abort(self, key: str, upload_id: str) -> None:
        """Abort the upload and let S3 drop its parts; a failure is logged, and the bucket's
        `AbortIncompleteMultipartUpload` rule (or the next `backup sync`) reaps it."""
        abort(self.client, self.bucket, key, upload_id)

    def open_uploads(self) -> Iterator[OpenUpload]:
        """Yield every multipart upload the bucket holds open (direct ones, streams in flight)."""
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket)
        with translated("list multipart uploads", self.bucket, "*"):
            for page in pages:
                for upload in page.get("Uploads", []):
                    yield OpenUpload(upload["Key"], upload["UploadId"], upload["Initiated"])
