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

from typing import TYPE_CHECKING, Any, Final

import msgspec

from .. import attributes as attr

COMPUTATION: Final = attr.RECORD_COMPUTATION
ATTEMPT: Final = attr.RECORD_TASK_ATTEMPT
EXECUTION: Final = attr.RECORD_TASK_EXECUTION
WORKER_SPAN: Final = attr.RECORD_WORKER
"""A worker-level span: the ``darshan`` span of a worker's Darshan log."""
DARSHAN_TASK_IO: Final = attr.RECORD_DARSHAN_TASK_IO
MAPPED_KINDS: Final = frozenset({COMPUTATION, ATTEMPT, EXECUTION, WORKER_SPAN, DARSHAN_TASK_IO})
"""Record types the mapping turns into PROV; phase spans are only counted."""

SCHEDULER_SIDE: Final = 1
"""Mask bit: a resource wrote computation or attempt spans of a trace."""
WORKER_SIDE: Final = 2
"""Mask bit: a resource wrote execution spans (or other worker spans) of a trace."""


if TYPE_CHECKING:
    Value = Any
else:  # what msgspec decodes a value into when a span travels: arrays stay tuples
    Value = str | bool | int | float | tuple
"""An attribute value as the readers decode it (OpenTelemetry arrays as tuples)."""


class Resource:
    """The OpenTelemetry resource of one process: ``key`` identifies it across files."""

    __slots__ = ("attributes", "key", "role")

    def __init__(self, key: str, attributes: dict[str, Any], role: str) -> None:
        self.key = key
        self.attributes = attributes
        self.role = role
        """``scheduler``, ``worker``, ``client`` or ``""`` when unknown."""

    def __repr__(self) -> str:
        return f"Resource({self.key!r}, role={self.role!r})"


class Span(msgspec.Struct, array_like=True, gc=False):
    """One otel-dask-prov span of one of the :data:`MAPPED_KINDS`.

    A ``msgspec`` struct so that decoded spans travel cheaply between processes
    (:mod:`.readahead`); spans hold no cycles, so the garbage collector need not
    track them.
    """

    trace_id: str
    span_id: str
    parent_id: str | None
    kind: str
    start: int
    end: int
    attributes: dict[str, Value]
    processing: int | None
    """Time of the last ``processing`` transition event (the dispatch), if recorded."""
    exception: dict[str, Value] | None
    """Attributes of the last ``exception`` event, if any."""
    status_code: int
    """0 unset, 1 ok, 2 error (OTLP numbering)."""
    status_message: str
    resource: Any
    """The :class:`Resource` (its key while the span travels between processes)."""
    events: tuple[tuple[str, int, dict[str, Value]], ...] = ()
    """``(name, time, attributes)`` of every event, kept only for Darshan spans."""

    def __repr__(self) -> str:
        return f"Span({self.kind}, {self.trace_id}/{self.span_id})"
