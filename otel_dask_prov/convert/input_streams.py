"""Reading input files: gzip that tolerates a cut, SHA-256 while reading, whole documents.

Gzip-compressed files are recognized by their magic bytes (:data:`GZIP_MAGIC`),
whatever their name. The conversion records the SHA-256 of every input; the
first pass computes it from the bytes it parses anyway (:class:`HashingReader`).
"""

from __future__ import annotations

import hashlib
import io
import json
import queue
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

GZIP_MAGIC: Final = b"\x1f\x8b"
"""The first two bytes of a gzip stream."""


class BackgroundSha256:
    """SHA-256 of the chunks given to :meth:`update`, computed in a thread.

    ``hashlib`` releases the GIL while it hashes, so the digest of a file costs
    the first pass almost nothing while it parses the same bytes on the other core.
    """

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, name="otel-prov-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            self._sha256.update(chunk)

    def update(self, data: ReadableBuffer) -> None:
        """Hash *data* (copied: the caller may reuse its buffer)."""
        self._chunks.put(bytes(data))

    def close(self) -> None:
        """Stop the thread (after hashing what it was given)."""
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        """The digest of everything given to :meth:`update`; stops the thread."""
        self.close()
        return self._sha256.hexdigest()


class HashingReader(io.RawIOBase):
    """A raw binary reader that hashes and counts what passes through it."""

    def __init__(self, raw: io.BufferedReader, on_bytes: Callable[[int], None]) -> None:
        self.raw = raw
        self.sha256 = BackgroundSha256()
        self.count = 0
        """Bytes read so far."""
        self.on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        size = self.raw.readinto(buffer)
        if size:
            self.sha256.update(memoryview(buffer)[:size])
            self.count += size
            self.on_bytes(size)
        return size or 0


class Gunzip(io.RawIOBase):
    """Decompresses a gzip stream (all members); a stream cut short just ends early.

    ``gzip.GzipFile`` raises on a truncated file before handing out the data it
    did decompress; a collector killed mid-write leaves exactly such files, and
    the lines before the cut are worth converting. :attr:`truncated` tells.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.truncated = False
        self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        while not self._pending:
            if self._decompressor.eof:
                rest = self._decompressor.unused_data
                self._decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                if not rest.strip(b"\0"):
                    rest = self.raw.read(1 << 16)
                    if not rest:
                        return 0
                self._pending = self._decompressor.decompress(rest)
                continue
            chunk = self.raw.read(1 << 16)
            if not chunk:
                self.truncated = True
                self._pending = self._decompressor.flush()
                if not self._pending:
                    return 0
                break
            try:
                self._pending = self._decompressor.decompress(chunk)
            except zlib.error:
                self.truncated = True
                return 0
        view = memoryview(buffer)
        size = min(len(view), len(self._pending))
        view[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def open_decompressed(path: Path) -> IO[bytes]:
    """*path* as a binary stream, decompressed if it is gzip."""
    raw = open(path, "rb")  # noqa: SIM115 - returned open, or wrapped by what is returned
    if raw.read(2) != GZIP_MAGIC:
        raw.seek(0)
        return raw
    raw.seek(0)
    return io.BufferedReader(Gunzip(raw), 1 << 20)


def document_values(path: Path) -> Any | None:
    """The JSON values of the whole file *path* (one value, or a list of several), or None
    if it is not a sequence of JSON values."""
    with open_decompressed(path) as stream:
        text = stream.read().decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    values = []
    position, end = 0, len(text)
    while True:
        while position < end and text[position] in " \t\r\n":
            position += 1
        if position >= end:
            break
        try:
            value, position = decoder.raw_decode(text, position)
        except ValueError:
            return None
        values.append(value)
    if not values:
        return None
    return values[0] if len(values) == 1 else values
