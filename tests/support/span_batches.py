"""Batches of :class:`~otel_dask_prov.export.span_data.SpanData` as the exporters get them.

For the tests of the exporters and their encoders: each batch is ``(resource
attributes, spans)``, the spans of one process in one export.

* :func:`synthetic_batches`: the spans :mod:`tests.support.synthetic_traces`
  makes with the plugins' own records, caught on their way to the JSON encoder;
* :func:`recorded_batches`: the spans of real runs recorded by the plugins
  (``tests/fixtures/traces``, every probe's attributes included), read back
  from their OTLP JSON lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from otel_dask_prov.export import otlp_json, otlp_json_decode
from otel_dask_prov.export.replay import decode_request
from otel_dask_prov.export.span_data import SpanData
from tests.support import synthetic_traces
from tests.support.synthetic_traces import SyntheticTask

Batch = tuple[dict[str, Any], list[SpanData]]

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
RECORDED_RUNS = ("erred", "fused", "plain", "provenance", "retry", "worker-killed")
"""The fixture directories written by the plugins themselves."""


def synthetic_batches(tasks: Iterable[SyntheticTask], **options: Any) -> list[Batch]:
    """The batches the synthetic scheduler and workers export for *tasks* (``generate`` options)."""
    resources: dict[str, dict[str, Any]] = {}
    batches: list[Batch] = []

    def prefix_of(attributes: dict[str, Any]) -> str:
        prefix = otlp_json.resource_prefix(attributes)
        resources[prefix] = dict(attributes)
        return prefix

    def capture(prefix: str, spans: Sequence[SpanData]) -> str:
        batches.append((resources[prefix], list(spans)))
        return otlp_json.encode_line(prefix, spans)

    with mock.patch.object(synthetic_traces, "resource_prefix", prefix_of), \
            mock.patch.object(synthetic_traces, "encode_line", capture):
        synthetic_traces.generate(tasks, **options)
    return batches


def span_data(span: ReadableSpan) -> SpanData:
    """The :class:`SpanData` an SDK span of ours was made from."""
    context = span.get_span_context()
    assert context is not None
    error = (span.status.description or "") if span.status.status_code is StatusCode.ERROR else None
    return SpanData(
        span.name, context.trace_id, context.span_id,
        span.parent.span_id if span.parent is not None else None,
        span.start_time or 0, span.end_time or 0, dict(span.attributes or {}),
        [(event.name, event.timestamp, dict(event.attributes or {})) for event in span.events],
        [(link.context.trace_id, link.context.span_id, dict(link.attributes or {}))
         for link in span.links],
        error,
    )


def recorded_batches(runs: Iterable[str] = RECORDED_RUNS) -> list[Batch]:
    """Every line of the plugins' recorded fixture traces of *runs*, as batches."""
    batches: list[Batch] = []
    for run in runs:
        for path in sorted((RECORDED / run).glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                spans = decode_request(otlp_json_decode.FULL.decode(line))
                if spans:
                    resource = spans[0].resource
                    assert all(span.resource is resource for span in spans), f"{path}: one process a line"
                    batches.append((dict(resource.attributes), [span_data(span) for span in spans]))
    return batches
