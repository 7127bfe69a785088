"""Filename cleaning and key building: readable names that can never leave the prefix."""

from __future__ import annotations

import pytest

from securestore.errors import ValidationError
from securestore.files.naming import MAX_NAME_BYTES, clean_filename, numbered_name, object_key


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("résumé 2024.pdf", "résumé 2024.pdf"),
        ("报告.txt", "报告.txt"),
        ("re\u0301sume\u0301.txt", "résumé.txt"),  # decomposed accents are NFC-normalised
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("C:\\Users\\me\\notes.txt", "notes.txt"),
        ("/absolute/path.txt", "path.txt"),
        (".bashrc", "bashrc"),
        ("...hidden", "hidden"),
        ("a\x00b\x1fc\x7f.txt", "abc.txt"),
        ("new\nline.txt", "new line.txt"),
        ("evil\u202efdp.exe", "evilfdp.exe"),
        ("  spaced   out  .txt  ", "spaced out .txt"),
        ("tab\tname.txt", "tab name.txt"),
        ("<script>alert(1)</script>.html", "script>.html"),
    ],
)
def test_clean_filename(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


@pytest.mark.parametrize("raw", ["", "   ", "..", "../..", "/", "\x00\x01", ".", "dir/"])
def test_names_empty_after_cleaning_are_refused(raw: str) -> None:
    with pytest.raises(ValidationError, match="no usable characters"):
        clean_filename(raw)


def test_long_names_are_cut_to_255_bytes_keeping_the_extension() -> None:
    name = clean_filename("é" * 300 + ".pdf")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert name.endswith(".pdf")
    assert name.startswith("é")


def test_cutting_never_splits_a_character() -> None:
    name = clean_filename("报" * 200)
    name.encode().decode("utf-8")  # would raise on a split character
    assert len(name.encode()) == 255


@pytest.mark.parametrize(
    ("name", "number", "expected"),
    [
        ("report.pdf", 2, "report (2).pdf"),
        ("archive.tar.gz", 3, "archive.tar (3).gz"),
        ("README", 2, "README (2)"),
    ],
)
def test_numbered_names(name: str, number: int, expected: str) -> None:
    assert numbered_name(name, number) == expected


def test_numbered_long_name_still_fits() -> None:
    name = clean_filename("x" * 251 + ".pdf")
    numbered = numbered_name(name, 12)
    assert len(numbered.encode()) <= MAX_NAME_BYTES
    assert numbered.endswith(" (12).pdf")


def test_object_key_is_username_slash_name() -> None:
    assert object_key("alice", "résumé.pdf") == "alice/résumé.pdf"


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "a\\b"])
def test_object_key_refuses_uncleaned_names(name: str) -> None:
    with pytest.raises(ValueError):
        object_key("alice", name)
