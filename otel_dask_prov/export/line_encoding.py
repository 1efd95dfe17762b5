"""How a local trace file stores its lines: the ``trace_file_format`` setting.

A :class:`LineEncoding` turns one text line (an OTLP JSON request, spans or log
records) into the bytes appended to the file. ``jsonl.zst``, the default, makes
each line one zstd frame, complete and decodable alone: a file cut by a killed
process reads up to its last whole frame, and repeated values (resource
attributes, span and attribute names, dependency keys) cost a few bytes each.
``jsonl`` writes the lines as they are, for people who read files with ``less``
(``otel-prov cat`` prints either). Readers tell the two apart by content
(:mod:`.trace_file_reader`).
"""

from __future__ import annotations

from typing import Final

import zstandard

from ..settings import TRACE_FILE_FORMATS

ZSTD_LEVEL: Final = 1
"""zstd's level for trace files. On a real 5,000-task map's batches level 1 wrote 173 bytes
per task in 2.5 µs, level 3 186 bytes in 3.1 µs (docs/performance.md)."""


class LineEncoding:
    """The bytes of one line in a file of format *name* (one of :data:`TRACE_FILE_FORMATS`).

    Not thread-safe: the file that uses it encodes under its lock.
    """

    def __init__(self, name: str) -> None:
        if name not in TRACE_FILE_FORMATS:
            raise ValueError(f"unknown trace file format {name!r}")
        self.name = name
        self.suffix = f".{name}"
        """The file name suffix of this format (readers go by content, people by name)."""
        self._compressor = (zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True)
                            if name == "jsonl.zst" else None)

    def encode(self, line: str) -> bytes:
        """*line* (ending in a newline) as the bytes to append."""
        data = line.encode("utf-8")
        return data if self._compressor is None else self._compressor.compress(data)
