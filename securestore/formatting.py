"""Small text helpers shared by views, templates and error pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

_UNITS = ("KiB", "MiB", "GiB", "TiB")
DEFAULT_MEDIA_TYPE = "application/octet-stream"
_SIZE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGTP]i?B|B)?", re.IGNORECASE)
# Decimal units are powers of 1000 (500MB), binary ones of 1024 (10GiB), as on a disk's label.
_SIZE_UNITS = {"": 1, "B": 1} | {
    f"{letter}{suffix}": base**power
    for power, letter in enumerate("KMGTP", start=1)
    for suffix, base in (("B", 1000), ("IB", 1024))
}
# type/subtype in ASCII only: a header value outside Latin-1 breaks the response itself.
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+")


def human_size(size: int) -> str:
    """Format a byte count the way people read it: `512 B`, `1.5 MiB`."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def parse_size(text: str) -> int:
    """Bytes from `1234`, `500MB` (10^6) or `10GiB` (2^30); `ValueError` for anything else."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a size: bytes, or a number and a unit (500MB, 10GiB)")
    return int(float(match["number"]) * _SIZE_UNITS[(match["unit"] or "").upper()])


def media_type(raw: str | None) -> str:
    """The `type/subtype` of a declared content type, or octet-stream when it is not one.

    Parameters are dropped and case folded; anything but ASCII letters, digits and `.+-`
    (`text/hĥml`, say) cannot travel in a header and becomes `application/octet-stream`.
    """
    value = (raw or "").split(";", 1)[0].strip().lower()
    return value if _MEDIA_TYPE.fullmatch(value) else DEFAULT_MEDIA_TYPE


def content_disposition(filename: str) -> str:
    """Build an RFC 6266 attachment header whose `filename*` carries the exact UTF-8 name.

    The plain `filename` is an ASCII stand-in for old clients; quotes and backslashes are
    dropped from it so the header cannot be broken out of.
    """
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    fallback = fallback.replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def relative_time(when: datetime, now: datetime | None = None) -> str:
    """Say how long ago `when` was, the way people say it: `just now`, `3 hours ago`.

    Past a week the date itself reads better than a count of days.
    """
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < 45:
        return "just now"
    for size, unit in _SPANS:
        if seconds < size * _SPAN_LIMITS[unit]:
            count = max(1, round(seconds / size))
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return f"{when.day} {when:%b %Y}"


def exact_time(when: datetime) -> str:
    """The full timestamp shown on hover: `2025-03-14 09:26:53 UTC`."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_SPANS = ((60, "minute"), (3600, "hour"), (86400, "day"))
# How many of each unit before the next one takes over (55 minutes -> "1 hour ago").
_SPAN_LIMITS = {"minute": 55, "hour": 22, "day": 7}
