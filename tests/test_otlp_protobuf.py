"""Our protobuf encoder writes the request the OpenTelemetry SDK writes, byte for byte.

For the same spans, :func:`otel_dask_prov.export.otlp_protobuf.encode_request`
must serialize the ``ExportTraceServiceRequest`` that the SDK path serializes
(``to_readable_span``, then the SDK's ``encode_spans`` and ``SerializeToString``):
the spans of the synthetic traces (made with the plugins' records), of the
plugins' recorded fixture runs, of records filled by hand, and every attribute
value type the SDK accepts. Each case compares the bytes, and the messages
both decode to. Where the SDK drops an attribute (an integer past 64 bits, a
value of another type) or cannot encode a string (lone surrogates), our encoder
keeps it as text, as the JSON encoder does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource

from otel_dask_prov import attributes as attr
from otel_dask_prov.capture.records import AttemptRecord, ComputationRecord, ExecutionRecord
from otel_dask_prov.export import otlp_protobuf
from otel_dask_prov.export.otlp_json import encode_line, resource_prefix
from otel_dask_prov.export.otlp_json_decode import ATTRIBUTES, FULL, decode_key_values
from otel_dask_prov.export.span_data import SCOPE, SpanData, to_readable_span
from tests.support.span_batches import recorded_batches, synthetic_batches
from tests.support.synthetic_traces import SyntheticTask, map_reduce

RESOURCE = {attr.SERVICE_NAME: "dask-worker", "service.namespace": "tests", attr.PROCESS_PID: 4242,
            "host.arch": ["x86_64"], "probe.ratio": 0.5, "probe.enabled": True}
T0 = 1_795_000_000_000_000_000
TRACE = 0x0123456789ABCDEF0123456789ABCDEF


def sdk_request(resource_attributes: Mapping[str, Any], spans: Sequence[SpanData]) -> bytes:
    """What the SDK's OTLP exporters send for *spans*."""
    resource = Resource(dict(resource_attributes))
    return bytes(encode_spans([to_readable_span(span, resource) for span in spans]).SerializeToString())


def our_request(resource_attributes: Mapping[str, Any], spans: Sequence[SpanData]) -> bytes:
    resource = Resource(dict(resource_attributes))  # the attributes a process's resource keeps
    return otlp_protobuf.encode_request(otlp_protobuf.resource_prefix(resource.attributes), spans)


def assert_same_request(resource_attributes: Mapping[str, Any], spans: Sequence[SpanData]) -> None:
    ours = our_request(resource_attributes, spans)
    theirs = sdk_request(resource_attributes, spans)
    # the messages first: a difference reads better as fields than as bytes
    assert ExportTraceServiceRequest.FromString(ours) == ExportTraceServiceRequest.FromString(theirs) \
        or _has_nan(spans)  # NaN != NaN in message comparison; the bytes below still must match
    assert ours == theirs


def _has_nan(spans: Sequence[SpanData]) -> bool:
    return any(isinstance(value, float) and math.isnan(value)
               for span in spans for value in span.attributes.values())


def decoded(ours: bytes) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(ours)


def span(attributes: Mapping[str, Any] | None = None, **fields: Any) -> SpanData:
    values: dict[str, Any] = dict(name="task inc", trace_id=TRACE, span_id=0x1122334455667788,
                                  parent_span_id=0x0102030405060708, start=T0, end=T0 + 1_500_000,
                                  attributes=attributes if attributes is not None else {})
    values.update(fields)
    return SpanData(**values)


# -- the spans the plugins make ------------------------------------------------------------
def test_synthetic_traces_encode_as_the_sdk_encodes_them() -> None:
    tasks = [*map_reduce(300, fan_in=6), SyntheticTask("fail-1", failures=2, retries=1),
             SyntheticTask("div-1", failures=1), SyntheticTask("inc-x", ("div-1",)),
             SyntheticTask("slow-1", lost_worker=True)]
    batches = synthetic_batches(tasks, workers=3, seed=7, batch=200)
    assert sum(len(spans) for _, spans in batches) > 900
    kinds = {span.attributes[attr.RECORD_TYPE] for _, spans in batches for span in spans}
    assert kinds == {attr.RECORD_COMPUTATION, attr.RECORD_TASK_ATTEMPT, attr.RECORD_TASK_EXECUTION,
                     attr.RECORD_TASK_PHASE}
    assert any(span.error for _, spans in batches for span in spans)
    assert any(span.links for _, spans in batches for span in spans)
    for resource, spans in batches:
        assert_same_request(resource, spans)


