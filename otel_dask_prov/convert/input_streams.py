"""Reading input files: SHA-256 while reading, whole documents.

Compressed and framed files (gzip, zstd, the collector's length-prefixed
messages) are recognized by content and read as JSON lines by
:mod:`otel_dask_prov.export.trace_file_reader`. The conversion records the
SHA-256 of every input; the first pass computes it from the bytes it parses
anyway (:class:`HashingReader`).
"""

from __future__ import annotations

import hashlib
import io
import json
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..export.trace_file_reader import open_trace_lines

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

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


def document_values(path: Path) -> Any | None:
    """The JSON values of the whole file *path* (one value, or a list of several), or None
    if it is not a sequence of JSON values."""
    with open_trace_lines(path) as stream:
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
