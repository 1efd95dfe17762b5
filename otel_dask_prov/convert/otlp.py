"""OTLP ``ExportTraceServiceRequest`` JSON as typed structs, decoded with ``msgspec``.

Decoding into the fields we need, and skipping the rest without building
Python objects for it, is what makes reading millions of spans affordable:
``msgspec`` decodes a batch of spans about twice as fast as ``orjson`` builds
the equivalent dicts, and the first pass of the conversion, which needs only
trace ids, names and end times (:class:`ScanRequest`), about fifteen times as
fast.

Field names are the lowerCamelCase of OTLP/JSON; 64-bit integers may be
strings (as the collector writes them) or numbers, status codes numbers or
enum names. Other shapes are brought to this one by :mod:`.readers` and
converted with :func:`msgspec.convert`.
"""

from __future__ import annotations

from typing import Optional, Union

import msgspec


class ArrayValue(msgspec.Struct):
    values: list[AnyValue] = []


class KeyValueList(msgspec.Struct):
    values: list[KeyValue] = []


class AnyValue(msgspec.Struct, rename="camel"):
    string_value: Optional[str] = None
    int_value: Union[int, str, None] = None
    double_value: Union[float, str, None] = None
    bool_value: Union[bool, str, None] = None
    array_value: Optional[ArrayValue] = None
    kvlist_value: Optional[KeyValueList] = None
    bytes_value: Optional[str] = None


class KeyValue(msgspec.Struct):
    key: str = ""
    value: Optional[AnyValue] = None


class Event(msgspec.Struct, rename="camel"):
    time_unix_nano: Union[int, str, None] = None
    name: str = ""
    attributes: msgspec.Raw = msgspec.Raw(b"[]")
    """Decoded only for the events the mapping reads (:data:`ATTRIBUTES`)."""


class Status(msgspec.Struct):
    code: Union[int, str] = 0
    message: str = ""


class Span(msgspec.Struct, rename="camel"):
    trace_id: Optional[str] = None
    span_id: Optional[str] = None
    parent_span_id: Optional[str] = None
    name: str = ""
    start_time_unix_nano: Union[int, str, None] = None
    end_time_unix_nano: Union[int, str, None] = None
    attributes: msgspec.Raw = msgspec.Raw(b"[]")
    """Decoded only for the spans the mapping uses (worker phases are not)."""
    events: list[Event] = []
    status: Optional[Status] = None


class Scope(msgspec.Struct):
    name: str = ""


class ScopeSpans(msgspec.Struct):
    scope: Optional[Scope] = None
    spans: list[Span] = []


class Resource(msgspec.Struct):
    attributes: list[KeyValue] = []


class ResourceSpans(msgspec.Struct, rename="camel"):
    resource: Optional[Resource] = None
    scope_spans: Optional[list[ScopeSpans]] = None
    instrumentation_library_spans: Optional[list[ScopeSpans]] = None
    """Before OTLP 0.15 (2022) scopes were "instrumentation libraries"."""

    def scopes(self) -> list[ScopeSpans]:
        return self.scope_spans or self.instrumentation_library_spans or []


class Request(msgspec.Struct, rename="camel"):
    resource_spans: list[ResourceSpans]


# -- what the first pass reads: ids, names, end times; attributes stay raw bytes --
class ScanSpan(msgspec.Struct, rename="camel"):
    trace_id: Optional[str] = None
    name: str = ""
    end_time_unix_nano: Union[int, str, None] = None
    attributes: msgspec.Raw = msgspec.Raw(b"[]")


class ScanScopeSpans(msgspec.Struct):
    scope: Optional[Scope] = None
    spans: list[ScanSpan] = []


class ScanResourceSpans(msgspec.Struct, rename="camel"):
    resource: Optional[Resource] = None
    scope_spans: Optional[list[ScanScopeSpans]] = None
    instrumentation_library_spans: Optional[list[ScanScopeSpans]] = None

    def scopes(self) -> list[ScanScopeSpans]:
        return self.scope_spans or self.instrumentation_library_spans or []


class ScanRequest(msgspec.Struct, rename="camel"):
    resource_spans: list[ScanResourceSpans]


FULL = msgspec.json.Decoder(Request)
SCAN = msgspec.json.Decoder(ScanRequest)
ATTRIBUTES = msgspec.json.Decoder(list[KeyValue])
