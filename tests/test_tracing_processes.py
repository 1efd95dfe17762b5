"""Tracing real ``dask scheduler`` / ``dask worker`` processes started with ``--preload otel_dask_prov``.

One cluster runs a known workload (a delayed tree, a failing task and its
dependent, a task that succeeds on retry); the tests below read the local OTLP
JSON files the processes wrote and check the trace model on them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import dask
import pytest
from distributed import Client

from otel_dask_prov import attributes as attr
from tests.support.cluster import DaskProcesses
from tests.support.traces import Span, assert_retry, read_spans
from tests.support.workloads import add, div, fail_once, inc, slow, total

pytestmark = pytest.mark.slow


class Workload:
    """What the module's cluster ran, and the spans it produced."""

    def __init__(self, workdir: Path) -> None:
        self.cluster = DaskProcesses(workdir, n_workers=2)
        self.tree_keys: list[str] = []
        self.failed_key = ""
        self.blamed_key = ""
        self.retried_key = ""
        self.spans: list[Span] = []

    def run(self) -> None:
        marker = self.cluster.workdir / "fail-once.marker"
        with self.cluster:
            # The client sends its calling code only when asked to (nframes > 0).
            with self.cluster.client() as client, dask.config.set(
                {"distributed.diagnostics.computations.nframes": 1}
            ):
                self._submit(client, marker)
            self.cluster.stop()
        self.spans = read_spans([self.cluster.trace_dir])

    def _submit(self, client: Client, marker: Path) -> None:
        leaves = [dask.delayed(inc)(i, dask_key_name=f"inc-{i}") for i in range(4)]
        pairs = [
            dask.delayed(add)(leaves[0], leaves[1], dask_key_name="add-0"),
            dask.delayed(add)(leaves[2], leaves[3], dask_key_name="add-1"),
        ]
        tree = dask.delayed(total)(pairs, dask_key_name="total")
        assert client.compute(tree).result() == 1 + 2 + 3 + 4
        self.tree_keys = [f"inc-{i}" for i in range(4)] + ["add-0", "add-1", "total"]

        failed = client.submit(div, 1, 0, key="div-by-zero")
        blamed = client.submit(inc, failed, key="inc-of-failure")
        with pytest.raises(ZeroDivisionError):
            blamed.result()
        self.failed_key, self.blamed_key = "div-by-zero", "inc-of-failure"

        retried = client.submit(fail_once, str(marker), 42, key="flaky", retries=1)
        assert retried.result() == 42
        self.retried_key = "flaky"

    def by_key(self, record_type: str) -> dict[str, list[Span]]:
        grouped: dict[str, list[Span]] = defaultdict(list)
        for span in self.spans:
            if span.kind == record_type:
                grouped[span.key or ""].append(span)
        for spans in grouped.values():
            spans.sort(key=lambda span: span.attributes.get(attr.TASK_ATTEMPT, 0))
        return grouped


@pytest.fixture(scope="module")
def workload(tmp_path_factory: pytest.TempPathFactory) -> Workload:
    run = Workload(tmp_path_factory.mktemp("preload-cluster"))
    run.run()
    return run


def test_every_task_has_exactly_one_span_per_attempt(workload: Workload) -> None:
    attempts = workload.by_key(attr.RECORD_TASK_ATTEMPT)
    expected = dict.fromkeys(workload.tree_keys, 1)
    expected.update({workload.failed_key: 1, workload.blamed_key: 1, workload.retried_key: 2})
    assert {key: len(spans) for key, spans in attempts.items()} == expected
    for spans in attempts.values():
        assert [s.attributes[attr.TASK_ATTEMPT] for s in spans] == list(range(1, len(spans) + 1))


def test_a_computation_is_one_trace_under_one_root(workload: Workload) -> None:
    roots = [s for s in workload.spans if s.kind == attr.RECORD_COMPUTATION]
    assert len(roots) == 4  # one per submission: the tree, div, its dependent, the retried task
    by_id = {s.span_id: s for s in workload.spans}
    tree_root = next(r for r in roots if r.attributes[attr.COMPUTATION_TASK_COUNT] == 7)
    tree_spans = [s for s in workload.spans if s.trace_id == tree_root.trace_id]
    assert {s.key for s in tree_spans if s.kind == attr.RECORD_TASK_ATTEMPT} == set(
        workload.tree_keys
    )
    for span in tree_spans:
        if span is not tree_root:
            assert span.parent_span_id in by_id, f"{span.name} has no parent in the trace"
    assert tree_root.parent_span_id is None
    assert tree_root.service == attr.SCHEDULER_SERVICE
    assert "client.compute(tree)" in tree_root.attributes[attr.COMPUTATION_CODE]


