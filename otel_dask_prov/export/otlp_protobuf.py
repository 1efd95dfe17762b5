"""Encode spans as an OTLP protobuf ``ExportTraceServiceRequest``, fast.

This is the body of an OTLP/gRPC ``Export`` call and of an OTLP/HTTP request
with ``Content-Type: application/x-protobuf`` (protocols ``grpc`` and
``http/protobuf``). The encoder writes the protobuf wire format directly from
:class:`~otel_dask_prov.export.span_data.SpanData`, as
:mod:`~otel_dask_prov.export.otlp_json` writes JSON: no OpenTelemetry SDK span
objects and no protobuf message objects are built, and what repeats from span
to span (the process's Resource and the InstrumentationScope, every attribute
key, the values of the attributes that take a handful of values per run) is
encoded once and remembered. It costs about what the JSON encoder costs, several
times less than the SDK's ``ReadableSpan`` and protobuf messages
(``docs/performance.md``).

The request is the one the OpenTelemetry SDK's OTLP exporters send for the
same spans (:func:`~otel_dask_prov.export.span_data.to_readable_span`, then
``opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans``), and
**byte for byte identical** to its serialization for every value the SDK
accepts: the fields in field-number order, one ``ResourceSpans`` holding one
``ScopeSpans``, kind ``SPAN_KIND_INTERNAL``, an empty ``Status`` for an unset
status, ``flags`` saying the parent is known not to be remote (on spans and
links), zero dropped counts left out. ``tests/test_otlp_protobuf.py`` checks it
against the SDK.

Attribute values map to ``AnyValue`` as in the SDK: ``str``, ``bool``, ``int``,
``float`` (NaN and the infinities included), ``bytes``, ``None`` (an empty
value), sequences (``ArrayValue``, of any of those) and mappings
(``KeyValueList``). Where the SDK drops an attribute (it logs an error), this
encoder keeps it as text: an ``int`` outside the signed 64-bit range of
``int_value``, and a value of any other type (as the JSON encoder does), are
sent as the string of the value. A string holding lone surrogates (not valid
UTF-8, which the protocol requires; the SDK fails on it) has them replaced by
U+FFFD.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from .. import attributes as attr
from .span_data import MAX_INT64, MIN_INT64, SCOPE, EventData, LinkData, SpanData

_SMALL = [bytes((n,)) for n in range(128)]
"""The varint of each number below 128: one byte, itself."""
_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_pack_times = struct.Struct("<3sQBQ").pack
"""``kind``, ``start_time_unix_nano`` and ``end_time_unix_nano`` of a span in one call."""
_KIND_AND_START = b"\x30\x01\x39"
"""Field 6 ``kind`` = 1 (``SPAN_KIND_INTERNAL``), then the tag of field 7 (fixed64)."""
_END = 0x41
"""Tag of field 8 ``end_time_unix_nano`` (fixed64)."""
_FLAGS = b"\x85\x01\x00\x01\x00\x00"
"""Field 16 ``flags`` (fixed32) = ``SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK``: the parent
(of a span) or the linked span (of a link) is known not to be remote."""
_LINK_FLAGS = b"\x35\x00\x01\x00\x00"
"""Field 6 ``flags`` of a ``Span.Link``, the same value."""
_UNSET_STATUS_AND_FLAGS = b"\x7a\x00" + _FLAGS
"""An empty ``Status`` (code ``STATUS_CODE_UNSET``), then the flags: how every span without an
error ends."""
_ERROR_CODE = b"\x18\x02"
"""Field 3 ``code`` of a ``Status`` = ``STATUS_CODE_ERROR``."""
_UINT64 = (1 << 64) - 1

# Tags (field number << 3 | wire type) of the repeated KeyValue fields of each message.
_SPAN_ATTRIBUTES = 0x4A  # Span.attributes = 9
_EVENT_ATTRIBUTES = 0x1A  # Span.Event.attributes = 3
_LINK_ATTRIBUTES = 0x22  # Span.Link.attributes = 4
_RESOURCE_ATTRIBUTES = 0x0A  # Resource.attributes = 1

_KEYS: dict[str, bytes] = {}
"""Attribute name -> the start of its ``KeyValue``: the key field and the tag of the value field."""

_REPEATED_NAMES = (
    attr.RECORD_TYPE, attr.TASK_PREFIX, attr.TASK_GROUP, attr.TASK_STATE, attr.TASK_OUTCOME,
    attr.WORKER_ADDRESS, attr.WORKER_NAME, attr.TASK_RESULT_TYPE, attr.THREAD_NAME,
    attr.CODE_FUNCTION_NAME, attr.TRANSITION_FROM, attr.LINK_TYPE, attr.PHASE_ACTION,
    attr.PHASE_SOURCE,
)
_REPEATED: dict[int, dict[str, dict[str, bytes]]] = {
    tag: {name: {} for name in _REPEATED_NAMES}
    for tag in (_SPAN_ATTRIBUTES, _EVENT_ATTRIBUTES, _LINK_ATTRIBUTES)
}
"""Attributes whose string values repeat from span to span (a handful per run): tag of
the attribute list -> name -> value -> the encoded list entry (tag, length and
``KeyValue``), remembered instead of encoded again."""
_MAX_REPEATED = 1024
"""Bound of each of those caches; a full one starts over."""
_NO_CACHE: dict[str, dict[str, bytes]] = {}

_SURROGATES = re.compile("[\ud800-\udfff]")


_VARINTS: dict[int, bytes] = {}
"""Varints of numbers from 128 up, remembered: lengths and attribute values repeat."""
_MAX_VARINTS = 4096
"""Bound of that cache; a full one starts over."""


def _varint(number: int) -> bytes:
    """The base-128 varint of a number from 0 to 2**64 - 1."""
    if number < 0x80:
        return _SMALL[number]
    encoded = _VARINTS.get(number)
    if encoded is None:
        out = bytearray()
        rest = number
        while rest >= 0x80:
            out.append((rest & 0x7F) | 0x80)
            rest >>= 7
        out.append(rest)
        if len(_VARINTS) >= _MAX_VARINTS:
            _VARINTS.clear()
        encoded = _VARINTS[number] = bytes(out)
    return encoded


def _utf8(text: str) -> bytes:
    """*text* as UTF-8; lone surrogates (no UTF-8 for them) become U+FFFD."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text).encode()