@pytest.mark.parametrize("batch", recorded_batches(), ids=lambda batch: f"{len(batch[1])}-spans")
def test_the_plugins_recorded_runs_encode_as_the_sdk_encodes_them(batch: tuple[dict[str, Any], list[SpanData]]) -> None:
    resource, spans = batch
    assert_same_request(resource, spans)


def test_every_field_of_every_record_encodes_as_the_sdk_encodes_it() -> None:
    computation = ComputationRecord(TRACE, 0xAA, None, 1_795_000_000.0, "Client-1", 3, ["inc-1", ("x", 0)])
    computation.end = 1_795_000_002.5
    computation.code, computation.code_filename, computation.code_lineno = "x = 1\n", "/tmp/ipykernel_1/2.py", 3
    computation.dask_span_id, computation.dask_span_name = "span-1", "default"
    computation.erred_tasks, computation.unfinished = 1, True
    computation.prefixes = {"inc": None, "sum": None}
    computation.extra = {"dask.client.versions": ["2024.1", "2024.1"], "dask.client.python": "3.11"}

    attempt = AttemptRecord(TRACE, 0xAA, "inc-1", "inc", "inc-1", 2, 1_795_000_000.25)
    attempt.span_id, attempt.end = 0xBB, 1_795_000_001.0
    attempt.run_id, attempt.state, attempt.outcome = 17, "erred", attr.OUTCOME_ERROR
    attempt.worker, attempt.worker_name = "tcp://10.0.0.2:40000", "worker-ü"
    attempt.result_type, attempt.nbytes, attempt.thread = "int", 28, 140_000_000_000_123
    attempt.startstops = [{"action": "compute", "start": 1.0, "stop": 1.5},
                          {"action": "transfer", "start": 0.5, "stop": 0.75, "source": "tcp://x"},
                          {"action": "compute", "start": 2.0, "stop": 2.25}]
    attempt.dependencies = [("a-1", (TRACE, 0xCC)), (("b", 1), None)]
    attempt.priority, attempt.retries_left = (0, 1, -2), 3
    attempt.exception_text = "ZeroDivisionError('division by zero')"
    attempt.traceback_text = "Traceback (most recent call last):\n  ...\n"
    attempt.blame, attempt.previous, attempt.rerun_reason = "inc-1", (TRACE, 0xDD), "retry"
    attempt.succeeded_after_retry = True
    attempt.transitions = [(1_795_000_000.3, "waiting", "processing", None),
                           (1_795_000_000.9, "processing", "erred", "task-erred-1")]

    execution = ExecutionRecord(TRACE, "inc-1", "inc", 17, "tcp://10.0.0.2:40000", None,
                                attr.OUTCOME_ERROR,
                                [{"action": "compute", "start": 1_795_000_000.5, "stop": 1_795_000_000.75},
                                 {"action": "disk-read", "start": 1_795_000_000.4,
                                  "stop": 1_795_000_000.45}],
                                1_795_000_000.4, 1_795_000_000.75)
    execution.thread_id, execution.thread_native_id, execution.thread_name = 1, 2, "Dask-Worker-Threads'-0"
    execution.result_type, execution.nbytes = "None", 0
    execution.exception_type, execution.exception_message = "ValueError", "bad ✗"
    execution.stacktrace = "Traceback ..."
    execution.extra = {"code.function.name": "inc", "dask.task.io.read_bytes": 4096,
                       "dask.task.files.opened": ["/data/a.csv", "/data/b.csv"],
                       "dask.task.files.modes": [], "dask.task.cpu.user": 0.0125}

    spans = [*computation.to_span_data(), *attempt.to_span_data(), *execution.to_span_data()]
    assert len(spans) == 5
    assert_same_request(RESOURCE, spans)


