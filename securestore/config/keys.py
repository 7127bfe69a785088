"""How much randomness a secret key holds, so that a guessable one stops start-up.

A signed session cookie is only as strong as `SECRET_KEY`: with `SECRET_KEY=x`, anyone can
sign a cookie that logs in as anyone. The estimate is conservative about structure and
generous about alphabets: each character is worth log2 of the smallest character class
that covers the whole key (16 for hex, 64 for base64url, 95 for printable ASCII), and a key
that repeats a few characters is refused whatever its length. `secrets.token_hex(32)`
(64 hex digits) and `secrets.token_urlsafe(32)` both hold 256 bits.
"""

from __future__ import annotations

import math
import string
from collections import Counter

MIN_KEY_BITS = 256  # 32 bytes of randomness
HOW_TO_MAKE_ONE = "python3 -c 'import secrets; print(secrets.token_hex(32))'"
_URLSAFE = set(string.ascii_letters + string.digits + "-_")
# A random key's characters are spread out; fewer than this many distinct ones is a pattern.
_MIN_DISTINCT = 10
_MIN_BITS_PER_CHARACTER = 3.0


def estimated_bits(key: str) -> float:
    """A conservative estimate of the randomness in `key`, in bits."""
    if not key:
        return 0.0
    counts = Counter(key)
    spread = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    if len(counts) < _MIN_DISTINCT or spread < _MIN_BITS_PER_CHARACTER:
        return 0.0
    if set(key) <= set(string.hexdigits):
        alphabet = 16
    elif set(key) <= _URLSAFE:
        alphabet = 64
    else:
        alphabet = 95
    return len(key) * math.log2(alphabet)


def weak_key_message(name: str, key: str) -> str | None:
    """Why `key` is too weak to sign sessions, or None when it is strong enough."""
    bits = estimated_bits(key)
    if bits >= MIN_KEY_BITS:
        return None
    return (
        f"{name} holds about {bits:.0f} bits of randomness; at least {MIN_KEY_BITS} (32 random "
        f"bytes) are needed, or anyone could sign a session. Make one with: {HOW_TO_MAKE_ONE}"
    )
