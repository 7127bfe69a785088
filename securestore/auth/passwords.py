"""The password policy (ASVS 2.1) and hashing (ASVS 2.4): length, common list, scrypt.

Any character is allowed and nothing is required but length; a password is refused when it
is the username, or when it, or its letters once leading and trailing digits and symbols are
taken away ("Password2024!" -> "password"), is on the shipped list of common passwords.
"""

from __future__ import annotations

import functools
from importlib import resources

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from securestore.errors import ValidationError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
COMMON_PASSWORDS_FILE = "common_passwords.txt"
_EDGE_CHARACTERS = "0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def validate_password(password: str, username: str | None = None) -> None:
    """Raise `ValidationError` saying why a password is refused."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"Passwords can have at most {MAX_PASSWORD_LENGTH} characters.")
    lowered = password.lower()
    if username and username.strip().lower() in (lowered, lowered.strip(_EDGE_CHARACTERS)):
        raise ValidationError("Your password cannot be your username.")
    if is_common(password):
        raise ValidationError(
            "That password is on the list of commonly used passwords; choose another."
        )


def is_common(password: str) -> bool:
    """Tell whether the password, or its core, is on the shipped common-password list."""
    lowered = password.lower()
    common = common_passwords()
    return lowered in common or lowered.strip(_EDGE_CHARACTERS) in common


@functools.cache
def common_passwords() -> frozenset[str]:
    """Load the shipped list once (about 10,000 entries; see the file's header for its source)."""
    text = resources.files("securestore.auth").joinpath(COMMON_PASSWORDS_FILE).read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def hash_password(password: str) -> str:
    """Hash with `PASSWORD_HASH_METHOD` (scrypt N=2^15, r=8, p=3 unless configured)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def check_password(stored_hash: str | None, password: str) -> bool:
    """Compare in constant time; with no stored hash, spend the same time and say no."""
    if stored_hash is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return False
    return check_password_hash(stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    """Tell whether a hash was made with other parameters than the configured ones."""
    return stored_hash.split("$", 1)[0] != current_app.config["PASSWORD_HASH_METHOD"]


@functools.cache
def _dummy_hash(method: str) -> str:
    # Checked for unknown users, so a miss costs the same time as a wrong password.
    return generate_password_hash("not a real password, only here for timing", method=method)
