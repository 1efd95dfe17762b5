"""The plugins at work, in one process: quick examples of what they record.

``gen_cluster`` (from ``distributed.utils_test``) runs a scheduler and two
workers on the test's own event loop, with a client. Each test registers the
plugins the way a user would::

    await client.register_plugin(TracingSchedulerPlugin(output_dir="traces"))
    await client.register_plugin(TracingWorkerPlugin(output_dir="traces"))

runs Dask's toy tasks (``inc``, ``slowinc``, ``div``), closes the cluster (each
plugin writes its last spans when its server closes) and reads the OTLP JSON
lines files. ``gen_cluster`` also checks, after every test, that no thread,
process or connection was left behind: the plugins' export threads included.

The same behaviour on real ``dask scheduler``/``dask worker`` processes is in
``test_tracing_processes.py``; these start no process, so they are the quick
check to run while changing a plugin.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dask
import pytest
from distributed import Client, Scheduler, Worker
from distributed.utils_test import async_poll_for, captured_logger, div, gen_cluster, inc, slowinc

from otel_dask_prov import TracingSchedulerPlugin, TracingWorkerPlugin
from otel_dask_prov import attributes as attr
from otel_dask_prov.capture import task_thread
from tests.support.traces import Span, assert_retry, read_spans

PLUGIN = TracingSchedulerPlugin.name
"""The name both plugins are registered under (``otel-dask-prov``)."""


# ---------------------------------------------------------------------------
# How a test traces its cluster, and reads what was recorded
# ---------------------------------------------------------------------------
async def trace_cluster(client: Client, output_dir: Path) -> None:
    """Register both plugins: every computation from now on is traced into *output_dir*."""
    await client.register_plugin(TracingSchedulerPlugin(output_dir=str(output_dir)))
    await client.register_plugin(TracingWorkerPlugin(output_dir=str(output_dir)))


async def recorded_spans(client: Client, scheduler: Scheduler, workers: list[Worker],
                         output_dir: Path) -> list[Span]:
    """Close the cluster, so that each plugin writes its last spans, and read them all.

    Before closing, every plugin must have counted no tracing error.
    """
    plugins = [scheduler.plugins[PLUGIN], *(worker.plugins[PLUGIN] for worker in workers)]
    assert [plugin.errors for plugin in plugins] == [0] * len(plugins)
    await client.close()
    for worker in workers:
        await worker.close()
    await scheduler.close()
    return read_spans([output_dir])


def of_kind(spans: list[Span], kind: str) -> list[Span]:
    return [span for span in spans if span.kind == kind]


def attempts_by_key(spans: list[Span]) -> dict[str, list[Span]]:
    """Each task key's attempt spans, in attempt order."""
    attempts: dict[str, list[Span]] = {}
    for span in sorted(of_kind(spans, attr.RECORD_TASK_ATTEMPT),
                       key=lambda span: span.attributes[attr.TASK_ATTEMPT]):
        attempts.setdefault(span.key or "", []).append(span)
    return attempts


TREE_KEYS = ["inc-0", "inc-1", "inc-2", "inc-3", "add-0", "add-1", "total"]


def submit_tree(client: Client) -> Any:
    """``total = (inc-0 + inc-1) + (inc-2 + inc-3)`` as one graph: one computation."""
    leaves = [dask.delayed(inc)(i, dask_key_name=f"inc-{i}") for i in range(4)]
    pairs = [dask.delayed(sum)(leaves[:2], dask_key_name="add-0"),
             dask.delayed(sum)(leaves[2:], dask_key_name="add-1")]
    return client.compute(dask.delayed(sum)(pairs, dask_key_name="total"))


@pytest.fixture(autouse=True)
def no_tracing_errors_are_logged() -> Iterator[None]:
    """Fail a test whose plugins logged a tracing error, or raised into Dask.

    Dask catches an exception a plugin raises and logs it at INFO (``Plugin
    failed with exception``); the plugins guard every hook and log their own
    errors at WARNING. Either would be a bug.
    """
    with captured_logger("otel_dask_prov", logging.WARNING) as ours, \
            captured_logger("distributed", logging.INFO) as dasks:
        yield
    assert ours.getvalue() == ""
    assert re.findall(r"^.*plugin.* failed.*$", dasks.getvalue(), re.IGNORECASE | re.MULTILINE) == []


