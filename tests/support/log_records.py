"""Read the OTLP log records of trace files directly (``resourceLogs`` JSON lines)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .trace_files import TRACE_FILE_GLOB, otlp_lines, trace_files


@dataclass
class LogRecord:
    trace_id: str
    span_id: str
    severity_number: int
    severity_text: str
    body: str
    attributes: dict[str, Any]
    resource: dict[str, Any]
    time: int


def _value(value: dict[str, Any]) -> Any:
    (kind, inner), = value.items()
    return int(inner) if kind == "intValue" else inner


def _attributes(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {item["key"]: _value(item["value"]) for item in items}


def read_log_records(paths: Iterable[Path]) -> list[LogRecord]:
    """Every log record in the OTLP JSON lines files *paths* (directories are searched)."""
    files: list[Path] = []
    for path in paths:
        files.extend(trace_files(path, f"**/{TRACE_FILE_GLOB}") if path.is_dir() else [path])
    records: list[LogRecord] = []
    for file in files:
        for line in otlp_lines(file):
            if not line.startswith('{"resourceLogs"'):
                continue
            for resource_logs in json.loads(line)["resourceLogs"]:
                resource = _attributes(resource_logs["resource"]["attributes"])
                for scope_logs in resource_logs["scopeLogs"]:
                    for raw in scope_logs["logRecords"]:
                        records.append(LogRecord(
                            raw["traceId"], raw["spanId"], raw["severityNumber"],
                            raw["severityText"], raw["body"]["stringValue"],
                            _attributes(raw.get("attributes", [])), resource,
                            int(raw["timeUnixNano"])))
    return records
