"""A log record as plain data: what records produce and the log exporters consume.

An execution record (:class:`~otel_dask_prov.capture.records.ExecutionRecord`)
yields one :class:`LogData` per record its task logged, beside its spans; the
encoders of :mod:`otel_dask_prov.export.otlp_logs` write them as OTLP log records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class LogData:
    """One OpenTelemetry log record: times as integer nanoseconds, ids as integers."""

    __slots__ = ("attributes", "body", "observed", "severity_number", "severity_text",
                 "span_id", "time", "trace_id")

    def __init__(self, time: int, observed: int, severity_number: int, severity_text: str,
                 body: str, attributes: Mapping[str, Any], trace_id: int, span_id: int) -> None:
        self.time = time
        self.observed = observed
        self.severity_number = severity_number
        self.severity_text = severity_text
        self.body = body
        self.attributes = attributes
        self.trace_id = trace_id
        self.span_id = span_id
        """The span the record belongs to: the task's execution span."""
