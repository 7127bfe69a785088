"""The app's S3 client reads timestamps as botocore would, only faster (`storage.timestamps`):
completing a direct upload reads one per part, `backup sync` compares them to expire uploads."""

from __future__ import annotations

import pytest
from botocore.utils import parse_timestamp

from securestore.storage.timestamps import parse_s3_timestamp


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-03T14:48:14.000Z",  # S3's XML bodies
        "2026-12-03T14:48:14Z",
        "2026-12-03T14:48:14.123456789Z",  # more digits than datetime keeps
        "2026-12-03T14:48:14+02:00",
        "2026-12-03T14:48:14",  # no zone: naive, as botocore reads it
        "2026-12-03T14:48:14.5-0800",  # not ISO 8601 as the standard library reads it
        "Thu, 03 Dec 2026 14:48:14 GMT",  # the HTTP dates of headers
    ],
)
def test_timestamps_read_as_botocore_reads_them(value: str) -> None:
    parsed, expected = parse_s3_timestamp(value), parse_timestamp(value)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()