def test_worker_execution_spans_are_children_of_their_attempt_span(workload: Workload) -> None:
    by_id = {s.span_id: s for s in workload.spans}
    executions = [s for s in workload.spans if s.kind == attr.RECORD_TASK_EXECUTION]
    assert len(executions) == 7 + 1 + 2  # the tree, div (inc never ran), flaky twice
    for execution in executions:
        parent = by_id[execution.parent_span_id]
        assert parent.kind == attr.RECORD_TASK_ATTEMPT
        assert parent.key == execution.key
        assert parent.trace_id == execution.trace_id
        assert parent.attributes[attr.TASK_RUN_ID] == execution.attributes[attr.TASK_RUN_ID]
        assert parent.attributes[attr.WORKER_ADDRESS] == execution.attributes[attr.WORKER_ADDRESS]
        assert execution.service == attr.WORKER_SERVICE
        assert execution.attributes[attr.THREAD_NAME]
        if parent.attributes[attr.TASK_OUTCOME] != attr.OUTCOME_RETRIED:
            # the scheduler learns the thread only from a finished or erred run
            assert execution.attributes[attr.THREAD_ID] == parent.attributes[attr.THREAD_ID]
        phases = [s for s in workload.spans if s.parent_span_id == execution.span_id]
        assert "compute" in {p.attributes[attr.PHASE_ACTION] for p in phases}
        for phase in phases:
            assert execution.start <= phase.start <= phase.end <= execution.end


def test_dependency_links_point_at_the_attempt_that_produced_the_input(workload: Workload) -> None:
    attempts = workload.by_key(attr.RECORD_TASK_ATTEMPT)
    total_span = attempts["total"][0]
    assert sorted(total_span.attributes[attr.TASK_DEPENDENCIES]) == ["add-0", "add-1"]
    links = {link["attributes"][attr.TASK_KEY]: link for link in total_span.links}
    for key in ("add-0", "add-1"):
        producer = attempts[key][0]
        assert links[key]["span_id"] == producer.span_id
        assert links[key]["trace_id"] == producer.trace_id
        assert links[key]["attributes"][attr.LINK_TYPE] == attr.LINK_DEPENDENCY


def test_a_failed_task_has_an_exception_event_and_error_status(workload: Workload) -> None:
    attempt = workload.by_key(attr.RECORD_TASK_ATTEMPT)[workload.failed_key][0]
    assert attempt.status_code == 2
    assert attempt.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_ERROR
    exception = next(e for e in attempt.events if e["name"] == attr.EXCEPTION_EVENT)
    assert exception["attributes"][attr.EXCEPTION_TYPE] == "ZeroDivisionError"
    assert exception["attributes"][attr.EXCEPTION_MESSAGE] == "division by zero"
    assert attr.EXCEPTION_STACKTRACE not in exception["attributes"]  # opt-in only

    blamed = workload.by_key(attr.RECORD_TASK_ATTEMPT)[workload.blamed_key][0]
    assert blamed.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_DEPENDENCY_ERROR
    assert blamed.attributes[attr.TASK_EXCEPTION_BLAME] == workload.failed_key
    assert blamed.status_code == 2


def test_a_retried_task_has_one_span_per_attempt_with_its_own_error(workload: Workload) -> None:
    first, second = workload.by_key(attr.RECORD_TASK_ATTEMPT)[workload.retried_key]
    assert_retry(first, second)
    # The scheduler never sees the first attempt's exception; the worker does.
    failed_run = next(
        s for s in workload.spans
        if s.kind == attr.RECORD_TASK_EXECUTION and s.parent_span_id == first.span_id
    )
    exception = next(e for e in failed_run.events if e["name"] == attr.EXCEPTION_EVENT)
    assert exception["attributes"][attr.EXCEPTION_TYPE] == "RuntimeError"
    assert "first attempt fails on purpose" in exception["attributes"][attr.EXCEPTION_MESSAGE]


def test_transitions_are_events_with_their_times(workload: Workload) -> None:
    attempt = workload.by_key(attr.RECORD_TASK_ATTEMPT)["total"][0]
    names = [event["name"] for event in attempt.events]
    assert names[0] == "waiting" and names[-1] == "memory" and "processing" in names
    times = [event["time"] for event in attempt.events]
    assert times == sorted(times)
    assert attempt.start <= times[0] and times[-1] <= attempt.end


