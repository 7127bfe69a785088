"""Small text helpers shared by views, templates and error pages."""

from __future__ import annotations

from urllib.parse import quote

_UNITS = ("KiB", "MiB", "GiB", "TiB")


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


def content_disposition(filename: str) -> str:
    """Build an RFC 6266 attachment header whose `filename*` carries the exact UTF-8 name.

    The plain `filename` is an ASCII stand-in for old clients; quotes and backslashes are
    dropped from it so the header cannot be broken out of.
    """
    fallback = filename.encode("ascii", "replace").decode("ascii").replace("?", "_")
    fallback = fallback.replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
