"""Traces of a Dask computation, looked up in Jaeger v2 through its query API.

Dask processes -> OTLP/gRPC -> our collector (``local.yaml``) -> Jaeger
(``jaeger.yaml``, in-memory storage).  A user opening Jaeger finds the
computation under both services, ``dask-scheduler`` and ``dask-worker``, as one
tree in which each worker's execution span hangs under the scheduler's span of
the same task attempt.  Jaeger is the session's: other tests' traces are there
too, so every lookup goes by the computation's trace id.
"""

from __future__ import annotations

from typing import Any

import pytest

from otel_dask_prov import attributes as attr
from tests.support.collector import Runner
from tests.support.jaeger import Jaeger, JaegerTrace, same_trace_id
from tests.support.pipeline import TREE_KEYS, assert_tree_trace, run_tree_into_jaeger

pytestmark = [pytest.mark.collector, pytest.mark.jaeger, pytest.mark.slow]


def tags(span: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def references(span: dict[str, Any], ref_type: str) -> list[str]:
    return [ref["spanID"] for ref in span.get("references", []) if ref["refType"] == ref_type]


@pytest.fixture(scope="module")
def computation(jaeger: Jaeger, otelcol_runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Run the tree through a collector into Jaeger; return its trace id (from the file).

    The collector is the module's own: the session's collector feeds no Jaeger.
    """
    return assert_tree_trace(run_tree_into_jaeger(jaeger, otelcol_runner, tmp_path_factory.mktemp("jaeger-pipeline")))


def jaeger_trace(jaeger: Jaeger, service: str, trace_id: str) -> JaegerTrace:
    expected_spans = 1 + 2 * len(TREE_KEYS)  # at least: root, task and execute spans
    return jaeger.wait_for_trace(
        service,
        lambda trace: same_trace_id(trace["traceID"], trace_id) and len(trace["spans"]) >= expected_spans,
    )


def test_jaeger_lists_the_scheduler_and_the_workers_as_services(jaeger: Jaeger, computation: str) -> None:
    jaeger_trace(jaeger, attr.WORKER_SERVICE, computation)
    assert {attr.SCHEDULER_SERVICE, attr.WORKER_SERVICE} <= set(jaeger.services())


@pytest.mark.parametrize("service", [attr.SCHEDULER_SERVICE, attr.WORKER_SERVICE])
def test_the_computation_is_found_under_each_service(jaeger: Jaeger, computation: str, service: str) -> None:
    trace = jaeger_trace(jaeger, service, computation)
    services = {process["serviceName"] for process in trace["processes"].values()}
    assert services == {attr.SCHEDULER_SERVICE, attr.WORKER_SERVICE}


def test_worker_spans_are_nested_under_their_task_spans(jaeger: Jaeger, computation: str) -> None:
    trace = jaeger.trace(jaeger_trace(jaeger, attr.WORKER_SERVICE, computation)["traceID"])
    spans = {span["spanID"]: span for span in trace["spans"]}
    service_of = {pid: process["serviceName"] for pid, process in trace["processes"].items()}
    (root,) = [span for span in spans.values() if span["operationName"] == attr.COMPUTATION_SPAN_NAME]
    assert service_of[root["processID"]] == attr.SCHEDULER_SERVICE
    assert not references(root, "CHILD_OF")

    executions = [
        span for span in spans.values() if tags(span)[attr.RECORD_TYPE] == attr.RECORD_TASK_EXECUTION
    ]
    assert sorted(tags(span)[attr.TASK_KEY] for span in executions) == sorted(TREE_KEYS)
    for execution in executions:
        assert service_of[execution["processID"]] == attr.WORKER_SERVICE
        (parent_id,) = references(execution, "CHILD_OF")
        task = spans[parent_id]
        assert service_of[task["processID"]] == attr.SCHEDULER_SERVICE
        assert tags(task)[attr.RECORD_TYPE] == attr.RECORD_TASK_ATTEMPT
        assert tags(task)[attr.TASK_KEY] == tags(execution)[attr.TASK_KEY]
        assert references(task, "CHILD_OF") == [root["spanID"]]


def test_dependency_links_become_follows_from_references(jaeger: Jaeger, computation: str) -> None:
    trace = jaeger.trace(jaeger_trace(jaeger, attr.WORKER_SERVICE, computation)["traceID"])
    task_spans = {
        tags(span)[attr.TASK_KEY]: span
        for span in trace["spans"]
        if tags(span)[attr.RECORD_TYPE] == attr.RECORD_TASK_ATTEMPT
    }
    producers = {task_spans[key]["spanID"] for key in ("add-0", "add-1")}
    assert set(references(task_spans["total"], "FOLLOWS_FROM")) == producers
