"""Write OTLP JSON lines to a local file.

:class:`JsonLinesExporter` is the embedded default (no collector needed) and
:class:`SpillFile` keeps the spans that could not be delivered to a collector,
up to a size bound, for ``otel-prov replay``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .line_encoding import LineEncoding
from .log_data import LogData
from .otlp_json import encode_line
from .otlp_logs import encode_logs_line
from .span_data import SpanData

logger = logging.getLogger(__name__)


def process_file_name(service_name: str, suffix: str = ".jsonl") -> str:
    """A file name unique to this process: ``<service>-<host>-<pid>-<start time><suffix>``."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return f"{service_name}-{socket.gethostname()}-{os.getpid()}-{stamp}{suffix}"


class _LineFile:
    """An append-only file written one whole line at a time, opened on first use.

    Each line is stored as its *encoding* makes it (plain text by default; a zstd
    frame for ``jsonl.zst``), so a file cut by a killed process loses at most its last line.
    """

    def __init__(self, path: Path, encoding: LineEncoding | None = None) -> None:
        self.path = path
        self._encoding = encoding or LineEncoding("jsonl")
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()

    def write(self, line: str, room: int | None = None) -> int:
        """Append *line*; the bytes written, or 0 (nothing written) if they would pass *room*."""
        with self._lock:
            data = self._encoding.encode(line)
            if room is not None and len(data) > room:
                return 0
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "ab")  # noqa: SIM115 - closed in close()
            self._file.write(data)
            self._file.flush()
            return len(data)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class JsonLinesExporter:
    """Append every exported batch as one OTLP JSON line to *path*.

    *prefix* is the request prefix of the process (:func:`~otel_dask_prov.export.otlp_json.resource_prefix`),
    *logs_prefix* that of its log records (:func:`~otel_dask_prov.export.otlp_logs.logs_prefix`):
    a batch of log records is one ``resourceLogs`` line of the same file.
    """

    def __init__(self, path: Path, prefix: str, logs_prefix: str,
                 encoding: LineEncoding | None = None) -> None:
        self.path = path
        self._prefix = prefix
        self._logs_prefix = logs_prefix
        self._file = _LineFile(path, encoding)

    def export_data(self, spans: Sequence[SpanData]) -> bool:
        if spans:
            self._file.write(encode_line(self._prefix, spans))
        return True

    def export_logs(self, logs: Sequence[LogData]) -> bool:
        if logs:
            self._file.write(encode_logs_line(self._logs_prefix, logs))
        return True

    def shutdown(self) -> None:
        self._file.close()


class SpillFile:
    """Keeps undeliverable spans and log records in OTLP JSON lines, at most *max_bytes*.

    Spans past the bound are dropped and counted in :attr:`dropped`; what was kept
    is counted in :attr:`spilled` (log records in :attr:`logs_spilled` and
    :attr:`logs_dropped`). ``otel-prov replay`` delivers the file later.
    """

    def __init__(self, path: Path, prefix: str, logs_prefix: str, max_bytes: int,
                 encoding: LineEncoding | None = None) -> None:
        self.path = path
        self._prefix = prefix
        self._logs_prefix = logs_prefix
        self.max_bytes = max_bytes
        self.spilled = 0
        self.dropped = 0
        self.logs_spilled = 0
        self.logs_dropped = 0
        self._bytes = 0
        self._file = _LineFile(path, encoding)

    def add(self, spans: Sequence[SpanData]) -> None:
        if not spans:
            return
        if self._write(encode_line(self._prefix, spans)):
            self.spilled += len(spans)
        else:
            self.dropped += len(spans)

    def add_logs(self, logs: Sequence[LogData]) -> None:
        if not logs:
            return
        if self._write(encode_logs_line(self._logs_prefix, logs)):
            self.logs_spilled += len(logs)
        else:
            self.logs_dropped += len(logs)

    def _write(self, line: str) -> bool:
        """Append *line* unless it would pass the bound (in bytes on disk); whether it was written."""
        try:
            size = self._file.write(line, room=self.max_bytes - self._bytes)
        except OSError as error:
            logger.warning("otel-dask-prov: cannot write spill file %s: %s", self.path, error)
            return False
        self._bytes += size
        return size > 0

    def close(self) -> None:
        self._file.close()
