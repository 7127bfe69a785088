"""The running app survives instance-role credential rotation without a restart.

On EC2, boto3 finds the role's temporary credentials through the instance metadata service
(IMDS). They last hours and EC2 replaces them before they expire. botocore re-reads IMDS when
the credentials it holds are within 15 minutes of expiry (advisory: one thread refreshes,
others keep signing) and blocks for new ones inside 10 minutes (mandatory);
credentials that already expire sooner than 10-20 minutes (random jitter) when fetched get
their expiry stretched so a brief IMDS outage is ridden out. The seed's ExpiredToken came from
credentials that never refreshed.

Here a fake IMDS serves the role on loopback (``AWS_EC2_METADATA_SERVICE_ENDPOINT``), a
verifying proxy in front of SeaweedFS plays S3's authentication (it knows every key issued,
refuses expired ones with ``ExpiredToken``, and records which key signed each request), and
instead of waiting hours the test moves the clock botocore's credentials consult. Request
signing keeps the real clock, as S3 would check it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.utils
import pytest
from botocore.config import Config as BotoConfig
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import ClientError
from flask import Flask
from flask.testing import FlaskClient

from securestore import create_app
from securestore.extensions import db
from securestore.locals3 import LocalS3
from tests.deploy.fakeaws import FakeIMDS, TemporaryCredentials, VerifyingS3Proxy
from tests.fixtures.apps import base_config
from tests.fixtures.forms import AuthActions, upload
from tests.fixtures.s3 import BACKUP, PRIMARY, object_body

ROLE = "securestore-app"
HOUR = dt.timedelta(hours=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CredentialClock:
    """The time botocore's credential logic sees; request signing keeps the real clock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = dt.timedelta()
        seconds_remaining = RefreshableCredentials._seconds_remaining
        current_datetime = botocore.utils.get_current_datetime

        def shifted_seconds_remaining(credentials: RefreshableCredentials) -> float:
            return float(seconds_remaining(credentials)) - self.offset.total_seconds()

        def shifted_current_datetime(remove_tzinfo: bool = True) -> dt.datetime:
            return current_datetime(remove_tzinfo) + self.offset

        # How long until the held credentials expire (drives advisory/mandatory refresh) ...
        monkeypatch.setattr(RefreshableCredentials, "_seconds_remaining", shifted_seconds_remaining)
        # ... and "now" for IMDS's expiry stretching, so both agree on the time.
        monkeypatch.setattr(botocore.utils, "get_current_datetime", shifted_current_datetime)

    def move_to(self, moment: dt.datetime) -> None:
        self.offset = moment - _now()


@pytest.fixture
def aws(
    seaweedfs: LocalS3, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeIMDS, VerifyingS3Proxy]]:
    """IMDS serving the role's first credentials, and S3 (proxy + SeaweedFS) accepting them."""
    first = TemporaryCredentials.issue(_now() + 6 * HOUR)
    proxy = VerifyingS3Proxy(
        seaweedfs.endpoint_url, seaweedfs.access_key, seaweedfs.secret_key, "us-east-1"
    )
    proxy.issue(first)
    imds = FakeIMDS(ROLE, first)
    # As on EC2: no keys in the environment or in files, only the metadata service.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_EC2_METADATA_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url + "/")
    yield imds, proxy
    imds.close()
    proxy.close()


@pytest.fixture
def role_app(
    aws: tuple[FakeIMDS, VerifyingS3Proxy], database_url: str
) -> Iterator[Flask]:
    _, proxy = aws
    app = create_app(base_config(database_url, S3_ENDPOINT_URL=proxy.url))
    yield app
    with app.app_context():
        db.engine.dispose()


def _keys_since(proxy: VerifyingS3Proxy, start: int) -> list[tuple[str, str]]:
    return [(seen.access_key, seen.outcome) for seen in proxy.seen()[start:]]


def _store(client: FlaskClient, name: str, body: bytes) -> None:
    response = upload(client, (name, body))
    assert response.status_code == 303, response.get_data(as_text=True)


