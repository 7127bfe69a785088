"""How the app's S3 client reads the timestamps in S3's answers.

botocore parses each one with dateutil's general parser, some 0.1 ms apiece: completing a
direct upload lists its parts, one `LastModified` per part, and `backup verify` and listings
read one per object. S3's XML bodies carry ISO 8601 timestamps, which the standard library
reads a hundred times faster; anything else (the HTTP dates of headers) goes to botocore's.
"""

from __future__ import annotations

from datetime import datetime

from botocore.utils import parse_timestamp


def parse_s3_timestamp(value: str) -> datetime:
    """The datetime of `value`, as botocore's own parser gives it (S3's carry a zone)."""
    if "T" in value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass  # a form the standard library does not read
    return parse_timestamp(value)
