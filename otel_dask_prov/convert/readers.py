"""Decode trace JSON into :class:`~.model.Span` objects.

Every accepted shape is first brought to the shape of an OTLP
``ExportTraceServiceRequest`` (:func:`requests_of`), then one decoder serves
them all:

* OTLP JSON as the OpenTelemetry Collector's file exporter, our local-file
  default and the SDK's OTLP JSON file exporter write it: lowercase hex ids,
  64-bit integers as decimal strings;
* the proto3-JSON variants other encoders produce: ids in uppercase hex or in
  base64 (protobuf's own JSON mapping), integers as bare numbers, enums by
  name (``"STATUS_CODE_ERROR"``), ``snake_case`` field names, and the
  ``instrumentationLibrarySpans`` of old collectors;
* Jaeger's JSON: the ``/api/traces`` response (``{"data": [trace, ...]}``),
  one trace, or a list of traces (the UI's download), and ``/api/v3/traces``
  (OTLP under ``"result"``);
* the OpenTelemetry Python SDK's ``ConsoleSpanExporter`` / ``span.to_json()``
  objects.

Only spans of the ``otel_dask_prov`` instrumentation scope (or, where a format
drops the scope, spans carrying ``dask.record.type``) are ours; everything else
is counted and left out. Problems inside a unit raise :class:`InvalidUnit`
with a reason; the caller adds the file name and line.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timezone
from typing import Any, Callable, Container

import msgspec

from .. import attributes as attr
from . import otlp
from .model import ATTEMPT, COMPUTATION, EXECUTION, MAPPED_KINDS, Resource, Span


def loads(data: bytes | str) -> Any:
    """Decode JSON text of any shape; the standard library has the last word (and message)
    on what ``msgspec`` refuses, such as unpaired surrogate escapes."""
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return json.loads(data)


class InvalidUnit(ValueError):
    """A JSON value that is not trace data of a shape we know; the message says why."""


# --------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------
_OTHER_SIGNALS = ("resourceMetrics", "resourceLogs", "resource_metrics", "resource_logs",
                  "resourceProfiles")


def requests_of(value: Any) -> list[dict[str, Any]] | None:
    """OTLP trace requests equivalent to one decoded JSON value.

    Returns ``None`` for valid OTLP of another signal (metrics, logs), which
    callers skip; raises :class:`InvalidUnit` for anything that is not traces.
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
        raise InvalidUnit(
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
    raise InvalidUnit(f"not OpenTelemetry or Jaeger trace data (a JSON {type(value).__name__})")


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


def _any_value(value: Any) -> dict[str, Any]:
    """A plain JSON value as an OTLP ``AnyValue``."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": value}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_any_value(item) for item in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": _key_values(value)}}
    return {"stringValue": "" if value is None else str(value)}


def _key_values(mapping: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [{"key": key, "value": _any_value(value)} for key, value in (mapping or {}).items()]


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
        try:
            value = json.loads(value)
        except ValueError:
            pass
    return key, value


def _jaeger_trace(trace: Any) -> dict[str, Any]:
    if not isinstance(trace, dict) or not isinstance(trace.get("spans"), list):
        raise InvalidUnit("a Jaeger trace without a list of spans")
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
            raise InvalidUnit(f"an SDK span with an unreadable time: {error}") from None
        key = json.dumps(resource, sort_keys=True, default=str)
        by_resource.setdefault(key, (resource, []))[1].append(encoded)
    return {"resourceSpans": [
        {"resource": {"attributes": _key_values(resource)},
         "scopeSpans": [{"scope": {}, "spans": encoded_spans}]}
        for resource, encoded_spans in by_resource.values()
    ]}


# --------------------------------------------------------------------------
# Units: one JSON value (a line, or a document) as OTLP requests
# --------------------------------------------------------------------------
def _requests(data: bytes | Any, decoder: Any) -> list[Any] | None:
    if isinstance(data, (bytes, str)):
        try:
            return [decoder.decode(data)]
        except msgspec.ValidationError:  # valid JSON of another shape: the general way
            data = loads(data)
        except msgspec.DecodeError:  # malformed, or JSON that only the standard library takes
            data = json.loads(data)
    found = requests_of(data)
    if found is None:
        return None
    try:  # other shapes are few and small: re-encoded, then decoded as the usual shape
        return [decoder.decode(msgspec.json.encode(request)) for request in found]
    except msgspec.ValidationError as error:
        raise InvalidUnit(f"not an OTLP trace request: {error}") from None


def full_requests(data: bytes | Any) -> list[otlp.Request] | None:
    """The OTLP requests in one unit (JSON text or an already decoded value).

    ``None`` for OTLP of another signal; :class:`InvalidUnit` for anything
    that is not trace data, :class:`ValueError` for JSON that is malformed.
    """
    return _requests(data, otlp.FULL)


def scan_requests(data: bytes | Any) -> list[otlp.ScanRequest] | None:
    """Like :func:`full_requests`, decoding only what the first pass needs."""
    return _requests(data, otlp.SCAN)


# --------------------------------------------------------------------------
# Values and ids
# --------------------------------------------------------------------------
def _decode_value(value: otlp.AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a Python value (arrays as tuples), None if it has none."""
    if value.string_value is not None:
        return value.string_value
    if value.int_value is not None:
        return int(value.int_value)
    if value.double_value is not None:
        return float(value.double_value)
    if value.bool_value is not None:
        flag = value.bool_value
        return flag if isinstance(flag, bool) else flag.lower() == "true"
    if value.array_value is not None:
        return tuple(_decode_value(element) for element in value.array_value.values)
    if value.kvlist_value is not None:
        return json.dumps(decode_attributes(value.kvlist_value.values), sort_keys=True)
    return value.bytes_value


def decode_attributes(items: list[otlp.KeyValue] | msgspec.Raw) -> dict[str, Any]:
    """OTLP ``KeyValue`` structs (or their raw JSON) as a dict; unset values are left out."""
    if isinstance(items, msgspec.Raw):
        try:
            items = otlp.ATTRIBUTES.decode(items)
        except msgspec.ValidationError as error:
            raise InvalidUnit(f"attributes are not OTLP key-values: {error}") from None
    decoded = {
        item.key: text if (text := item.value.string_value) is not None
        else _decode_value(item.value)
        for item in items if item.value is not None
    }
    if None in decoded.values():
        return {key: value for key, value in decoded.items() if value is not None}
    return decoded


_HEX = re.compile(r"[0-9a-fA-F]+")


_LOWER_HEX_DIGITS = "0123456789abcdef"


def normalize_id(value: Any, size: int, what: str) -> str:
    """A trace (*size* 16) or span (*size* 8) id as lowercase hex, from hex or base64."""
    if type(value) is str and len(value) == size * 2 and not value.strip(_LOWER_HEX_DIGITS):
        return value
    if not isinstance(value, str) or not value:
        raise InvalidUnit(f"a span without a {what}")
    digits = size * 2
    if len(value) <= digits and _HEX.fullmatch(value):
        return value.lower().rjust(digits, "0")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == size:
        return raw.hex()
    raise InvalidUnit(f"{what} {value!r} is neither {digits} hex digits nor base64 of {size} bytes")


def _optional_id(value: Any) -> str | None:
    if not value:
        return None
    parent = normalize_id(value, 8, "parent span id")
    return None if parent == "0000000000000000" else parent


def _nanos(value: Any, what: str) -> int:
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        raise InvalidUnit(f"{what} {value!r} is not an integer number of nanoseconds") from None


_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def _status(status: otlp.Status | None) -> tuple[int, str]:
    if status is None:
        return 0, ""
    code = status.code
    if isinstance(code, str):
        code = int(code) if code.isdigit() else _STATUS_NAMES.get(code, 0)
    return code, status.message


_KINDS: dict[str, str | None] = {}


def span_kind(name: str) -> str | None:
    """The record type a span name announces, if the mapping uses it."""
    try:
        return _KINDS[name]
    except KeyError:
        pass
    if name.startswith(attr.TASK_SPAN_PREFIX):
        kind: str | None = ATTEMPT
    elif name.startswith(attr.EXECUTION_SPAN_PREFIX):
        kind = EXECUTION
    elif name == attr.COMPUTATION_SPAN_NAME:
        kind = COMPUTATION
    else:
        kind = None
    if len(_KINDS) < 100_000:  # span names are few; never let odd input grow this
        _KINDS[name] = kind
    return kind


# --------------------------------------------------------------------------
# Walking a request
# --------------------------------------------------------------------------
_RECORD_TYPE_BYTES = f'"{attr.RECORD_TYPE}"'.encode()


def _has_record_type(span: otlp.Span | otlp.ScanSpan) -> bool:
    return _RECORD_TYPE_BYTES in bytes(span.attributes)


class Walk:
    """What requests hold, span by span, for both passes of the conversion.

    ``on_span(resource, span, kind)`` is called for each of our spans whose name
    announces a mapped kind, with ``on_resource(attributes)`` of its resource;
    :attr:`foreign` and :attr:`other` count the spans of other instrumentations
    and our spans that the mapping does not use.
    """

    __slots__ = ("foreign", "other", "foreign_scopes")

    def __init__(self) -> None:
        self.foreign = 0
        self.other = 0
        self.foreign_scopes: set[str] = set()

    def run(
        self,
        request: otlp.Request | otlp.ScanRequest,
        on_resource: Callable[[list[otlp.KeyValue]], Any],
        on_span: Callable[[Any, Any, str], None],
    ) -> None:
        for resource_spans in request.resource_spans:
            resource_context = None
            for scope_spans in resource_spans.scopes():
                spans = scope_spans.spans
                scope = scope_spans.scope.name if scope_spans.scope is not None else ""
                if scope and scope != attr.INSTRUMENTATION_SCOPE:
                    self.foreign += len(spans)
                    self.foreign_scopes.add(scope)
                    continue
                for span in spans:
                    if not scope and not _has_record_type(span):
                        self.foreign += 1
                        self.foreign_scopes.add("(no scope)")
                        continue
                    kind = span_kind(span.name)
                    if kind is None:
                        self.other += 1
                        continue
                    if resource_context is None:
                        resource = resource_spans.resource
                        resource_context = on_resource(
                            resource.attributes if resource is not None else [])
                    on_span(resource_context, span, kind)


def scan_span(span: otlp.ScanSpan) -> tuple[str, int]:
    """Trace id and end time of a span, for the first pass."""
    return (normalize_id(span.trace_id, 16, "trace id"),
            _nanos(span.end_time_unix_nano, "end time"))


def decode_span(span: otlp.Span, kind: str, resource: Resource,
                wanted: Container[str]) -> Span | None:
    """The :class:`~.model.Span` for *span* if its trace is in *wanted* and its kind is mapped."""
    trace = normalize_id(span.trace_id, 16, "trace id")
    if trace not in wanted:
        return None
    attributes = decode_attributes(span.attributes)
    declared = attributes.get(attr.RECORD_TYPE)
    if declared is not None and declared != kind:
        if declared not in MAPPED_KINDS:
            return None
        kind = declared
    processing = None
    exception = None
    for event in span.events:
        name = event.name
        if name == "processing":
            processing = _nanos(event.time_unix_nano, "event time")
        elif name == attr.EXCEPTION_EVENT:
            exception = decode_attributes(event.attributes)
    code, message = _status(span.status)
    return Span(
        trace,
        normalize_id(span.span_id, 8, "span id"),
        _optional_id(span.parent_span_id),
        kind,
        _nanos(span.start_time_unix_nano, "start time"),
        _nanos(span.end_time_unix_nano, "end time"),
        attributes,
        processing,
        exception,
        code,
        message,
        resource,
    )


def iter_spans(
    requests: list[otlp.Request],
    resource_of: Callable[[list[otlp.KeyValue]], Resource],
    wanted: Container[str],
) -> list[Span]:
    """Every mapped span of a trace in *wanted*, in the order of *requests*."""
    found: list[Span] = []

    def on_span(resource: Resource, span: otlp.Span, kind: str) -> None:
        decoded = decode_span(span, kind, resource, wanted)
        if decoded is not None:
            found.append(decoded)

    walk = Walk()
    for request in requests:
        walk.run(request, resource_of, on_span)
    return found
