"""Turn a user's file name into a safe one, and build object keys from names.

Names stay readable (Unicode included) but can never leave the owner's prefix: every path
separator, control character and leading dot is removed before a name reaches a key.
"""

from __future__ import annotations

import re
import unicodedata

from securestore.errors import ValidationError

MAX_NAME_BYTES = 255
# A path below the user's root (folders and the name) holds at most this many bytes.
MAX_PATH_BYTES = 1024
# Bidirectional overrides can make "evil‮fdp.exe" display as "evilexe.pdf".
_BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)
_SEPARATORS = re.compile(r"[/\\]")
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")


def clean_filename(raw: str) -> str:
    """Return the safe form of `raw`, or raise `ValidationError` when nothing usable is left."""
    name = unicodedata.normalize("NFC", raw)
    # Old browsers send the whole client path ("C:\\Users\\me\\report.pdf"): keep the last part.
    name = _SEPARATORS.split(name)[-1]
    name = _WHITESPACE.sub(" ", name)  # tabs and newlines become plain spaces
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cc")
    name = name.translate(_BIDI_CONTROLS).strip()
    name = name.lstrip(". ").rstrip(" ")
    if not name:
        raise ValidationError(f"The file name {raw!r} has no usable characters; rename it.")
    return _fit(name, "")


def numbered_name(name: str, number: int) -> str:
    """Return the `number`-th alternative for a taken name: `report (2).pdf`."""
    stem, ext = split_extension(name)
    return _fit(stem, f" ({number}){ext}")


def split_extension(name: str) -> tuple[str, str]:
    """Split `report.tar.gz` into `report.tar` and `.gz`; a name with no stem has no extension."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return name, ""
    return stem, "." + ext


def object_key(username: str, name: str, folder_path: str | None = None) -> str:
    """Build the S3 key `<username>/<folder path>/<name>` for a cleaned name.

    Raises `ValidationError` when the path would pass `MAX_PATH_BYTES`.
    """
    if "/" in name or "\\" in name or name.startswith("."):
        raise ValueError("object_key takes a cleaned file name")
    path = join_path(folder_path, name)
    if len(path.encode()) > MAX_PATH_BYTES:
        raise ValidationError(
            f"That path is longer than {MAX_PATH_BYTES} bytes; use shorter folder names."
        )
    return f"{username}/{path}"


def join_path(folder_path: str | None, name: str) -> str:
    """The path of `name` inside the folder at `folder_path` (None: the root)."""
    return f"{folder_path}/{name}" if folder_path else name


def split_path(raw: str) -> list[str]:
    """Clean each segment of a relative path (`docs/2026/report.pdf`); the last is the file.

    Empty segments and `.` are skipped; `..` is refused rather than resolved, so a path can
    never point outside the folder it is relative to.
    """
    segments = [part for part in raw.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in segments:
        raise ValidationError("A path cannot contain `..`.")
    if not segments:
        raise ValidationError("The path names no file.")
    return [clean_filename(part) for part in segments]


def _fit(stem: str, suffix: str) -> str:
    """Shorten `stem` (never mid-character) so that `stem + suffix` fits in MAX_NAME_BYTES."""
    if not suffix:
        stem, suffix = split_extension(stem)
    budget = MAX_NAME_BYTES - len(suffix.encode())
    if budget <= 0:
        # An absurdly long extension: keep its end, which is what identifies the type.
        return (stem + suffix).encode()[-MAX_NAME_BYTES:].decode("utf-8", "ignore").lstrip(". ")
    encoded = stem.encode()
    if len(encoded) > budget:
        stem = encoded[:budget].decode("utf-8", "ignore").rstrip(" ")
    return stem + suffix
