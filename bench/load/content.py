"""What the load users upload: sizes from 1 KiB to 64 MiB, each file's bytes known in advance.

A file is a prefix of one shared block of random bytes followed by a trailer naming the file
(its owner and number), so every download can be checked without keeping files anywhere: a
whole download must end with its own trailer (another user's bytes never do) and a Range
must equal the slice computed here. The SHA-256 of each size's shared prefix is computed
once; a file's digest is then a copy of it plus the trailer, so uploading costs the Locust
process no hashing (a 64 MiB hash would stall every user of its event loop for ~0.1 s).
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

KIB = 1024
MIB = 1024 * KIB
# (label, bytes, weight): many small files, 1 MiB often enough for its own percentiles, and
# a few large ones, which bound the whole run's bytes to about 1-2 GiB at 50 users.
SIZES = (
    ("1 KiB", KIB, 25),
    ("64 KiB", 64 * KIB, 20),
    ("256 KiB", 256 * KIB, 15),
    ("1 MiB", MIB, 25),
    ("8 MiB", 8 * MIB, 8),
    ("64 MiB", 64 * MIB, 1),
)
TRAILER_BYTES = 64
CHUNK = MIB


@cache
def _block() -> bytes:
    """The shared random bytes (made once per process, on first use)."""
    return os.urandom(max(size for _, size, _ in SIZES))


@cache
def _prefix_digest(size: int) -> hashlib._Hash:
    return hashlib.sha256(memoryview(_block())[: size - TRAILER_BYTES])


def pick_size(rng: random.Random) -> tuple[str, int]:
    """Draw a size label and byte count with the weights above."""
    label, size, _ = rng.choices(SIZES, weights=[weight for _, _, weight in SIZES])[0]
    return label, size


@dataclass(frozen=True)
class Payload:
    """One file's name and bytes; iterable in chunks and sized, so requests streams it."""

    name: str
    size: int
    label: str

    @property
    def trailer(self) -> bytes:
        return self.name.encode().ljust(TRAILER_BYTES, b"#")[:TRAILER_BYTES]

    @property
    def sha256(self) -> str:
        digest = _prefix_digest(self.size).copy()
        digest.update(self.trailer)
        return digest.hexdigest()

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[bytes | memoryview]:
        body = memoryview(_block())[: self.size - TRAILER_BYTES]
        for offset in range(0, len(body), CHUNK):
            yield body[offset : offset + CHUNK]
        yield self.trailer

    def slice(self, start: int, stop: int) -> bytes:
        """The bytes of `[start, stop)`, as a Range download must answer them."""
        shared = self.size - TRAILER_BYTES
        head = _block()[start : min(stop, shared)] if start < shared else b""
        tail = self.trailer[max(start - shared, 0) : max(stop - shared, 0)]
        return head + tail


def payload(username: str, number: int, rng: random.Random) -> Payload:
    """A new file for `username`: its name carries the owner and the upload's number."""
    label, size = pick_size(rng)
    return Payload(f"{username}-{number:05d}-{label.replace(' ', '')}.bin", size, label)
