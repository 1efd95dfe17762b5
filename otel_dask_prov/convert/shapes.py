"""The input shapes other than OTLP JSON, brought to OTLP's shape as plain dicts.

:func:`requests_of` takes one decoded JSON value and returns the OTLP
``ExportTraceServiceRequest`` dicts it amounts to (with attributes already
OTLP JSON text, written by the exporter's encoder, :mod:`otel_dask_prov.export.otlp_json`):

* OTLP JSON itself, also with protobuf's ``snake_case`` field names;
* Jaeger's JSON: the ``/api/traces`` response (``{"data": [trace, ...]}``),
  one trace, or a list of traces (the UI's download), and ``/api/v3/traces``
  (OTLP under ``"result"``); Jaeger keeps microseconds, stores array attributes
  as JSON text and the instrumentation scope and status as tags;
* the OpenTelemetry Python SDK's ``ConsoleSpanExporter`` / ``span.to_json()``
  objects, alone, concatenated or in a list.

OTLP of another signal (metrics, logs) gives ``None``; anything else raises
:class:`InvalidUnitError`.
"""

from __future__ import annotations

import contextlib
import json
import re
from datetime import datetime, timezone
from typing import Any

import msgspec

from .. import attributes as attr
from ..export.otlp_json import encode_attributes


def loads(data: bytes | str) -> Any:
    """Decode JSON text of any shape; the standard library has the last word (and message)
    on what ``msgspec`` refuses, such as unpaired surrogate escapes."""
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return json.loads(data)


class InvalidUnitError(ValueError):
    """A JSON value that is not trace data of a shape we know; the message says why."""


_OTHER_SIGNALS = ("resourceMetrics", "resourceLogs", "resource_metrics", "resource_logs",
                  "resourceProfiles")


def requests_of(value: Any) -> list[dict[str, Any]] | None:
    """OTLP trace requests equivalent to one decoded JSON value.

    Returns ``None`` for valid OTLP of another signal (metrics, logs), which
    callers skip; raises :class:`InvalidUnitError` for anything that is not traces.
    """
    if isinstance(value, dict):
        if "resourceSpans" in value:
            return [value]
        if "resource_spans" in value:
            return [_camel_case(value)]
        if "result" in value and isinstance(value["result"], dict):
            return requests_of(value["result"])
        if "data" in value and isinstance(value["data"], list):
            return [_jaeger_trace(trace) for trace in value["data"]]
        if "spans" in value and "processes" in value:
            return [_jaeger_trace(value)]
        if "context" in value and "name" in value:
            return [_sdk_spans([value])]
        if any(key in value for key in _OTHER_SIGNALS):
            return None
        keys = ", ".join(sorted(value)[:5]) or "none"
        raise InvalidUnitError(
            f"not OpenTelemetry or Jaeger trace data (a JSON object with keys: {keys})")
    if isinstance(value, list):
        if all(isinstance(item, dict) and "context" in item for item in value):
            return [_sdk_spans(value)] if value else []
        requests: list[dict[str, Any]] = []
        for item in value:
            found = requests_of(item)
            if found:
                requests.extend(found)
        return requests
    raise InvalidUnitError(f"not OpenTelemetry or Jaeger trace data (a JSON {type(value).__name__})")


_CAMEL = re.compile(r"_([a-z])")


def _camel_case(value: Any) -> Any:
    """Field names of protobuf's ``preserving_proto_field_name`` JSON, in lowerCamelCase."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            # attribute keys are data, not field names: keep them
            out[_CAMEL.sub(lambda m: m.group(1).upper(), key) if key != "key" else key] = (
                item if key == "key" else _camel_case(item))
        return out
    if isinstance(value, list):
        return [_camel_case(item) for item in value]
    return value


def _attribute_value(value: Any) -> Any:
    """A plain JSON value as a span attribute value: objects as their JSON text (as
    the readers decode an OTLP key-value list), ``null`` as the empty string."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, list):
        return [_attribute_value(item) for item in value]
    return value


def _key_values(mapping: dict[str, Any] | None) -> msgspec.Raw:
    """*mapping* as OTLP ``KeyValue`` JSON, written by the exporter's own encoder."""
    attributes = {key: _attribute_value(value) for key, value in (mapping or {}).items()}
    return msgspec.Raw(encode_attributes(attributes).encode())


# -- Jaeger ------------------------------------------------------------------
_ARRAY_ATTRIBUTES = frozenset({
    attr.TASK_DEPENDENCIES, attr.TASK_DEPENDENCY_SPAN_IDS, attr.COMPUTATION_KEYS,
    attr.COMPUTATION_PREFIXES,
})
"""Array attributes of the contract; Jaeger stores arrays as JSON text."""