def _stuck_client(proxy: VerifyingS3Proxy, credentials: TemporaryCredentials) -> Any:
    """A client that copied the old credentials once and never refreshes (the seed's bug)."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=proxy.url,
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
        config=BotoConfig(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


@pytest.mark.seaweedfs
def test_running_app_follows_rotated_role_credentials_without_restart(
    aws: tuple[FakeIMDS, VerifyingS3Proxy],
    role_app: Flask,
    seaweedfs: LocalS3,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imds, proxy = aws
    clock = CredentialClock(monkeypatch)
    first = imds.credentials
    client = role_app.test_client()
    username = "rot" + secrets.token_hex(4)
    AuthActions(client).signed_up(username)
    assert imds.credential_fetches == 1  # read once when the app built its S3 client

    _store(client, "before.txt", b"signed with the first key")
    assert {key for key, _ in _keys_since(proxy, 0)} == {first.access_key}

    # EC2 publishes the next credentials well before the current ones expire. Nothing
    # changes yet: botocore keeps the valid key and does not poll IMDS on every request.
    second = TemporaryCredentials.issue(_now() + 12 * HOUR)
    proxy.issue(second)
    imds.rotate(second)
    mark = len(proxy.seen())
    _store(client, "during.txt", b"still the first key")
    assert {key for key, _ in _keys_since(proxy, mark)} == {first.access_key}
    assert imds.credential_fetches == 1

    # 14 minutes before the first key expires (botocore's advisory window), and from now on
    # S3 refuses the first key outright.
    clock.move_to(first.expiration - dt.timedelta(minutes=14))
    proxy.expire(first)
    mark = len(proxy.seen())
    _store(client, "after.txt", b"signed with the second key")
    listing = client.get("/files/")
    assert listing.status_code == 200 and "before.txt" in listing.get_data(as_text=True)
    assert client.get("/storage/health").status_code == 200
    assert imds.credential_fetches == 2
    assert set(_keys_since(proxy, mark)) == {(second.access_key, "accepted")}

    # The S3 side really tells the keys apart: a client stuck on the first key is refused.
    with pytest.raises(ClientError) as refused:
        _stuck_client(proxy, first).head_bucket(Bucket=PRIMARY)
    assert refused.value.response["Error"]["Code"] in {"ExpiredToken", "400"}
    with pytest.raises(ClientError) as refused_put:
        _stuck_client(proxy, first).put_object(Bucket=PRIMARY, Key="stuck", Body=b"x")
    assert refused_put.value.response["Error"]["Code"] == "ExpiredToken"

    # A second rotation, this time noticed only inside the mandatory window (5 minutes left).
    third = TemporaryCredentials.issue(_now() + 18 * HOUR)
    proxy.issue(third)
    imds.rotate(third)
    clock.move_to(second.expiration - dt.timedelta(minutes=5))
    proxy.expire(second)
    mark = len(proxy.seen())
    _store(client, "later.txt", b"signed with the third key")
    assert set(_keys_since(proxy, mark)) == {(third.access_key, "accepted")}
    assert imds.credential_fetches == 3

    # The only refusals were the stuck client's; every file is intact in both buckets.
    refused_requests = [
        (seen.access_key, seen.method, seen.path)
        for seen in proxy.seen()
        if seen.outcome != "accepted"
    ]
    assert refused_requests == [
        (first.access_key, "HEAD", f"/{PRIMARY}"),
        (first.access_key, "PUT", f"/{PRIMARY}/stuck"),
    ]
    s3 = seaweedfs.client()
    for name, body in {
        "before.txt": b"signed with the first key",
        "during.txt": b"still the first key",
        "after.txt": b"signed with the second key",
        "later.txt": b"signed with the third key",
    }.items():
        assert object_body(s3, PRIMARY, f"{username}/{name}") == body
        assert object_body(s3, BACKUP, f"{username}/{name}") == body