def _length_delimited(tag: int, body: bytes) -> bytes:
    """A field of wire type 2 with one-byte tag *tag* (field number below 16)."""
    return _SMALL[tag] + _varint(len(body)) + body


def _key(name: str) -> bytes:
    encoded = _KEYS.get(name)
    if encoded is None:
        key = _utf8(name)
        encoded = _KEYS[name] = (b"\x0a" + _varint(len(key)) + key if key else b"") + b"\x12"
    return encoded


def encode_value(value: Any) -> bytes:
    """One OTLP ``AnyValue`` message (without its tag and length)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _length_delimited(0x0A, _utf8(value))
    if isinstance(value, int):
        if MIN_INT64 <= value <= MAX_INT64:
            return b"\x18" + _varint(value & _UINT64)
        return _length_delimited(0x0A, str(value).encode())
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _length_delimited(0x3A, bytes(value))
    if isinstance(value, Sequence):
        return _length_delimited(0x2A, b"".join([
            _length_delimited(0x0A, encode_value(item)) for item in value]))
    if isinstance(value, Mapping):
        return _length_delimited(0x32, b"".join([
            _length_delimited(0x0A, _key(str(name)) + _varint(len(item)) + item)
            for name, item in ((name, encode_value(item)) for name, item in value.items())]))
    return _length_delimited(0x0A, _utf8(str(value)))


_STRING_HEADS = [_SMALL[size + 2] + b"\x0a" + _SMALL[size] for size in range(0x7E)]
"""What comes between a key and a string value of *size* bytes (below 126) in a ``KeyValue``:
the length of the ``AnyValue``, the tag of ``string_value`` and its length."""
_INT_HEADS = [b""] + [_SMALL[size + 1] + b"\x18" for size in range(1, 11)]
"""What comes between a key and an ``int_value`` varint of *size* bytes: the length of the
``AnyValue`` and the tag of ``int_value``."""
_TRUE = b"\x02\x10\x01"
_FALSE = b"\x02\x10\x00"
_DOUBLE_HEAD = b"\x09\x21"


def _string_head(size: int) -> bytes:
    if size < 0x7E:
        return _STRING_HEADS[size]
    length = _varint(size)
    return _varint(1 + len(length) + size) + b"\x0a" + length


def _cache_entry(cache: dict[str, bytes], tag: int, key: bytes, value: str) -> bytes:
    if len(cache) >= _MAX_REPEATED:
        cache.clear()
    text = _utf8(value)
    keyvalue = key + _string_head(len(text)) + text
    entry = cache[value] = _SMALL[tag] + _varint(len(keyvalue)) + keyvalue
    return entry


def _append_attributes(parts: list[bytes], attributes: Mapping[str, Any], tag: int) -> None:
    """Append the list entries (tag, length, ``KeyValue``) of *attributes* to *parts*."""
    keys = _KEYS
    repeated = _REPEATED.get(tag, _NO_CACHE)
    tag_byte = _SMALL[tag]
    small = _SMALL
    extend = parts.extend
    for name, value in attributes.items():
        key = keys.get(name) or _key(name)
        kind = type(value)
        if kind is str:
            cache = repeated.get(name)
            if cache is not None:
                parts.append(cache.get(value) or _cache_entry(cache, tag, key, value))
                continue
            try:
                text = value.encode()
            except UnicodeEncodeError:
                text = _utf8(value)
            size = len(text)
            head = _STRING_HEADS[size] if size < 0x7E else _string_head(size)
            size += len(key) + len(head)
            extend((tag_byte, small[size] if size < 0x80 else _varint(size), key, head, text))
        elif kind is int and MIN_INT64 <= value <= MAX_INT64:
            number = small[value] if 0 <= value < 0x80 else _varint(value & _UINT64)
            size = len(key) + 2 + len(number)
            extend((tag_byte, small[size] if size < 0x80 else _varint(size), key,
                    _INT_HEADS[len(number)], number))
        elif kind is float:
            size = len(key) + 10
            extend((tag_byte, small[size] if size < 0x80 else _varint(size), key, _DOUBLE_HEAD,
                    _pack_double(value)))
        elif kind is bool:
            size = len(key) + 3
            extend((tag_byte, small[size] if size < 0x80 else _varint(size), key,
                    _TRUE if value else _FALSE))
        else:
            any_value = encode_value(value)
            length = _varint(len(any_value))
            size = len(key) + len(length) + len(any_value)
            extend((tag_byte, _varint(size), key, length, any_value))


def _varint_prefixed(body: bytes) -> bytes:
    return _varint(len(body)) + body


def encode_attributes(attributes: Mapping[str, Any], tag: int = _SPAN_ATTRIBUTES) -> bytes:
    """The repeated ``KeyValue`` field with tag *tag* holding *attributes*."""
    parts: list[bytes] = []
    _append_attributes(parts, attributes, tag)
    return b"".join(parts)


def _event(event: EventData) -> bytes:
    name, when, attributes = event
    parts = [b"\x09" + _pack_fixed64(when)] if when else []
    if name:
        parts.append(_length_delimited(0x12, _utf8(name)))
    if attributes:
        _append_attributes(parts, attributes, _EVENT_ATTRIBUTES)
    body = b"".join(parts)
    return b"\x5a" + _varint(len(body)) + body


def _link(link: LinkData) -> bytes:
    trace_id, span_id, attributes = link
    parts = [b"\x0a\x10" + trace_id.to_bytes(16, "big") + b"\x12\x08" + span_id.to_bytes(8, "big")]
    if attributes:
        _append_attributes(parts, attributes, _LINK_ATTRIBUTES)
    parts.append(_LINK_FLAGS)
    body = b"".join(parts)
    return b"\x6a" + _varint(len(body)) + body


_last_trace: tuple[int, bytes] = (-1, b"")
"""The last trace id encoded and the start of a span of it: consecutive spans share it."""


def encode_span(span: SpanData) -> bytes:
    """One ``Span`` as the entry (tag, length and message) of a ``ScopeSpans.spans`` field."""
    global _last_trace
    trace_id = span.trace_id
    last_id, start = _last_trace
    if trace_id != last_id:
        start = b"\x0a\x10" + trace_id.to_bytes(16, "big") + b"\x12\x08"
        _last_trace = (trace_id, start)
    head = start + span.span_id.to_bytes(8, "big")
    if span.parent_span_id is not None:
        head += b"\x22\x08" + span.parent_span_id.to_bytes(8, "big")
    parts = [head]
    name = span.name
    if name:
        try:
            encoded_name = name.encode()
        except UnicodeEncodeError:
            encoded_name = _utf8(name)
        size = len(encoded_name)
        parts.append((b"\x2a" + _SMALL[size] if size < 0x80 else b"\x2a" + _varint(size))
                     + encoded_name)
    if span.start and span.end:
        parts.append(_pack_times(_KIND_AND_START, span.start, _END, span.end))
    else:
        parts.append(_KIND_AND_START[:2])
        if span.start:
            parts.append(b"\x39" + _pack_fixed64(span.start))
        if span.end:
            parts.append(b"\x41" + _pack_fixed64(span.end))
    if span.attributes:
        _append_attributes(parts, span.attributes, _SPAN_ATTRIBUTES)
    if span.events:
        parts.extend([_event(event) for event in span.events])
    if span.links:
        parts.extend([_link(link) for link in span.links])
    if span.error is None:
        parts.append(_UNSET_STATUS_AND_FLAGS)
    else:
        status = (_length_delimited(0x12, _utf8(span.error)) if span.error else b"") + _ERROR_CODE
        parts.append(b"\x7a" + _SMALL[len(status)] + status if len(status) < 0x80
                     else b"\x7a" + _varint(len(status)) + status)
        parts.append(_FLAGS)
    body = b"".join(parts)
    size = len(body)
    return (b"\x12" + _SMALL[size] if size < 0x80 else b"\x12" + _varint(size)) + body


_SCOPE_FIELD = _length_delimited(0x0A, (
    (_length_delimited(0x0A, _utf8(SCOPE.name)) if SCOPE.name else b"")
    + (_length_delimited(0x12, _utf8(SCOPE.version)) if SCOPE.version else b"")
))
"""``ScopeSpans.scope``: this package's ``InstrumentationScope``, the same for every span."""


def resource_prefix(resource_attributes: Mapping[str, Any]) -> bytes:
    """``ResourceSpans.resource`` of one process: what every request of it starts with.

    Encoded once per process and handed to :func:`encode_request`.
    """
    return _length_delimited(0x0A, encode_attributes(resource_attributes, _RESOURCE_ATTRIBUTES))


def encode_request(prefix: bytes, spans: Sequence[SpanData]) -> bytes:
    """The serialized ``ExportTraceServiceRequest`` of one process's *spans*.

    *prefix* comes from :func:`resource_prefix`. No spans make an empty request
    (zero bytes), as in the SDK.
    """
    if not spans:
        return b""
    encoded = [encode_span(span) for span in spans]
    scope_spans = len(_SCOPE_FIELD) + sum(map(len, encoded))
    scope_header = b"\x12" + _varint(scope_spans)
    resource_spans = len(prefix) + len(scope_header) + scope_spans
    return b"".join([b"\x0a", _varint(resource_spans), prefix, scope_header, _SCOPE_FIELD, *encoded])
