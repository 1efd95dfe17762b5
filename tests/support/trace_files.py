"""Trace files as the tests read them: any format, through the product's own reader.

The processes write ``*.jsonl.zst`` by default (the ``trace_file_format``
setting), ``*.jsonl`` with ``jsonl``; a test that looks into a file reads its
OTLP JSON lines here rather than as text, whatever the format::

    for request in otlp_requests(trace_files(cluster.trace_dir)[0]):
        ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from otel_dask_prov.export.trace_file_reader import open_trace_lines

TRACE_FILE_GLOB = "*.jsonl*"
"""Matches the files a traced process writes, in every ``trace_file_format``."""


def trace_files(directory: Path, pattern: str = TRACE_FILE_GLOB) -> list[Path]:
    """The trace files in *directory* (not searched below it) matching *pattern*, sorted."""
    return sorted(path for path in directory.glob(pattern)
                  if path.name.endswith((".jsonl", ".jsonl.zst")))


def otlp_lines(path: Path) -> list[str]:
    """The OTLP JSON lines of the trace file *path* (a cut last line included as it is)."""
    with open_trace_lines(path) as stream:
        return [line for line in stream.read().decode("utf-8").splitlines() if line.strip()]


def otlp_requests(path: Path) -> list[dict[str, Any]]:
    """The OTLP JSON requests (spans or log records) of the trace file *path*."""
    return [json.loads(line) for line in otlp_lines(path)]
