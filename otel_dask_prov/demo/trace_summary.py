"""Read back the OTLP JSON lines files that otel-dask-prov and the collector write.

A small reader for our own files (the local-file default, spill files, the
collector's file exporter): every ``ExportTraceServiceRequest`` in order, and a
summary. ``otel-prov convert`` has its own, stricter reader for every supported
input format.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .. import attributes as attr


def trace_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories searched for ``*.jsonl``."""
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(path.rglob("*.jsonl")) if path.is_dir() else [path])
    return files


def iter_requests(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every ``ExportTraceServiceRequest`` in *paths*.

    A line may hold two objects: a collector killed mid-line leaves it
    unterminated and appends to it after its restart.
    """
    decoder = json.JSONDecoder()
    for file in trace_files(paths):
        with open(file, encoding="utf-8") as lines:
            for line in lines:
                line = line.strip()
                position = 0
                while position < len(line):
                    request, position = decoder.raw_decode(line, position)
                    yield request


def iter_raw_spans(paths: Iterable[Path]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(resource attributes as OTLP KeyValue list holder, span)`` for every span."""
    for request in iter_requests(paths):
        for resource_spans in request.get("resourceSpans", ()):
            resource = resource_spans.get("resource", {})
            for scope_spans in resource_spans.get("scopeSpans", ()):
                for span in scope_spans.get("spans", ()):
                    yield resource, span


def _string_attribute(items: Iterable[dict[str, Any]], key: str) -> str | None:
    for item in items:
        if item.get("key") == key:
            return str(item.get("value", {}).get("stringValue"))
    return None


@dataclass
class TraceSummary:
    """What a set of trace files holds."""

    traces: set[str] = field(default_factory=set)
    spans: Counter[str] = field(default_factory=Counter)
    """Spans by :data:`~otel_dask_prov.attributes.RECORD_TYPE`."""
    tasks: set[str] = field(default_factory=set)
    workers: set[str] = field(default_factory=set)
    outcomes: Counter[str] = field(default_factory=Counter)
    """Task attempts by :data:`~otel_dask_prov.attributes.TASK_OUTCOME`."""

    def lines(self) -> list[str]:
        outcomes = ", ".join(f"{count} {name}" for name, count in sorted(self.outcomes.items()))
        return [
            f"traces (computations): {len(self.traces)}",
            f"spans: {sum(self.spans.values())} "
            f"({', '.join(f'{count} {kind}' for kind, count in sorted(self.spans.items()))})",
            f"tasks: {len(self.tasks)}; attempts: {self.spans[attr.RECORD_TASK_ATTEMPT]} ({outcomes})",
            f"workers: {len(self.workers)}",
        ]


def summarize(paths: Iterable[Path]) -> TraceSummary:
    """Count traces, spans, tasks, attempts by outcome and workers in *paths*."""
    summary = TraceSummary()
    for _, span in iter_raw_spans(paths):
        items = span.get("attributes", ())
        kind = _string_attribute(items, attr.RECORD_TYPE) or "other"
        summary.traces.add(span["traceId"])
        summary.spans[kind] += 1
        if kind == attr.RECORD_TASK_ATTEMPT:
            summary.tasks.add(_string_attribute(items, attr.TASK_KEY) or "")
            summary.outcomes[_string_attribute(items, attr.TASK_OUTCOME) or ""] += 1
        elif kind == attr.RECORD_TASK_EXECUTION:
            summary.workers.add(_string_attribute(items, attr.WORKER_ADDRESS) or "")
    return summary
