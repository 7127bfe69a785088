"""How sizes, times and file kinds read in the list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from securestore.files.icons import DEFAULT_ICON, file_icon
from securestore.formatting import exact_time, relative_time

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ago", "text"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(seconds=70), "1 minute ago"),
        (timedelta(minutes=14, seconds=40), "15 minutes ago"),
        (timedelta(minutes=58), "1 hour ago"),
        (timedelta(hours=5), "5 hours ago"),
        (timedelta(hours=23), "1 day ago"),
        (timedelta(days=6), "6 days ago"),
        (timedelta(days=40), "2 Feb 2025"),
    ],
)
def test_relative_time_reads_like_speech(ago: timedelta, text: str) -> None:
    assert relative_time(NOW - ago, NOW) == text


def test_exact_time_is_utc_to_the_second() -> None:
    local = datetime(2025, 3, 14, 10, 26, 53, tzinfo=UTC).astimezone(
        datetime.now().astimezone().tzinfo
    )
    assert exact_time(local) == "2025-03-14 10:26:53 UTC"


@pytest.mark.parametrize(
    ("name", "content_type", "icon"),
    [
        ("Report.PDF", "", "bi-file-earmark-pdf"),
        ("holiday.jpeg", "", "bi-file-earmark-image"),
        ("backup.tar.gz", "", "bi-file-earmark-zip"),
        ("budget.xlsx", "", "bi-file-earmark-spreadsheet"),
        ("main.py", "", "bi-file-earmark-code"),
        ("scan", "image/tiff", "bi-file-earmark-image"),
        ("song.unknown", "audio/x-weird", "bi-file-earmark-music"),
        ("data.bin", "application/octet-stream", DEFAULT_ICON),
        (".hidden", "", DEFAULT_ICON),
    ],
)
def test_file_icons_follow_the_extension_then_the_media_type(
    name: str, content_type: str, icon: str
) -> None:
    assert file_icon(name, content_type) == icon
