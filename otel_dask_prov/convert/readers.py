"""Decode trace JSON into :class:`~.model.Span` objects.

Every accepted shape is first brought to the shape of an OTLP
``ExportTraceServiceRequest`` (:mod:`.shapes`), then one decoder serves them all:

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
is counted and left out. Problems inside a unit raise :class:`InvalidUnitError`
with a reason; the caller adds the file name and line.

The OTLP JSON structs and the decoding of values are the export stage's
(:mod:`otel_dask_prov.export.otlp_json_decode`), beside the encoder that writes
them. :func:`file_spans` reads whole JSON lines files span by span, every span
as it was written, for the demo's summary and the tests.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable, Container, Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from .. import attributes as attr
from ..export import otlp_json_decode
from ..export.trace_file_reader import open_trace_lines
from .model import (
    ATTEMPT,
    COMPUTATION,
    DARSHAN_TASK_IO,
    EXECUTION,
    MAPPED_KINDS,
    WORKER_SPAN,
    Resource,
    Span,
)
from .shapes import InvalidUnitError, loads, requests_of

__all__ = ["InvalidUnitError", "Walk", "decode_attributes", "decode_span", "file_requests",
           "file_spans", "full_requests", "iter_spans", "loads", "normalize_id", "requests_of",
           "scan_requests", "scan_span", "span_kind", "trace_files"]


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
            data = _json_values(data)
    found = requests_of(data)
    if found is None:
        return None
    try:  # other shapes are few and small: re-encoded, then decoded as the usual shape
        return [decoder.decode(msgspec.json.encode(request)) for request in found]
    except msgspec.ValidationError as error:
        raise InvalidUnitError(f"not an OTLP trace request: {error}") from None


_NEXT_VALUE = re.compile(r"\S")


def _json_values(text: bytes | str) -> Any:
    """One JSON value, or the list of several written one after the other.

    A line of a collector's file holds two requests when the collector was killed
    between writing a request and its newline: it appends the next one to that line
    after its restart. :class:`ValueError` for anything else that is not JSON.
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if not error.msg.startswith("Extra data"):
            raise
    decoder = json.JSONDecoder()
    line = text.decode("utf-8") if isinstance(text, bytes) else text
    values = []
    start = _NEXT_VALUE.search(line)
    while start is not None:
        value, end = decoder.raw_decode(line, start.start())
        values.append(value)
        start = _NEXT_VALUE.search(line, end)
    return values


def full_requests(data: bytes | Any) -> list[otlp_json_decode.Request] | None:
    """The OTLP requests in one unit (JSON text or an already decoded value).

    ``None`` for OTLP of another signal; :class:`InvalidUnitError` for anything
    that is not trace data, :class:`ValueError` for JSON that is malformed.
    """
    return _requests(data, otlp_json_decode.FULL)


def scan_requests(data: bytes | Any) -> list[otlp_json_decode.ScanRequest] | None:
    """Like :func:`full_requests`, decoding only what the first pass needs."""
    return _requests(data, otlp_json_decode.SCAN)


# --------------------------------------------------------------------------
# Values and ids
# --------------------------------------------------------------------------
def decode_attributes(items: list[otlp_json_decode.KeyValue] | msgspec.Raw) -> dict[str, Any]:
    """OTLP ``KeyValue`` structs (or their raw JSON) as a dict; unset values are left out."""
    if isinstance(items, msgspec.Raw):
        try:
            items = otlp_json_decode.ATTRIBUTES.decode(items)
        except msgspec.ValidationError as error:
            raise InvalidUnitError(f"attributes are not OTLP key-values: {error}") from None
    return otlp_json_decode.decode_key_values(items)


_HEX = re.compile(r"[0-9a-fA-F]+")


_LOWER_HEX_DIGITS = "0123456789abcdef"


def normalize_id(value: Any, size: int, what: str) -> str:
    """A trace (*size* 16) or span (*size* 8) id as lowercase hex, from hex or base64."""
    if type(value) is str and len(value) == size * 2 and not value.strip(_LOWER_HEX_DIGITS):
        return value
    if not isinstance(value, str) or not value:
        raise InvalidUnitError(f"a span without a {what}")
    digits = size * 2
    if len(value) <= digits and _HEX.fullmatch(value):
        return value.lower().rjust(digits, "0")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) == size:
        return raw.hex()
    raise InvalidUnitError(f"{what} {value!r} is neither {digits} hex digits nor base64 of {size} bytes")


def _optional_id(value: Any) -> str | None:
    if not value:
        return None
    parent = normalize_id(value, 8, "parent span id")
    return None if parent == "0000000000000000" else parent