# -- every value the SDK accepts -----------------------------------------------------------
VALUES: dict[str, Any] = {
    "text": "inc-1",
    "empty-text": "",
    "unicode": "naïve ✓ 数据 \U0001f680",
    "long-text": "x" * 300,
    "very-long-text": "y" * 20_000,
    "true": True,
    "false": False,
    "zero": 0,
    "small": 127,
    "two-bytes": 128,
    "negative": -1,
    "int64-min": -(2**63),
    "int64-max": 2**63 - 1,
    "thread-id": 140_000_000_000_000,
    "float": 1.5,
    "float-zero": 0.0,
    "negative-zero": -0.0,
    "tiny": 5e-324,
    "huge": 1.7976931348623157e308,
    "nan": math.nan,
    "inf": math.inf,
    "minus-inf": -math.inf,
    "bytes": b"\x00\xff\x10",
    "empty-bytes": b"",
    "none": None,
    "strings": ["a", "", "ü" * 70],
    "strings-tuple": ("a", "b"),
    "bools": [True, False],
    "ints": [0, -5, 2**40, 2**63 - 1],
    "floats": [0.25, math.inf, -1e-300],
    "byte-strings": [b"a", b""],
    "empty-list": [],
    "empty-tuple": (),
    "nested": [["a"], [1, 2], []],
    "mapping": {"a": 1, "b": ["x"], "": "empty key"},
    "": "empty name",
    "ключ": "unicode name",
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_each_value_type_on_a_span(name: str) -> None:
    assert_same_request(RESOURCE, [span({name: VALUES[name]})])


@pytest.mark.parametrize("name", sorted(VALUES))
def test_each_value_type_on_events_links_and_the_resource(name: str) -> None:
    value = VALUES[name]
    spans = [span({"first": 1, name: value}, events=[("event", T0 + 1, {name: value})],
                  links=[(TRACE, 0x99, {name: value, attr.LINK_TYPE: attr.LINK_DEPENDENCY})])]
    assert_same_request({**RESOURCE, name: value} if not isinstance(value, Mapping) else RESOURCE, spans)


def test_all_the_values_on_one_span_and_the_caches_of_repeated_values() -> None:
    repeated = {attr.TASK_PREFIX: "inc", attr.TASK_STATE: "memory", attr.WORKER_NAME: "é" * 200}
    spans = [span({**VALUES, **repeated}, span_id=n + 1) for n in range(3)]  # encoded, then remembered
    spans.append(span({attr.TASK_PREFIX: "sum", **VALUES}, span_id=9))
    assert_same_request(RESOURCE, spans)


@pytest.mark.parametrize("case", [
    dict(parent_span_id=None),
    dict(parent_span_id=0),
    dict(error=""),
    dict(error="ZeroDivisionError: division by zero"),
    dict(error="ü" * 200),
    dict(name=""),
    dict(name="täsk ✓ " * 40),
    dict(trace_id=1, span_id=1),
    dict(trace_id=2**128 - 1, span_id=2**64 - 1, parent_span_id=2**64 - 1),
    dict(start=T0, end=T0),
    dict(start=1, end=2),
    dict(events=[("processing", T0, {attr.TRANSITION_FROM: "waiting"}), ("memory", T0 + 5, {}),
                 ("", T0 + 6, {"x": 1})]),
    dict(links=[(TRACE, 1, {}), (TRACE + 1, 2**64 - 1, {attr.LINK_TYPE: attr.LINK_PREVIOUS_ATTEMPT,
                                                          attr.TASK_KEY: "inc-1"})]),
    dict(attributes={}, events=[], links=[]),
], ids="-".join)
def test_span_fields(case: dict[str, Any]) -> None:
    assert_same_request(RESOURCE, [span(**{"attributes": {"a": "b"}, **case})])


def test_a_large_batch_has_multi_byte_lengths() -> None:
    spans = [span({attr.TASK_KEY: f"inc-{n}", "blob": "z" * (n * 50)}, span_id=n + 1) for n in range(400)]
    ours = our_request(RESOURCE, spans)
    assert len(ours) > 2**21  # three-byte varint lengths of the ResourceSpans and ScopeSpans
    assert ours == sdk_request(RESOURCE, spans)


def test_the_request_holds_one_resource_and_our_scope() -> None:
    request = decoded(our_request(RESOURCE, [span(), span(span_id=5)]))
    (resource_spans,) = request.resource_spans
    (scope_spans,) = resource_spans.scope_spans
    assert (scope_spans.scope.name, scope_spans.scope.version) == (SCOPE.name, SCOPE.version)
    assert len(scope_spans.spans) == 2
    first = scope_spans.spans[0]
    assert first.kind == first.SPAN_KIND_INTERNAL
    assert first.flags == 0x100  # the parent is known not to be remote


def test_no_spans_make_an_empty_request() -> None:
    assert otlp_protobuf.encode_request(otlp_protobuf.resource_prefix(RESOURCE), []) == b""
    assert sdk_request(RESOURCE, []) == b""


# -- where the SDK gives up ----------------------------------------------------------------
def _value(any_value: AnyValue) -> Any:
    return getattr(any_value, any_value.WhichOneof("value") or "string_value")


def test_what_the_sdk_drops_is_kept_as_text() -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    attributes = {"above-int64": 2**63, "below-int64": -(2**63) - 1, "object": Odd(), "ok": 1}
    request = decoded(our_request(RESOURCE, [span(attributes)]))
    values = {item.key: _value(item.value)
              for item in request.resource_spans[0].scope_spans[0].spans[0].attributes}
    assert values == {"above-int64": str(2**63), "below-int64": str(-(2**63) - 1), "object": "odd", "ok": 1}


def test_the_json_encoder_keeps_integers_beyond_int64_as_text_too() -> None:
    attributes = {"above-int64": 2**63, "below-int64": -(2**63) - 1, "ok": 1, "list": [2**64, 2]}
    line = encode_line(resource_prefix(RESOURCE), [span(attributes)])
    raw = FULL.decode(line).resource_spans[0].scopes()[0].spans[0]
    values = decode_key_values(ATTRIBUTES.decode(raw.attributes))
    assert values["above-int64"] == str(2**63) and values["below-int64"] == str(-(2**63) - 1)
    assert values["ok"] == 1
    assert list(values["list"]) == [str(2**64), 2]


def test_lone_surrogates_become_replacement_characters() -> None:
    broken = "file-\udcff.csv"  # what os.fsdecode makes of a non-UTF-8 file name
    spans = [span({"path": broken, "paths": [broken], broken: "key"}, name=broken,
                  events=[(broken, T0, {})], error=broken)]
    request = decoded(our_request({**RESOURCE, "r": broken}, spans))
    fixed = "file-\ufffd.csv"
    (span_message,) = request.resource_spans[0].scope_spans[0].spans
    assert span_message.name == fixed
    assert span_message.status.message == fixed
    assert span_message.events[0].name == fixed
    values = {item.key: item.value for item in span_message.attributes}
    assert values["path"].string_value == fixed
    assert values["paths"].array_value.values[0].string_value == fixed
    assert values[fixed].string_value == "key"
    resource = {item.key: item.value.string_value for item in request.resource_spans[0].resource.attributes}
    assert resource["r"] == fixed


# -- any mix of accepted values ------------------------------------------------------------
_scalars = st.one_of(
    st.text(max_size=40), st.booleans(), st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.binary(max_size=20),
)
_values = st.one_of(
    _scalars, st.none(),
    st.lists(st.text(max_size=10), max_size=5), st.lists(st.integers(-(2**63), 2**63 - 1), max_size=5),
    st.lists(st.floats(), max_size=5), st.lists(st.booleans(), max_size=5),
)


@settings(max_examples=150, deadline=None)
@given(attributes=st.dictionaries(st.text(max_size=20), _values, max_size=8),
       event_attributes=st.dictionaries(st.sampled_from([attr.TRANSITION_FROM, "a", "b"]), _values,
                                        max_size=3),
       name=st.text(max_size=30), error=st.none() | st.text(max_size=30),
       parent=st.none() | st.integers(0, 2**64 - 1))
def test_any_mix_of_accepted_values(attributes: dict[str, Any], event_attributes: dict[str, Any],
                                    name: str, error: str | None, parent: int | None) -> None:
    spans = [span(attributes, name=name, error=error, parent_span_id=parent,
                  events=[("e", T0, event_attributes)], links=[(TRACE, 3, event_attributes)])]
    assert our_request(RESOURCE, spans) == sdk_request(RESOURCE, spans)
