"""The normalized span: what every input format is read into before mapping.

Readers (:mod:`.readers`) keep only what the PROV mapping uses, so that a
million spans cost as little memory and time as possible: ids as lowercase hex
strings, times as integer nanoseconds since the epoch, attributes as a plain
dict with OpenTelemetry's typed values already decoded (arrays as tuples), and
of the span events only the times of the ``processing`` transitions and the
attributes of ``exception`` events. Resources are shared by all spans of one
process.
"""

from __future__ import annotations

from typing import Any, Final

from .. import attributes as attr

COMPUTATION: Final = attr.RECORD_COMPUTATION
ATTEMPT: Final = attr.RECORD_TASK_ATTEMPT
EXECUTION: Final = attr.RECORD_TASK_EXECUTION
WORKER_SPAN: Final = attr.RECORD_WORKER
"""A worker-level span: the ``darshan`` span of a worker's Darshan log."""
DARSHAN_TASK_IO: Final = attr.RECORD_DARSHAN_TASK_IO
MAPPED_KINDS: Final = frozenset({COMPUTATION, ATTEMPT, EXECUTION, WORKER_SPAN, DARSHAN_TASK_IO})
"""Record types the mapping turns into PROV; phase spans are only counted."""


class Resource:
    """The OpenTelemetry resource of one process: ``key`` identifies it across files."""

    __slots__ = ("key", "attributes", "role")

    def __init__(self, key: str, attributes: dict[str, Any], role: str) -> None:
        self.key = key
        self.attributes = attributes
        self.role = role
        """``scheduler``, ``worker``, ``client`` or ``""`` when unknown."""

    def __repr__(self) -> str:
        return f"Resource({self.key!r}, role={self.role!r})"


class Span:
    """One otel-dask-prov span of one of the :data:`MAPPED_KINDS`."""

    __slots__ = (
        "trace_id", "span_id", "parent_id", "kind", "start", "end", "attributes",
        "processing", "exception", "status_code", "status_message", "resource", "events",
    )

    def __init__(
        self,
        trace_id: str,
        span_id: str,
        parent_id: str | None,
        kind: str,
        start: int,
        end: int,
        attributes: dict[str, Any],
        processing: int | None,
        exception: dict[str, Any] | None,
        status_code: int,
        status_message: str,
        resource: Resource,
        events: tuple[tuple[str, int, dict[str, Any]], ...] = (),
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.kind = kind
        self.start = start
        self.end = end
        self.attributes = attributes
        self.processing = processing
        """Time of the last ``processing`` transition event (the dispatch), if recorded."""
        self.exception = exception
        """Attributes of the last ``exception`` event, if any."""
        self.status_code = status_code
        """0 unset, 1 ok, 2 error (OTLP numbering)."""
        self.status_message = status_message
        self.resource = resource
        self.events = events
        """``(name, time, attributes)`` of every event, kept only for Darshan spans."""

    def __repr__(self) -> str:
        return f"Span({self.kind}, {self.trace_id}/{self.span_id})"