def _nanos(value: Any, what: str) -> int:
    try:
        return int(value) if value is not None else 0
    except (TypeError, ValueError):
        raise InvalidUnitError(f"{what} {value!r} is not an integer number of nanoseconds") from None


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
    elif name.startswith(attr.DARSHAN_TASK_SPAN_PREFIX):
        kind = DARSHAN_TASK_IO
    elif name == attr.DARSHAN_SPAN_NAME:
        kind = WORKER_SPAN
    else:
        kind = None
    if len(_KINDS) < 100_000:  # span names are few; never let odd input grow this
        _KINDS[name] = kind
    return kind


# --------------------------------------------------------------------------
# Walking a request
# --------------------------------------------------------------------------
_RECORD_TYPE_BYTES = f'"{attr.RECORD_TYPE}"'.encode()


def _has_record_type(span: otlp_json_decode.Span | otlp_json_decode.ScanSpan) -> bool:
    return _RECORD_TYPE_BYTES in bytes(span.attributes)


class Walk:
    """What requests hold, span by span, for both passes of the conversion.

    ``on_span(resource, span, kind)`` is called for each of our spans whose name
    announces a mapped kind, with ``on_resource(attributes)`` of its resource;
    :attr:`foreign` and :attr:`other` count the spans of other instrumentations
    and our spans that the mapping does not use.
    """

    __slots__ = ("foreign", "foreign_scopes", "other")

    def __init__(self) -> None:
        self.foreign = 0
        self.other = 0
        self.foreign_scopes: set[str] = set()

    def run(
        self,
        request: otlp_json_decode.Request | otlp_json_decode.ScanRequest,
        on_resource: Callable[[list[otlp_json_decode.KeyValue]], Any],
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


def scan_span(span: otlp_json_decode.ScanSpan) -> tuple[str, int]:
    """Trace id and end time of a span, for the first pass."""
    return (normalize_id(span.trace_id, 16, "trace id"),
            _nanos(span.end_time_unix_nano, "end time"))


def decode_span(span: otlp_json_decode.Span, kind: str, resource: Resource,
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
    code, message = otlp_json_decode.decode_status(span.status)
    events = _all_events(span.events) if kind in _EVENTFUL_KINDS else ()
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
        events,
    )


_EVENTFUL_KINDS = frozenset({WORKER_SPAN, DARSHAN_TASK_IO})
"""Kinds whose events the mapping reads (Darshan's files and segments)."""


def _all_events(events: list[otlp_json_decode.Event]) -> tuple[tuple[str, int, dict[str, Any]], ...]:
    return tuple((event.name, _nanos(event.time_unix_nano, "event time"),
                  decode_attributes(event.attributes)) for event in events)


def iter_spans(
    requests: list[otlp_json_decode.Request],
    resource_of: Callable[[list[otlp_json_decode.KeyValue]], Resource],
    wanted: Container[str],
) -> list[Span]:
    """Every mapped span of a trace in *wanted*, in the order of *requests*."""
    found: list[Span] = []

    def on_span(resource: Resource, span: otlp_json_decode.Span, kind: str) -> None:
        decoded = decode_span(span, kind, resource, wanted)
        if decoded is not None:
            found.append(decoded)

    walk = Walk()
    for request in requests:
        walk.run(request, resource_of, on_span)
    return found


# --------------------------------------------------------------------------
# Whole files, every span: for the demo's summary and the tests
# --------------------------------------------------------------------------
def trace_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given; directories searched for ``*.jsonl`` and ``*.jsonl.zst``."""
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(child for child in path.rglob("*.jsonl*")
                            if child.name.endswith((".jsonl", ".jsonl.zst")))
                     if path.is_dir() else [path])
    return files


def file_requests(paths: Iterable[str | os.PathLike[str]]) -> Iterator[otlp_json_decode.Request]:
    """Every OTLP trace request in the trace files *paths* (see :func:`trace_files`), in order.

    Files of any format are read (:mod:`otel_dask_prov.export.trace_file_reader`).
    A line may hold two requests (see :func:`_json_values`). Raises
    :class:`ValueError` (:class:`InvalidUnitError` included) on a line that is
    not JSON or not trace data. ``otel-prov convert`` indexes and reads its
    inputs itself (:mod:`.scan`), with the same decoding.
    """
    for file in trace_files(paths):
        with open_trace_lines(file) as lines:
            for line in lines:
                if line.strip():
                    yield from full_requests(line) or []


def file_spans(
    paths: Iterable[str | os.PathLike[str]],
) -> Iterator[tuple[dict[str, Any], otlp_json_decode.Span]]:
    """``(resource attributes, span)`` for every span in *paths*, of any scope and kind.

    Unlike :func:`iter_spans` nothing is left out: the converter maps only
    otel-dask-prov's spans of some kinds, the demo's summary and the tests look
    at every span as it was written. Spans of one resource share its dict.
    """
    for request in file_requests(paths):
        for resource_spans in request.resource_spans:
            resource = resource_spans.resource
            attributes = decode_attributes(resource.attributes) if resource is not None else {}
            for scope_spans in resource_spans.scopes():
                for span in scope_spans.spans:
                    yield attributes, span
