"""Encode spans as OTLP JSON, one ``ExportTraceServiceRequest`` per line, fast.

This is the layout of the OpenTelemetry Collector's file exporter (``format:
json``) and of OTLP/HTTP with JSON bodies: lowercase hex ids, 64-bit integers
as decimal strings, empty fields left out. The local-file default, the spill
file and the ``http/json`` protocol all write it; ``otel-prov convert`` and
``otel-prov replay`` read it back.

The encoder writes text directly from :class:`~otel_dask_prov.export.span_data.SpanData`
instead of building dictionaries for :func:`json.dumps`: span encoding is the
largest per-task cost of tracing, and this is much faster (``docs/performance.md``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .. import attributes as attr
from .span_data import MAX_INT64, MIN_INT64, SCOPE, SpanData

_string = json.encoder.encode_basestring
_KEYS: dict[str, str] = {}

_REPEATED: dict[str, dict[str, str]] = {name: {} for name in (
    attr.RECORD_TYPE, attr.TASK_PREFIX, attr.TASK_GROUP, attr.TASK_STATE, attr.TASK_OUTCOME,
    attr.WORKER_ADDRESS, attr.WORKER_NAME, attr.TASK_RESULT_TYPE, attr.THREAD_NAME,
    attr.CODE_FUNCTION_NAME, attr.TRANSITION_FROM, attr.LINK_TYPE, attr.PHASE_ACTION,
    attr.PHASE_SOURCE,
)}
"""Attributes whose string values repeat from span to span (a handful per run):
name -> value -> the encoded ``KeyValue``, remembered instead of encoded again."""
_MAX_REPEATED = 1024
"""Bound of each of those caches; a full one starts over."""


def _key(name: str) -> str:
    encoded = _KEYS.get(name)
    if encoded is None:
        encoded = _KEYS[name] = '{"key":' + _string(name) + ',"value":'
    return encoded


def encode_value(value: Any) -> str:
    """One OTLP ``AnyValue`` as JSON text."""
    kind = type(value)
    if kind is str:
        return '{"stringValue":' + _string(value) + "}"
    if kind is bool:
        return '{"boolValue":true}' if value else '{"boolValue":false}'
    if kind is int:
        if MIN_INT64 <= value <= MAX_INT64:
            return '{"intValue":"' + str(value) + '"}'
        return '{"stringValue":"' + str(value) + '"}'
    if kind is float:
        if math.isfinite(value):
            return '{"doubleValue":' + repr(value) + "}"
        special = "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
        return '{"doubleValue":"' + special + '"}'
    if kind is list or kind is tuple:
        return '{"arrayValue":{"values":[' + ",".join([
            '{"stringValue":' + _string(item) + "}" if type(item) is str else encode_value(item)
            for item in value
        ]) + "]}}"
    if isinstance(value, bool):
        return encode_value(bool(value))
    if isinstance(value, int):
        return encode_value(int(value))
    if isinstance(value, float):
        return encode_value(float(value))
    return '{"stringValue":' + _string(str(value)) + "}"


def encode_attributes(attributes: Mapping[str, Any]) -> str:
    """OTLP ``KeyValue`` list as JSON text."""
    keys = _KEYS
    repeated = _REPEATED
    items = []
    for name, value in attributes.items():
        kind = type(value)
        if kind is str:
            cache = repeated.get(name)
            if cache is not None:
                item = cache.get(value)
                if item is None:
                    if len(cache) >= _MAX_REPEATED:
                        cache.clear()
                    item = cache[value] = _key(name) + '{"stringValue":' + _string(value) + "}}"
                items.append(item)
            else:
                items.append((keys.get(name) or _key(name)) + '{"stringValue":' + _string(value) + "}}")
        elif kind is int and MIN_INT64 <= value <= MAX_INT64:
            items.append((keys.get(name) or _key(name)) + '{"intValue":"' + str(value) + '"}}')
        elif kind is float and value - value == 0.0:  # finite
            items.append((keys.get(name) or _key(name)) + '{"doubleValue":' + repr(value) + "}}")
        else:
            items.append((keys.get(name) or _key(name)) + encode_value(value) + "}")
    return "[" + ",".join(items) + "]"


def encode_span(span: SpanData) -> str:
    """One OTLP ``Span`` as JSON text."""
    parts = ['{"traceId":"%032x","spanId":"%016x"' % (span.trace_id, span.span_id)]
    if span.parent_span_id is not None:
        parts.append(',"parentSpanId":"%016x"' % span.parent_span_id)
    parts.append(',"name":' + _string(span.name)
                 + ',"kind":1,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"' % (span.start, span.end))
    if span.attributes:
        parts.append(',"attributes":' + encode_attributes(span.attributes))
    if span.events:
        parts.append(',"events":[' + ",".join([
            '{"timeUnixNano":"%d","name":' % when + _string(name)
            + (',"attributes":' + encode_attributes(attributes) if attributes else "") + "}"
            for name, when, attributes in span.events
        ]) + "]")
    if span.links:
        parts.append(',"links":[' + ",".join([
            '{"traceId":"%032x","spanId":"%016x"' % (trace_id, span_id)
            + (',"attributes":' + encode_attributes(attributes) if attributes else "") + "}"
            for trace_id, span_id, attributes in span.links
        ]) + "]")
    if span.error is not None:
        message = ',"message":' + _string(span.error) if span.error else ""
        parts.append(',"status":{"code":2' + message + "}}")
    else:
        parts.append(',"status":{}}')
    return "".join(parts)


_SCOPE_JSON = '{"name":' + _string(SCOPE.name) + ',"version":' + _string(SCOPE.version or "") + "}"


def resource_prefix(resource_attributes: Mapping[str, Any]) -> str:
    """The start of every request line of one process, up to its list of spans."""
    return ('{"resourceSpans":[{"resource":{"attributes":' + encode_attributes(resource_attributes)
            + '},"scopeSpans":[{"scope":' + _SCOPE_JSON + ',"spans":[')


def encode_line(prefix: str, spans: Sequence[SpanData]) -> str:
    """One ``ExportTraceServiceRequest`` line (newline included) for one process's spans.

    *prefix* comes from :func:`resource_prefix`.
    """
    return prefix + ",".join([encode_span(span) for span in spans]) + "]}]}]}\n"

