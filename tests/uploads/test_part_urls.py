"""Part URLs signed by `PartSigner` are the URLs boto3 itself would sign, and the origin the
page's CSP allows is where they point.

`DirectUploads.part_urls` signs a batch's first URL with boto3 and the others with
`PartSigner`; at the same instant both ways must give the same URL, byte for byte in every
parameter, for a local S3 (path-style) and for AWS (virtual-hosted, temporary credentials),
with a key and an upload id that need escaping. SeaweedFS accepting such URLs, and refusing
them tampered, is in test_direct.py.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
from botocore.auth import _host_from_url
from botocore.config import Config

from securestore.storage.direct import DirectUploads
from securestore.storage.part_signing import host_header

KEY = "alice/Some dir/fïle+(1) 100%.bin"
UPLOAD_ID = "2~Ab/c=+d.e_f-g"
SUM = base64.b64encode(hashlib.sha256(b"part").digest()).decode()
NOW = datetime(2026, 12, 3, 10, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_signing_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: NOW)


def direct_uploads(
    endpoint: str | None, style: str, token: str | None, bucket: str = "my-bucket"
) -> DirectUploads:
    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret/with+chars",
        aws_session_token=token,
    )
    client = session.client(
        "s3",
        endpoint_url=endpoint,
        region_name="eu-west-3",
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )
    return DirectUploads(client, session, bucket, {})


def boto3_url(uploads: DirectUploads, number: int, checksum: str | None) -> str:
    params = {"Bucket": "my-bucket", "Key": KEY, "UploadId": UPLOAD_ID, "PartNumber": number}
    if checksum:
        params["ChecksumSHA256"] = checksum
    return uploads.client.generate_presigned_url("upload_part", Params=params, ExpiresIn=900)


def parsed(url: str) -> tuple[str, str, str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc, parts.path, dict(parse_qsl(parts.query))


@pytest.mark.parametrize(
    ("endpoint", "style", "token"),
    [("http://127.0.0.1:8333", "path", None), (None, "virtual", "session/token+=")],
    ids=["local-path-style", "aws-virtual-temporary"],
)
@pytest.mark.parametrize("checksum", [SUM, None], ids=["checksummed", "plain"])
def test_every_url_of_a_batch_is_the_one_boto3_signs(
    endpoint: str | None, style: str, token: str | None, checksum: str | None
) -> None:
    uploads = direct_uploads(endpoint, style, token)
    urls = uploads.part_urls(KEY, UPLOAD_ID, {number: checksum for number in (7, 3, 12)})
    assert sorted(urls) == [3, 7, 12]
    for number, url in urls.items():
        assert parsed(url) == parsed(boto3_url(uploads, number, checksum))
    query = parsed(urls[12])[3]
    assert query["partNumber"] == "12" and query["uploadId"] == UPLOAD_ID
    assert query["X-Amz-Expires"] == "900"
    signed = "host;x-amz-checksum-sha256" if checksum else "host"
    assert query["X-Amz-SignedHeaders"] == signed
    assert ("X-Amz-Security-Token" in query) == (token is not None)


@pytest.mark.parametrize(
    "url",
    [
        "https://my-bucket.s3.eu-west-3.amazonaws.com/k",
        "https://S3.Example.ORG:443/k",
        "http://127.0.0.1:80/k",
        "http://127.0.0.1:8333/k",
        "https://[::1]:9000/k",
        "https://[fd00::5]/k",
    ],
)
def test_the_host_signed_is_the_one_botocore_signs(url: str) -> None:
    assert host_header(urlsplit(url)) == _host_from_url(url)


@pytest.mark.parametrize(
    ("endpoint", "style", "bucket", "origin"),
    [
        ("http://127.0.0.1:8333", "path", "my-bucket", "http://127.0.0.1:8333"),
        (None, "virtual", "my-bucket", "https://my-bucket.s3.eu-west-3.amazonaws.com"),
        # A dotted name would not match S3's wildcard certificate: botocore goes path-style.
        (None, "virtual", "files.example.org", "https://s3.eu-west-3.amazonaws.com"),
    ],
    ids=["local", "aws", "aws-dotted-bucket"],
)
def test_the_csp_origin_is_where_the_part_urls_point(
    endpoint: str | None, style: str, bucket: str, origin: str
) -> None:
    uploads = direct_uploads(endpoint, style, None, bucket)
    url = urlsplit(uploads.part_urls(KEY, UPLOAD_ID, {1: SUM})[1])
    assert uploads.origin() == f"{url.scheme}://{url.netloc}" == origin