def test_resources_name_the_process(workload: Workload) -> None:
    services = {s.service for s in workload.spans}
    assert services == {attr.SCHEDULER_SERVICE, attr.WORKER_SERVICE}
    for span in workload.spans:
        assert span.resource[attr.PROCESS_PID] > 0
        assert span.resource[attr.HOST_NAME]
        assert span.resource[attr.DISTRIBUTED_VERSION]
        assert span.resource[attr.SERVICE_INSTANCE_ID]


def test_nothing_went_wrong_in_tracing(workload: Workload) -> None:
    logs = workload.cluster.logs()
    assert "tracing error" not in logs
    assert "could not build spans" not in logs
    assert "spilling" not in logs


def test_a_worker_killed_mid_task_leaves_a_recorded_loss_and_a_new_attempt(tmp_path: Path) -> None:
    cluster = DaskProcesses(tmp_path, n_workers=2)
    with cluster:
        with cluster.client() as client:
            future = client.submit(slow, 7, 3.0, key="slow-task")
            victim = None
            while victim is None:
                processing = client.processing()
                victim = next((w for w, keys in processing.items() if "slow-task" in keys), None)
            info = client.scheduler_info()["workers"][victim]
            cluster.kill_worker(int(str(info["name"]).split("-")[1]))
            assert future.result(timeout=60) == 7
        cluster.stop()
    attempts = sorted(
        (s for s in read_spans([cluster.trace_dir])
         if s.kind == attr.RECORD_TASK_ATTEMPT and s.key == "slow-task"),
        key=lambda s: s.attributes[attr.TASK_ATTEMPT],
    )
    assert [a.attributes[attr.TASK_OUTCOME] for a in attempts] == [
        attr.OUTCOME_WORKER_LOST, attr.OUTCOME_SUCCESS]
    lost, rerun = attempts
    assert lost.attributes[attr.WORKER_ADDRESS] == victim
    assert lost.attributes[attr.WORKER_NAME] == info["name"]
    assert rerun.attributes[attr.WORKER_ADDRESS] != victim
    assert rerun.attributes[attr.TASK_RERUN_REASON] == "worker-lost"
    assert "tracing error" not in cluster.logs()


def _tree_spans_are_complete(spans: list[Span], tasks: int) -> None:
    executions = [s for s in spans if s.kind == attr.RECORD_TASK_EXECUTION]
    attempts = {s.span_id: s for s in spans if s.kind == attr.RECORD_TASK_ATTEMPT}
    assert len(attempts) == len(executions) == tasks
    assert all(e.parent_span_id in attempts for e in executions)


def test_workers_under_a_nanny_are_traced(tmp_path: Path) -> None:
    cluster = DaskProcesses(tmp_path, n_workers=2, nanny=True)
    with cluster:
        with cluster.client() as client:
            assert client.compute(dask.delayed(total)([dask.delayed(inc)(i) for i in range(4)])).result() == 10
        cluster.stop()
    _tree_spans_are_complete(read_spans([cluster.trace_dir]), tasks=5)
    assert "tracing error" not in cluster.logs()


def test_preload_and_its_options_from_the_dask_config(tmp_path: Path) -> None:
    trace_dir = tmp_path / "from-preload-argv"
    config_env = {
        "DASK_DISTRIBUTED__SCHEDULER__PRELOAD": '["otel_dask_prov"]',
        "DASK_DISTRIBUTED__SCHEDULER__PRELOAD_ARGV": f'["--otel-output-dir", "{trace_dir}"]',
        "DASK_DISTRIBUTED__WORKER__PRELOAD": '["otel_dask_prov"]',
        "DASK_DISTRIBUTED__WORKER__PRELOAD_ARGV": f'["--otel-output-dir", "{trace_dir}"]',
    }
    cluster = DaskProcesses(tmp_path / "run", n_workers=1, preload=False, env=config_env)
    with cluster:
        with cluster.client() as client:
            assert client.compute(dask.delayed(total)([dask.delayed(inc)(i) for i in range(3)])).result() == 6
        cluster.stop()
    assert not cluster.trace_dir.exists()  # the preload option won over OTEL_DASK_PROV_OUTPUT_DIR
    _tree_spans_are_complete(read_spans([trace_dir]), tasks=4)
