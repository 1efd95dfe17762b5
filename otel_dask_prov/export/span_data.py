"""A finished span as plain data: what records produce and exporters consume.

Records (:mod:`otel_dask_prov.capture.records`) turn into :class:`SpanData`, which the
fast OTLP JSON encoder (:mod:`otel_dask_prov.export.otlp_json`) writes directly, and
which :func:`to_readable_span` turns into an OpenTelemetry SDK span only when an
SDK exporter (OTLP gRPC or HTTP/protobuf) needs one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from .. import attributes as attr
from ..version import __version__

SCOPE = InstrumentationScope(attr.INSTRUMENTATION_SCOPE, __version__)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)

EventData = tuple[str, int, Mapping[str, Any]]
"""``(name, time in ns, attributes)``."""
LinkData = tuple[int, int, Mapping[str, Any]]
"""``(trace id, span id, attributes)``."""
MIN_INT64 = -(1 << 63)
MAX_INT64 = (1 << 63) - 1
"""The integers an OTLP ``intValue`` holds; the encoders write larger ones as strings."""


class SpanData:
    """One finished span: ids as integers, times as integer nanoseconds."""

    __slots__ = (
        "attributes",
        "end",
        "error",
        "events",
        "links",
        "name",
        "parent_span_id",
        "span_id",
        "start",
        "trace_id",
    )

    def __init__(
        self,
        name: str,
        trace_id: int,
        span_id: int,
        parent_span_id: int | None,
        start: int,
        end: int,
        attributes: Mapping[str, Any],
        events: Sequence[EventData] = (),
        links: Sequence[LinkData] = (),
        error: str | None = None,
    ) -> None:
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.start = start
        self.end = max(start, end)
        self.attributes = attributes
        self.events = events
        self.links = links
        self.error = error
        """Description of an ERROR status; ``None`` for an unset status."""


def _context(trace_id: int, span_id: int) -> SpanContext:
    return SpanContext(trace_id, span_id, is_remote=False, trace_flags=_SAMPLED)


def to_readable_span(span: SpanData, resource: Resource) -> ReadableSpan:
    """The OpenTelemetry SDK span for *span*, for the SDK's OTLP exporters."""
    parent = span.parent_span_id
    return ReadableSpan(
        name=span.name,
        context=_context(span.trace_id, span.span_id),
        parent=_context(span.trace_id, parent) if parent is not None else None,
        resource=resource,
        attributes=span.attributes,
        events=[Event(name, attributes, when) for name, when, attributes in span.events],
        links=[Link(_context(trace_id, span_id), attributes)
               for trace_id, span_id, attributes in span.links],
        kind=SpanKind.INTERNAL,
        status=(Status(StatusCode.ERROR, span.error) if span.error is not None
                else Status(StatusCode.UNSET)),
        start_time=span.start,
        end_time=span.end,
        instrumentation_scope=SCOPE,
    )
