"""Read OTLP JSON lines (ours or the collector's file exporter) into flat span dicts for tests.

The files are read with the converter's reader
(:func:`otel_dask_prov.convert.readers.file_spans`), every span as it was written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from otel_dask_prov import attributes as attr
from otel_dask_prov.convert.readers import decode_attributes, file_spans
from otel_dask_prov.export.otlp_json_decode import LINKS, decode_status


def _as_lists(value: Any) -> Any:
    """Arrays as lists, as the tests compare them."""
    return [_as_lists(item) for item in value] if isinstance(value, tuple) else value


def _attributes(items: msgspec.Raw | dict[str, Any]) -> dict[str, Any]:
    decoded = decode_attributes(items) if isinstance(items, msgspec.Raw) else items
    return {key: _as_lists(value) for key, value in decoded.items()}


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
    for resource, raw in file_spans(paths):
        code, message = decode_status(raw.status)
        spans.append(Span(
            trace_id=raw.trace_id or "",
            span_id=raw.span_id or "",
            parent_span_id=raw.parent_span_id or None,
            name=raw.name,
            start=int(raw.start_time_unix_nano or 0),
            end=int(raw.end_time_unix_nano or 0),
            attributes=_attributes(raw.attributes),
            resource=_attributes(resource),
            events=[
                {"name": e.name, "time": int(e.time_unix_nano or 0),
                 "attributes": _attributes(e.attributes)}
                for e in raw.events
            ],
            links=[
                {"trace_id": link.trace_id, "span_id": link.span_id,
                 "attributes": _attributes(link.attributes)}
                for link in LINKS.decode(raw.links)
            ],
            status_code=code,
            status_message=message,
        ))
    return spans


def summarize(spans: list[Span]) -> Counter[str]:
    """Count spans by record type."""
    return Counter(span.kind for span in spans)


def assert_retry(first: Span, second: Span) -> None:
    """*first* failed and was retried by Dask; *second*, the retry, succeeded and points back."""
    assert first.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_RETRIED
    assert first.status_code == 2
    assert second.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_SUCCESS
    assert second.attributes[attr.TASK_RERUN_REASON] == "retry"
    assert second.attributes[attr.TASK_SUCCEEDED_AFTER_RETRY] is True
    assert second.attributes[attr.TASK_PREVIOUS_ATTEMPT_SPAN_ID] == first.span_id
