"""The app's boto3 S3 client, as `S3Storage.init_app` builds it from the `S3_*` settings.

Credentials come from boto3's default chain only (the EC2 instance role in production): no
key is ever passed here. Each setting below is a choice about cost or compatibility that
applies to every call the app makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
from botocore.config import Config as BotoConfig

from securestore.storage.timestamps import parse_s3_timestamp

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_s3 import S3Client


def build_client(settings: Mapping[str, Any]) -> tuple[S3Client, Session]:
    """The S3 client for `settings` (`app.config.get_namespace("S3_")`) and its session.

    The session is kept beside the client: presigned part URLs are signed with its
    credentials (`storage.direct`).
    """
    client_config = BotoConfig(
        retries={"mode": "standard", "max_attempts": 3},
        # Presigned download URLs are SigV4 (SigV2 is deprecated and has no expiry cap).
        signature_version="s3v4",
        # One connection per thread that may talk to S3 at once: gunicorn threads times
        # the parts each upload keeps in flight (see S3_MAX_POOL_CONNECTIONS).
        max_pool_connections=settings["max_pool_connections"],
        s3={
            # Path-style keys for a custom endpoint (a local S3 has no bucket subdomains);
            # on AWS the regional virtual host, which presigned part URLs need (see
            # `DirectUploads.origin`).
            "addressing_style": "path" if settings["endpoint_url"] else "virtual",
            # Every upload carries a checksum header that S3 verifies (the SHA-256 of a
            # single PUT, the CRC32 of each part). Over HTTPS botocore then skips SigV4's
            # payload hash by itself; over plain HTTP (a local S3) it would hash every byte
            # once more, the upload's largest CPU cost, so it is off for both.
            "payload_signing_enabled": False,
        },
    )
    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=parse_s3_timestamp
    )
    session = boto3.session.Session(botocore_session=core)
    client = session.client(
        "s3",
        endpoint_url=settings["endpoint_url"],
        region_name=settings["region"],
        config=client_config,
    )
    return client, session