def _jaeger_tag(tag: dict[str, Any]) -> tuple[str, Any]:
    key, value, kind = tag.get("key", ""), tag.get("value"), tag.get("type", "string")
    if value is None:
        return key, None
    if kind == "int64":
        value = int(value)
    elif kind == "float64":
        value = float(value)
    elif kind == "bool":
        value = value in (True, "true", "True")
    elif key in _ARRAY_ATTRIBUTES and isinstance(value, str) and value.startswith("["):
        with contextlib.suppress(ValueError):  # not JSON after all: the text as it is
            value = json.loads(value)
    return key, value


def _jaeger_trace(trace: Any) -> dict[str, Any]:
    if not isinstance(trace, dict) or not isinstance(trace.get("spans"), list):
        raise InvalidUnitError("a Jaeger trace without a list of spans")
    processes = trace.get("processes") or {}
    by_process: dict[str, list[dict[str, Any]]] = {}
    scopes: dict[str, str] = {}
    for span in trace["spans"]:
        tags = dict(_jaeger_tag(tag) for tag in span.get("tags") or ())
        scope = str(tags.pop("otel.scope.name", tags.pop("otel.library.name", "")))
        status = {}
        code = tags.pop("otel.status_code", None)
        if code == "ERROR" or tags.get("error") is True:
            status = {"code": 2, "message": str(tags.pop("otel.status_description", ""))}
        elif code == "OK":
            status = {"code": 1}
        parent = next((ref.get("spanID") for ref in span.get("references") or ()
                       if ref.get("refType") == "CHILD_OF"), None)
        if parent is None and span.get("parentSpanID"):
            parent = span["parentSpanID"]
        start = int(span.get("startTime", 0)) * 1000
        events = []
        for log in span.get("logs") or ():
            fields = dict(_jaeger_tag(field) for field in log.get("fields") or ())
            name = str(fields.pop("event", "log"))
            events.append({"timeUnixNano": int(log.get("timestamp", 0)) * 1000, "name": name,
                           "attributes": _key_values(fields)})
        process_id = str(span.get("processID", ""))
        by_process.setdefault(process_id, []).append({
            "traceId": span.get("traceID") or trace.get("traceID"),
            "spanId": span.get("spanID"),
            "parentSpanId": parent,
            "name": span.get("operationName", ""),
            "startTimeUnixNano": start,
            "endTimeUnixNano": start + int(span.get("duration", 0)) * 1000,
            "attributes": _key_values(tags),
            "events": events,
            "status": status,
        })
        scopes[process_id] = scopes.get(process_id) or scope
    resource_spans = []
    for process_id, spans in by_process.items():
        process = processes.get(process_id) or {}
        resource = dict(_jaeger_tag(tag) for tag in process.get("tags") or ())
        if process.get("serviceName"):
            resource[attr.SERVICE_NAME] = process["serviceName"]
        resource_spans.append({
            "resource": {"attributes": _key_values(resource)},
            "scopeSpans": [{"scope": {"name": scopes.get(process_id, "")}, "spans": spans}],
        })
    return {"resourceSpans": resource_spans}


# -- OpenTelemetry Python SDK span.to_json() ---------------------------------
_SDK_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _iso_nanos(text: Any) -> int:
    if not text:
        return 0
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    elapsed = moment - _EPOCH
    return (elapsed.days * 86400 + elapsed.seconds) * 1_000_000_000 + elapsed.microseconds * 1000


def _sdk_spans(spans: list[dict[str, Any]]) -> dict[str, Any]:
    by_resource: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for span in spans:
        context = span.get("context") or {}
        resource = (span.get("resource") or {}).get("attributes") or {}
        status = span.get("status") or {}
        try:
            encoded = {
                "traceId": str(context.get("trace_id", "")).removeprefix("0x"),
                "spanId": str(context.get("span_id", "")).removeprefix("0x"),
                "parentSpanId": str(span.get("parent_id") or "").removeprefix("0x") or None,
                "name": span.get("name", ""),
                "startTimeUnixNano": _iso_nanos(span.get("start_time")),
                "endTimeUnixNano": _iso_nanos(span.get("end_time")),
                "attributes": _key_values(span.get("attributes")),
                "events": [
                    {"timeUnixNano": _iso_nanos(event.get("timestamp")),
                     "name": event.get("name", ""),
                     "attributes": _key_values(event.get("attributes"))}
                    for event in span.get("events") or ()
                ],
                "status": {"code": _SDK_STATUS.get(str(status.get("status_code")), 0),
                           "message": status.get("description") or ""},
            }
        except ValueError as error:
            raise InvalidUnitError(f"an SDK span with an unreadable time: {error}") from None
        key = json.dumps(resource, sort_keys=True, default=str)
        by_resource.setdefault(key, (resource, []))[1].append(encoded)
    return {"resourceSpans": [
        {"resource": {"attributes": _key_values(resource)},
         "scopeSpans": [{"scope": {}, "spans": encoded_spans}]}
        for resource, encoded_spans in by_resource.values()
    ]}
