"""Encode finished spans as OTLP JSON, one ``ExportTraceServiceRequest`` per line.

This is the layout of the OpenTelemetry Collector's file exporter (``format:
json``): lowercase hex ids, 64-bit integers as decimal strings, empty fields
left out. The local-file default and the spill file both write it, and
``otel-prov convert`` / ``otel-prov replay`` read it back.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Mapping, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

_STATUS_CODES = {StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}


def encode_value(value: Any) -> dict[str, Any]:
    """One OTLP ``AnyValue``."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [encode_value(item) for item in value]}}
    return {"stringValue": str(value)}


def encode_attributes(attributes: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """OTLP ``KeyValue`` list."""
    if not attributes:
        return []
    return [{"key": key, "value": encode_value(value)} for key, value in attributes.items()]


def encode_span(span: ReadableSpan) -> dict[str, Any]:
    """One OTLP ``Span`` as a JSON-ready dict."""
    context = span.context
    assert context is not None
    encoded: dict[str, Any] = {
        "traceId": f"{context.trace_id:032x}",
        "spanId": f"{context.span_id:016x}",
    }
    if span.parent is not None:
        encoded["parentSpanId"] = f"{span.parent.span_id:016x}"
    encoded["name"] = span.name
    encoded["kind"] = span.kind.value + 1  # SDK enum starts at INTERNAL=0, OTLP at 1
    encoded["startTimeUnixNano"] = str(span.start_time)
    encoded["endTimeUnixNano"] = str(span.end_time)
    attributes = encode_attributes(span.attributes)
    if attributes:
        encoded["attributes"] = attributes
    if span.events:
        encoded["events"] = [
            _without_empty(
                {
                    "timeUnixNano": str(event.timestamp),
                    "name": event.name,
                    "attributes": encode_attributes(event.attributes),
                }
            )
            for event in span.events
        ]
    if span.links:
        encoded["links"] = [
            _without_empty(
                {
                    "traceId": f"{link.context.trace_id:032x}",
                    "spanId": f"{link.context.span_id:016x}",
                    "attributes": encode_attributes(link.attributes),
                }
            )
            for link in span.links
        ]
    status = _STATUS_CODES[span.status.status_code]
    if status:
        encoded["status"] = _without_empty(
            {"code": status, "message": span.status.description or ""}
        )
    else:
        encoded["status"] = {}
    return encoded


def encode_request(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """An ``ExportTraceServiceRequest``: spans grouped by resource, then by scope."""
    by_resource: dict[int, tuple[Any, dict[tuple[str, str], list[dict[str, Any]]]]] = {}
    for span in spans:
        resource_entry = by_resource.setdefault(id(span.resource), (span.resource, {}))
        scope = span.instrumentation_scope
        scope_key = (scope.name, scope.version or "") if scope is not None else ("", "")
        resource_entry[1].setdefault(scope_key, []).append(encode_span(span))
    resource_spans = []
    for resource, scopes in by_resource.values():
        resource_spans.append(
            {
                "resource": {"attributes": encode_attributes(resource.attributes)},
                "scopeSpans": [
                    {"scope": _without_empty({"name": name, "version": version}), "spans": encoded}
                    for (name, version), encoded in scopes.items()
                ],
            }
        )
    return {"resourceSpans": resource_spans}


def encode_line(spans: Sequence[ReadableSpan]) -> str:
    """One line of the OTLP JSON lines format, newline included."""
    return json.dumps(encode_request(spans), separators=(",", ":")) + "\n"


def count_spans(request: Mapping[str, Any]) -> int:
    """Number of spans in a decoded ``ExportTraceServiceRequest``."""
    return sum(
        len(scope_spans.get("spans", ()))
        for resource_spans in request.get("resourceSpans", ())
        for scope_spans in resource_spans.get("scopeSpans", ())
    )


def _without_empty(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value not in ("", [], None)}

