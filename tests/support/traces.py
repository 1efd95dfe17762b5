"""Read OTLP JSON lines (ours or the collector's file exporter) into flat span dicts for tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from otel_dask_prov import attributes as attr
from otel_dask_prov.demo.trace_summary import iter_requests


def _value(any_value: dict[str, Any]) -> Any:
    (kind, value), = any_value.items() if any_value else (("stringValue", None),)
    if kind == "intValue":
        return int(value)
    if kind == "arrayValue":
        return [_value(item) for item in value.get("values", [])]
    return value


def _attributes(items: Iterable[dict[str, Any]] | None) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value", {})) for item in items or ()}


@dataclass
class Span:
    """One span as tests need it."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start: int
    end: int
    attributes: dict[str, Any]
    resource: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)
    status_code: int = 0
    status_message: str = ""

    @property
    def kind(self) -> str:
        return self.attributes.get(attr.RECORD_TYPE, "")

    @property
    def service(self) -> str:
        return self.resource.get(attr.SERVICE_NAME, "")

    @property
    def key(self) -> str | None:
        return self.attributes.get(attr.TASK_KEY)


def read_spans(paths: Iterable[Path]) -> list[Span]:
    """Every span in the OTLP JSON lines files *paths* (directories are searched)."""
    spans: list[Span] = []
    for request in iter_requests(paths):
        spans.extend(_spans_of_request(request))
    return spans


def _spans_of_request(request: dict[str, Any]) -> Iterable[Span]:
    for resource_spans in request.get("resourceSpans", []):
        resource = _attributes(resource_spans.get("resource", {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans", []):
            for raw in scope_spans.get("spans", []):
                yield Span(
                    trace_id=raw["traceId"],
                    span_id=raw["spanId"],
                    parent_span_id=raw.get("parentSpanId") or None,
                    name=raw["name"],
                    start=int(raw["startTimeUnixNano"]),
                    end=int(raw["endTimeUnixNano"]),
                    attributes=_attributes(raw.get("attributes")),
                    resource=resource,
                    events=[
                        {"name": e["name"], "time": int(e["timeUnixNano"]),
                         "attributes": _attributes(e.get("attributes"))}
                        for e in raw.get("events", [])
                    ],
                    links=[
                        {"trace_id": l["traceId"], "span_id": l["spanId"],
                         "attributes": _attributes(l.get("attributes"))}
                        for l in raw.get("links", [])
                    ],
                    status_code=raw.get("status", {}).get("code", 0),
                    status_message=raw.get("status", {}).get("message", ""),
                )


def summarize(spans: list[Span]) -> Counter[str]:
    """Count spans by record type."""
    return Counter(span.kind for span in spans)