# ---------------------------------------------------------------------------
# The trace model
# ---------------------------------------------------------------------------
@gen_cluster(client=True)
async def test_each_task_attempt_is_one_span_and_each_computation_one_trace(
    c: Client, s: Scheduler, a: Worker, b: Worker, tmp_path: Path
) -> None:
    await trace_cluster(c, tmp_path)
    assert await submit_tree(c) == 1 + 2 + 3 + 4
    assert await c.submit(inc, 10, key="inc-alone") == 11

    spans = await recorded_spans(c, s, [a, b], tmp_path)

    roots = of_kind(spans, attr.RECORD_COMPUTATION)
    assert len(roots) == 2 and len({root.trace_id for root in roots}) == 2
    attempts = attempts_by_key(spans)
    assert {key: len(spans) for key, spans in attempts.items()} == dict.fromkeys([*TREE_KEYS, "inc-alone"], 1)
    root_of = {root.trace_id: root for root in roots}
    for (attempt,) in attempts.values():
        assert attempt.parent_span_id == root_of[attempt.trace_id].span_id
        assert attempt.service == attr.SCHEDULER_SERVICE
    tree_trace = attempts["total"][0].trace_id
    assert {attempts[key][0].trace_id for key in TREE_KEYS} == {tree_trace}
    assert root_of[tree_trace].attributes[attr.COMPUTATION_TASK_COUNT] == len(TREE_KEYS)


@gen_cluster(client=True)
async def test_the_workers_execute_span_hangs_under_the_schedulers_attempt_span(
    c: Client, s: Scheduler, a: Worker, b: Worker, tmp_path: Path
) -> None:
    await trace_cluster(c, tmp_path)
    assert await submit_tree(c) == 10

    spans = await recorded_spans(c, s, [a, b], tmp_path)

    by_id = {span.span_id: span for span in spans}
    executions = of_kind(spans, attr.RECORD_TASK_EXECUTION)
    assert sorted(span.key or "" for span in executions) == sorted(TREE_KEYS)
    for execution in executions:
        attempt = by_id[execution.parent_span_id or ""]
        assert attempt.kind == attr.RECORD_TASK_ATTEMPT
        assert (attempt.key, attempt.trace_id) == (execution.key, execution.trace_id)
        assert attempt.attributes[attr.TASK_RUN_ID] == execution.attributes[attr.TASK_RUN_ID]
        assert attempt.attributes[attr.WORKER_ADDRESS] == execution.attributes[attr.WORKER_ADDRESS]
        assert execution.attributes[attr.WORKER_ADDRESS] in {a.address, b.address}
        assert execution.service == attr.WORKER_SERVICE
        phases = [span for span in spans if span.parent_span_id == execution.span_id]
        assert "compute" in {phase.attributes[attr.PHASE_ACTION] for phase in phases}


@gen_cluster(client=True)
async def test_dependency_links_point_at_the_attempt_that_produced_each_input(
    c: Client, s: Scheduler, a: Worker, b: Worker, tmp_path: Path
) -> None:
    await trace_cluster(c, tmp_path)
    assert await submit_tree(c) == 10

    attempts = attempts_by_key(await recorded_spans(c, s, [a, b], tmp_path))

    (total,) = attempts["total"]
    assert sorted(total.attributes[attr.TASK_DEPENDENCIES]) == ["add-0", "add-1"]
    links = {link["attributes"][attr.TASK_KEY]: link for link in total.links}
    assert sorted(links) == ["add-0", "add-1"]
    for key, link in links.items():
        (producer,) = attempts[key]
        assert (link["trace_id"], link["span_id"]) == (producer.trace_id, producer.span_id)
        assert link["attributes"][attr.LINK_TYPE] == attr.LINK_DEPENDENCY
    assert attempts["inc-0"][0].links == []  # no inputs, no links


