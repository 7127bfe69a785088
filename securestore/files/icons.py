"""Pick the Bootstrap Icons glyph that tells a file's kind at a glance."""

from __future__ import annotations

from securestore.files.naming import split_extension

_BY_EXTENSION = {
    "bi-file-earmark-image": "jpg jpeg png gif webp svg bmp tif tiff heic avif ico",
    "bi-file-earmark-pdf": "pdf",
    "bi-file-earmark-zip": "zip tar gz tgz bz2 xz zst 7z rar",
    "bi-file-earmark-music": "mp3 wav flac ogg oga m4a aac opus",
    "bi-file-earmark-play": "mp4 m4v mov mkv webm avi wmv",
    "bi-file-earmark-word": "doc docx odt rtf pages",
    "bi-file-earmark-spreadsheet": "xls xlsx ods csv tsv numbers",
    "bi-file-earmark-slides": "ppt pptx odp key",
    "bi-file-earmark-code": (
        "py js mjs ts tsx jsx html htm css scss json xml yaml yml toml ini sh bash c h cpp hpp "
        "go rs java kt rb php sql swift"
    ),
    "bi-file-earmark-text": "txt md rst log",
    "bi-file-earmark-lock": "gpg pgp asc age kdbx p12 pfx pem",
}
_ICONS = {ext: icon for icon, exts in _BY_EXTENSION.items() for ext in exts.split()}
_BY_MEDIA_TYPE = {
    "image": "bi-file-earmark-image",
    "audio": "bi-file-earmark-music",
    "video": "bi-file-earmark-play",
    "text": "bi-file-earmark-text",
}
DEFAULT_ICON = "bi-file-earmark"


def file_icon(name: str, content_type: str = "") -> str:
    """Return the icon class for a file: by extension first, then by the media type."""
    extension = split_extension(name)[1].lstrip(".").lower()
    if extension in _ICONS:
        return _ICONS[extension]
    return _BY_MEDIA_TYPE.get(content_type.split("/", 1)[0], DEFAULT_ICON)
