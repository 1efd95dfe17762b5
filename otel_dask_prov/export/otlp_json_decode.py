"""Read OTLP JSON back: ``ExportTraceServiceRequest`` as typed structs, decoded with ``msgspec``.

The read side of the format that :mod:`.otlp_json` writes, and the one reader
of it: ``otel-prov convert`` (:mod:`otel_dask_prov.convert.readers`, which
brings other input shapes to this one), ``otel-prov replay`` (:mod:`.replay`),
the demo's summary and the tests all decode with these structs.

Decoding into the fields we need, and skipping the rest without building
Python objects for it, is what makes reading millions of spans affordable:
``msgspec`` decodes into structs faster than any JSON library builds the
equivalent dicts, and the first pass of the conversion, which needs only trace
ids, names and end times, decodes the much smaller :class:`ScanRequest`.
Attributes, events' attributes and links stay raw JSON bytes until a reader
asks for them (:data:`ATTRIBUTES`, :data:`LINKS`).

Field names are the lowerCamelCase of OTLP/JSON; 64-bit integers may be
strings (as the collector writes them) or numbers, enums numbers or names.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec


class ArrayValue(msgspec.Struct):
    values: list[AnyValue] = []


class KeyValueList(msgspec.Struct):
    values: list[KeyValue] = []


class AnyValue(msgspec.Struct, rename="camel"):
    string_value: str | None = None
    int_value: int | str | None = None
    double_value: float | str | None = None
    bool_value: bool | str | None = None
    array_value: ArrayValue | None = None
    kvlist_value: KeyValueList | None = None
    bytes_value: str | None = None


class KeyValue(msgspec.Struct):
    key: str = ""
    value: AnyValue | None = None


class Event(msgspec.Struct, rename="camel"):
    time_unix_nano: int | str | None = None
    name: str = ""
    attributes: msgspec.Raw = msgspec.Raw(b"[]")
    """Decoded only for the events a reader needs (:data:`ATTRIBUTES`)."""


class Link(msgspec.Struct, rename="camel"):
    trace_id: str | None = None
    span_id: str | None = None
    attributes: msgspec.Raw = msgspec.Raw(b"[]")


class Status(msgspec.Struct):
    code: int | str = 0
    message: str = ""


class Span(msgspec.Struct, rename="camel"):
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    name: str = ""
    kind: int | str = 0
    start_time_unix_nano: int | str | None = None
    end_time_unix_nano: int | str | None = None
    attributes: msgspec.Raw = msgspec.Raw(b"[]")
    """Decoded only for the spans a reader uses (the converter skips worker phases)."""
    events: list[Event] = []
    links: msgspec.Raw = msgspec.Raw(b"[]")
    """Decoded only by readers that need links (:data:`LINKS`); the converter does not."""
    status: Status | None = None


class Scope(msgspec.Struct):
    name: str = ""
    version: str | None = None


class ScopeSpans(msgspec.Struct):
    scope: Scope | None = None
    spans: list[Span] = []


class Resource(msgspec.Struct):
    attributes: list[KeyValue] = []


class ResourceSpans(msgspec.Struct, rename="camel"):
    resource: Resource | None = None
    scope_spans: list[ScopeSpans] | None = None
    instrumentation_library_spans: list[ScopeSpans] | None = None
    """Before OTLP 0.15 (2022) scopes were "instrumentation libraries"."""

    def scopes(self) -> list[ScopeSpans]:
        return self.scope_spans or self.instrumentation_library_spans or []


class Request(msgspec.Struct, rename="camel"):
    resource_spans: list[ResourceSpans]


# -- what the converter's first pass reads: ids, names, end times; attributes stay raw --
class ScanSpan(msgspec.Struct, rename="camel"):
    trace_id: str | None = None
    name: str = ""
    end_time_unix_nano: int | str | None = None
    attributes: msgspec.Raw = msgspec.Raw(b"[]")


class ScanScopeSpans(msgspec.Struct):
    scope: Scope | None = None
    spans: list[ScanSpan] = []


class ScanResourceSpans(msgspec.Struct, rename="camel"):
    resource: Resource | None = None
    scope_spans: list[ScanScopeSpans] | None = None
    instrumentation_library_spans: list[ScanScopeSpans] | None = None

    def scopes(self) -> list[ScanScopeSpans]:
        return self.scope_spans or self.instrumentation_library_spans or []


class ScanRequest(msgspec.Struct, rename="camel"):
    resource_spans: list[ScanResourceSpans]


FULL = msgspec.json.Decoder(Request)
SCAN = msgspec.json.Decoder(ScanRequest)
ATTRIBUTES = msgspec.json.Decoder(list[KeyValue])
LINKS = msgspec.json.Decoder(list[Link])


# -- values ------------------------------------------------------------------
def decode_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a Python value, ``None`` if it has none.

    Arrays become tuples, key-value lists their JSON text (sorted keys), bytes
    stay base64 text: every value is then one that a span attribute can hold.
    """
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
        return tuple(decode_value(element) for element in value.array_value.values)
    if value.kvlist_value is not None:
        return json.dumps(decode_key_values(value.kvlist_value.values), sort_keys=True)
    return value.bytes_value


def decode_key_values(items: list[KeyValue]) -> dict[str, Any]:
    """OTLP ``KeyValue`` structs as a dict of :func:`decode_value`; unset values are left out."""
    decoded = {
        item.key: text if (text := item.value.string_value) is not None
        else decode_value(item.value)
        for item in items if item.value is not None
    }
    if None in decoded.values():
        return {key: value for key, value in decoded.items() if value is not None}
    return decoded


_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def decode_status(status: Status | None) -> tuple[int, str]:
    """``(code, message)`` of a span status: 0 unset, 1 ok, 2 error (OTLP numbering)."""
    if status is None:
        return 0, ""
    code = status.code
    if isinstance(code, str):
        code = int(code) if code.isdigit() else _STATUS_NAMES.get(code, 0)
    return code, status.message
