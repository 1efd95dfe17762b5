"""In-process use: ``otel_dask_prov.install(client)`` on a LocalCluster."""

from __future__ import annotations

import time
from pathlib import Path

import dask
import dask.array as da
import pytest
from distributed import Client, LocalCluster
from opentelemetry.sdk.trace import TracerProvider

import otel_dask_prov
from otel_dask_prov import attributes as attr
from otel_dask_prov.capture import task_thread
from tests.support.trace_files import trace_files
from tests.support.traces import read_spans, summarize
from tests.support.workloads import inc


def _cluster(processes: bool) -> LocalCluster:
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=processes,
                        dashboard_address=None)


def test_install_traces_a_local_cluster_of_processes(tmp_path: Path) -> None:
    with _cluster(processes=True) as cluster, Client(cluster) as client:
        otel_dask_prov.install(client, output_dir=str(tmp_path))
        assert da.ones((40, 40), chunks=(10, 10)).sum().compute() == 1600
    spans = read_spans([tmp_path])
    counts = summarize(spans)
    attempts = counts[attr.RECORD_TASK_ATTEMPT]
    assert counts[attr.RECORD_COMPUTATION] == 1
    assert attempts >= 16 + 1  # 16 chunks, then the reduction tree
    assert counts[attr.RECORD_TASK_EXECUTION] == attempts
    assert len({span.trace_id for span in spans}) == 1
    files = sorted(path.name.split("-")[1] for path in trace_files(tmp_path))
    assert files == ["scheduler", "worker", "worker"]  # one file per process


def test_plugin_state_is_empty_once_dask_forgets_the_tasks(tmp_path: Path) -> None:
    with _cluster(processes=False) as cluster, Client(cluster) as client:
        otel_dask_prov.install(client, output_dir=str(tmp_path))
        for _ in range(3):
            futures = client.map(inc, range(200), pure=False)
            assert sum(client.gather(futures)) == sum(range(1, 201))
            del futures
        plugin = cluster.scheduler.plugins["otel-dask-prov"]
        deadline = time.monotonic() + 10
        while (plugin._keys or plugin._open_computations) and time.monotonic() < deadline:
            time.sleep(0.05)  # releases reach the scheduler asynchronously
        assert plugin._keys == {}
        assert plugin._open_computations == {}
        assert plugin.errors == 0
        assert task_thread.observations == {}
    assert summarize(read_spans([tmp_path]))[attr.RECORD_TASK_ATTEMPT] == 600


@pytest.mark.parametrize(
    "options",
    [{"enabled": False}, {"sampler": "always_off"}],
    ids=["disabled", "sampled-out"],
)
def test_nothing_is_written_when_tracing_is_off(tmp_path: Path, options: dict[str, object]) -> None:
    with _cluster(processes=False) as cluster, Client(cluster) as client:
        otel_dask_prov.install(client, output_dir=str(tmp_path), **options)
        assert client.submit(inc, 1).result() == 2
    assert read_spans([tmp_path]) == []


def test_a_computation_joins_the_callers_trace(tmp_path: Path) -> None:
    tracer = TracerProvider().get_tracer("my-pipeline")
    with _cluster(processes=False) as cluster, Client(cluster) as client:
        otel_dask_prov.install(client, output_dir=str(tmp_path))
        with tracer.start_as_current_span("analysis") as outer, otel_dask_prov.traced():
            assert client.compute(dask.delayed(inc)(1)).result() == 2
        outer_context = outer.get_span_context()
    root = next(s for s in read_spans([tmp_path]) if s.kind == attr.RECORD_COMPUTATION)
    assert root.trace_id == f"{outer_context.trace_id:032x}"
    assert root.parent_span_id == f"{outer_context.span_id:016x}"


def test_tracing_leaves_dasks_task_annotations_alone_and_workers_still_get_the_context(
    tmp_path: Path,
) -> None:
    """The traceparent travels in the compute-task messages, not in each TaskState's
    annotations (about 200 bytes a task on the scheduler), and a task's own
    annotations stay exactly what the user gave."""
    with LocalCluster(n_workers=0, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        otel_dask_prov.install(client, output_dir=str(tmp_path))
        plain = client.map(inc, range(3), key=["inc-a", "inc-b", "inc-c"])
        with dask.annotate(retries=1):
            annotated = client.submit(inc, 10, key="inc-annotated")
        tasks = cluster.scheduler.tasks
        while len(tasks) < 4:
            time.sleep(0.01)
        assert all(attr.ANNOTATION not in (tasks[key].annotations or {})
                   for key in ["inc-a", "inc-b", "inc-c"])
        assert tasks["inc-annotated"].annotations == {"retries": 1}

        cluster.scale(1)
        assert client.gather([*plain, annotated]) == [1, 2, 3, 11]
    spans = read_spans([tmp_path])
    roots = [span for span in spans if span.kind == attr.RECORD_COMPUTATION]
    executions = [span for span in spans if span.kind == attr.RECORD_TASK_EXECUTION]
    attempts = {span.span_id: span for span in spans if span.kind == attr.RECORD_TASK_ATTEMPT}
    assert len(roots) == 2
    assert len(executions) == 4
    assert {span.trace_id for span in executions} == {root.trace_id for root in roots}
    assert all(attempts[span.parent_span_id].trace_id == span.trace_id for span in executions)


def test_unregistering_the_scheduler_plugin_exports_its_spans_and_unwraps_dask(
        tmp_path: Path) -> None:
    with _cluster(processes=False) as cluster, Client(cluster) as client:
        otel_dask_prov.install(client, output_dir=str(tmp_path), max_export_delay=1000.0,
                               export_interval=1000.0)  # nothing exported on a schedule
        assert sum(client.gather(client.map(inc, range(50)))) == sum(range(1, 51))
        scheduler = cluster.scheduler
        plugin = scheduler.plugins["otel-dask-prov"]
        assert "_task_to_msg" in vars(scheduler)
        client.unregister_scheduler_plugin("otel-dask-prov")  # Dask does not call close()
        deadline = time.monotonic() + 10
        while plugin.pipeline.pending and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "_task_to_msg" not in vars(scheduler)  # Dask's own method again
        attempts = [span for span in read_spans([tmp_path])
                    if span.kind == attr.RECORD_TASK_ATTEMPT]
        assert len(attempts) == 50  # exported at removal, not at process exit
        assert client.submit(inc, 1).result() == 2  # and the cluster works on
