"""Summarize the OTLP JSON lines files that otel-dask-prov and the collector write.

What ``otel-prov demo`` prints after its run: traces, spans by record type,
tasks, attempts by outcome and workers. The files are read with the
converter's reader (:func:`otel_dask_prov.convert.readers.file_spans`), every
span as it was written.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .. import attributes as attr
from ..convert.readers import decode_attributes, file_spans


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


def summarize(paths: Iterable[str | os.PathLike[str]]) -> TraceSummary:
    """Count traces, spans, tasks, attempts by outcome and workers in *paths*
    (files, or directories searched for ``*.jsonl`` and ``*.jsonl.zst``)."""
    summary = TraceSummary()
    for _, span in file_spans(paths):
        attributes = decode_attributes(span.attributes)
        kind = attributes.get(attr.RECORD_TYPE) or "other"
        summary.traces.add(span.trace_id or "")
        summary.spans[kind] += 1
        if kind == attr.RECORD_TASK_ATTEMPT:
            summary.tasks.add(attributes.get(attr.TASK_KEY) or "")
            summary.outcomes[attributes.get(attr.TASK_OUTCOME) or ""] += 1
        elif kind == attr.RECORD_TASK_EXECUTION:
            summary.workers.add(attributes.get(attr.WORKER_ADDRESS) or "")
    return summary