# ---------------------------------------------------------------------------
# Failures and retries
# ---------------------------------------------------------------------------
@gen_cluster(client=True)
async def test_an_erred_task_has_an_exception_event_and_its_dependent_names_the_culprit(
    c: Client, s: Scheduler, a: Worker, b: Worker, tmp_path: Path
) -> None:
    await trace_cluster(c, tmp_path)
    failed = c.submit(div, 1, 0, key="div-by-zero")
    dependent = c.submit(inc, failed, key="inc-of-failure")
    with pytest.raises(ZeroDivisionError):
        await dependent

    spans = await recorded_spans(c, s, [a, b], tmp_path)

    (attempt,) = attempts_by_key(spans)["div-by-zero"]
    assert attempt.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_ERROR
    assert attempt.status_code == 2  # ERROR
    (exception,) = [event for event in attempt.events if event["name"] == attr.EXCEPTION_EVENT]
    assert exception["attributes"][attr.EXCEPTION_TYPE] == "ZeroDivisionError"
    assert exception["attributes"][attr.EXCEPTION_MESSAGE] == "division by zero"
    assert attr.EXCEPTION_STACKTRACE not in exception["attributes"]  # tracebacks are opt-in

    (blamed,) = attempts_by_key(spans)["inc-of-failure"]
    assert blamed.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_DEPENDENCY_ERROR
    assert blamed.attributes[attr.TASK_EXCEPTION_BLAME] == "div-by-zero"
    assert blamed.status_code == 2
    assert [span.key for span in of_kind(spans, attr.RECORD_TASK_EXECUTION)] == ["div-by-zero"]


@gen_cluster(client=True)
async def test_a_retried_task_has_one_span_per_attempt_linked_to_the_previous_one(
    c: Client, s: Scheduler, a: Worker, b: Worker, tmp_path: Path
) -> None:
    await trace_cluster(c, tmp_path)
    marker = tmp_path / "failed-once"

    def fail_once(value: int) -> int:
        if not marker.exists():
            marker.touch()
            raise RuntimeError("the first attempt fails on purpose")
        return value

    assert await c.submit(fail_once, 42, key="flaky", retries=1) == 42

    spans = await recorded_spans(c, s, [a, b], tmp_path)

    first, second = attempts_by_key(spans)["flaky"]
    assert_retry(first, second)
    (previous,) = [link for link in second.links
                   if link["attributes"][attr.LINK_TYPE] == attr.LINK_PREVIOUS_ATTEMPT]
    assert previous["span_id"] == first.span_id
    # The scheduler never sees the first attempt's exception; the worker's execute span has it.
    (failed_run,) = [span for span in of_kind(spans, attr.RECORD_TASK_EXECUTION)
                     if span.parent_span_id == first.span_id]
    (exception,) = [event for event in failed_run.events if event["name"] == attr.EXCEPTION_EVENT]
    assert exception["attributes"][attr.EXCEPTION_TYPE] == "RuntimeError"


# ---------------------------------------------------------------------------
# Memory: the plugins hold a key only as long as Dask does
# ---------------------------------------------------------------------------
@gen_cluster(client=True)
async def test_in_flight_tables_are_empty_once_dask_forgets_the_keys(
    c: Client, s: Scheduler, a: Worker, b: Worker, tmp_path: Path
) -> None:
    await trace_cluster(c, tmp_path)
    plugin = s.plugins[PLUGIN]
    futures = c.map(slowinc, range(20), delay=0.01)
    assert sum(await c.gather(futures)) == sum(range(1, 21))
    assert len(plugin._keys) == 20  # held while the client holds the futures

    del futures
    await async_poll_for(lambda: not s.tasks, timeout=5)  # releases reach the scheduler asynchronously

    assert plugin._keys == {}
    assert plugin._open_computations == {}
    assert task_thread.observations == {}  # the workers' table of executing threads
    spans = await recorded_spans(c, s, [a, b], tmp_path)
    assert len(of_kind(spans, attr.RECORD_TASK_ATTEMPT)) == 20
