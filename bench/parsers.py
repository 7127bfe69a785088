"""Compare the two streaming multipart parsers on the same body: werkzeug's sans-IO
`MultipartDecoder` (through securestore.files.streaming) and `streaming-form-data`.

Both read a generated multipart body from memory in the same chunk size and discard the file
bytes, so the number is the parser's own cost per byte (MB/s of body parsed, median of runs).
Run: python -m bench.parsers [MiB]
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections import deque

from streaming_form_data import StreamingFormDataParser
from streaming_form_data.targets import BaseTarget, ValueTarget

from securestore.files.streaming import READ_BYTES, FilePart, iter_parts

BOUNDARY = "----SecureStoreBench7MA4YWxkTrZu0gW"
RUNS = 5


class _Discard(BaseTarget):
    """A file target that counts bytes and keeps none."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0

    def on_data_received(self, chunk: bytes) -> None:
        self.size += len(chunk)


def multipart_body(size: int) -> bytes:
    """A browser-shaped form: the CSRF token first, then one file of `size` bytes."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\ntoken\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    # Bytes with CR and LF in them, as real files have: the parsers must check each.
    payload = (bytes(range(256)) * (size // 256 + 1))[:size]
    return head + payload + f"\r\n--{BOUNDARY}--\r\n".encode()


def werkzeug_decoder(body: bytes) -> int:
    size = 0
    for part in iter_parts(io.BytesIO(body), BOUNDARY, max_field_bytes=READ_BYTES):
        if isinstance(part, FilePart):
            while chunk := part.stream.read(8 * 1024 * 1024):
                size += len(chunk)
    return size


class _Queued(BaseTarget):
    """Queue what streaming-form-data pushes, so a reader can pull it like a file."""

    def __init__(self, events: deque[tuple[str, bytes]]) -> None:
        super().__init__()
        self.events = events

    def on_start(self) -> None:
        self.events.append(("start", b""))

    def on_data_received(self, chunk: bytes) -> None:
        self.events.append(("data", chunk))

    def on_finish(self) -> None:
        self.events.append(("end", b""))


def streaming_form_data(body: bytes) -> int:
    """The same pull-style reading as the app does, over streaming-form-data's push parser."""
    parser = StreamingFormDataParser(
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    )
    events: deque[tuple[str, bytes]] = deque()
    parser.register("file", _Queued(events))
    parser.register("csrf_token", ValueTarget())
    stream = io.BytesIO(body)
    size = 0
    while True:
        while not events:
            chunk = stream.read(READ_BYTES)
            if not chunk:
                return size
            parser.data_received(chunk)
        kind, data = events.popleft()
        size += len(data)


def measure(size_mib: int) -> dict[str, float]:
    """Return the median MB/s of each parser on a body holding a file of `size_mib` MiB."""
    body = multipart_body(size_mib * 1024 * 1024)
    results = {}
    for name, parse in (
        ("werkzeug MultipartDecoder", werkzeug_decoder),
        ("streaming-form-data", streaming_form_data),
    ):
        speeds = []
        for _ in range(RUNS):
            started = time.perf_counter()
            assert parse(body) == size_mib * 1024 * 1024
            speeds.append(len(body) / (time.perf_counter() - started) / 1e6)
        results[name] = statistics.median(speeds)
    return results


if __name__ == "__main__":
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    for parser_name, speed in measure(mib).items():
        print(f"{parser_name:28} {speed:8.0f} MB/s  ({mib} MiB file)")
