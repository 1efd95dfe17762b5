"""The oldest supported distributed release, started with its hyphenated commands.

``dask-scheduler --preload otel_dask_prov`` and ``dask-worker --preload
otel_dask_prov`` of distributed :data:`~tests.support.oldenv.OLDEST_DISTRIBUTED`
run from a cached virtualenv with this project installed into it; a client in
that virtualenv submits the workload of ``test_tracing_processes.py`` and the
tests below check the same trace structure on the spans the old processes wrote.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from otel_dask_prov import attributes as attr
from otel_dask_prov.demo.local_cluster import DaskProcesses
from tests.support.cluster import REPO_ROOT
from tests.support.oldenv import (
    OLDEST_DISTRIBUTED,
    OldEnvUnavailableError,
    old_distributed_env,
)
from tests.support.traces import Span, read_spans

pytestmark = pytest.mark.slow

TREE_KEYS = [f"inc-{i}" for i in range(4)] + ["add-0", "add-1", "total"]


class OldWorkload:
    """The old cluster's run: what its client saw, its spans and its logs."""

    def __init__(self, workdir: Path) -> None:
        try:
            self.env = old_distributed_env(REPO_ROOT)
        except OldEnvUnavailableError as unavailable:
            pytest.skip(str(unavailable))
        # The base launcher: no PYTHONPATH to this checkout, so the processes use
        # the project as installed in the virtualenv.
        self.cluster = DaskProcesses(
            workdir, n_workers=0, env={"PYTHONPATH": ""},
            scheduler_command=[str(self.env.dask_scheduler)],
            worker_command=[str(self.env.dask_worker)],
        )
        self.client_saw: dict[str, Any] = {}
        self.spans: list[Span] = []

    def run(self) -> None:
        with self.cluster:
            # The test process's client cannot talk to an old scheduler: the
            # virtualenv's client waits for the workers and submits the workload.
            for index in range(2):
                self.cluster.add_worker(index)
            self.client_saw = self.env.run_client(
                self.cluster.scheduler_file, self.cluster.workdir / "fail-once.marker"
            )
            self.cluster.stop()
        self.spans = read_spans([self.cluster.trace_dir])

    def attempts(self) -> dict[str, list[Span]]:
        grouped: dict[str, list[Span]] = defaultdict(list)
        for span in self.spans:
            if span.kind == attr.RECORD_TASK_ATTEMPT:
                grouped[span.key or ""].append(span)
        for spans in grouped.values():
            spans.sort(key=lambda span: span.attributes[attr.TASK_ATTEMPT])
        return grouped


@pytest.fixture(scope="module")
def old(tmp_path_factory: pytest.TempPathFactory) -> OldWorkload:
    run = OldWorkload(tmp_path_factory.mktemp("old-distributed"))
    run.run()
    return run


def test_the_old_processes_ran_the_workload_and_wrote_every_span(old: OldWorkload) -> None:
    assert old.client_saw == {
        "distributed": OLDEST_DISTRIBUTED, "tree": 10, "error": "ZeroDivisionError",
        "retried": 42,
    }
    assert {span.resource[attr.DISTRIBUTED_VERSION] for span in old.spans} == {OLDEST_DISTRIBUTED}
    assert {span.service for span in old.spans} == {attr.SCHEDULER_SERVICE, attr.WORKER_SERVICE}
    logs = old.cluster.logs()
    assert "dask-scheduler is deprecated" in logs  # the hyphenated commands really ran
    assert "tracing error" not in logs
    assert "Plugin failed" not in logs


def test_one_span_per_attempt_under_one_root_per_computation(old: OldWorkload) -> None:
    attempts = old.attempts()
    expected = dict.fromkeys(TREE_KEYS, 1)
    expected.update({"div-by-zero": 1, "inc-of-failure": 1, "flaky": 2})
    assert {key: len(spans) for key, spans in attempts.items()} == expected

    roots = [s for s in old.spans if s.kind == attr.RECORD_COMPUTATION]
    assert len(roots) == 4
    tree_root = next(r for r in roots if r.attributes[attr.COMPUTATION_TASK_COUNT] == 7)
    tree_attempts = [attempts[key][0] for key in TREE_KEYS]
    assert {a.trace_id for a in tree_attempts} == {tree_root.trace_id}
    assert {a.parent_span_id for a in tree_attempts} == {tree_root.span_id}
    # distributed's spans extension hands over the submitting code
    assert "client.compute(tree)" in tree_root.attributes[attr.COMPUTATION_CODE]


def test_worker_spans_are_children_of_their_attempt_span(old: OldWorkload) -> None:
    by_id = {s.span_id: s for s in old.spans}
    executions = [s for s in old.spans if s.kind == attr.RECORD_TASK_EXECUTION]
    assert len(executions) == 7 + 1 + 2  # the tree, div (its dependent never ran), flaky twice
    for execution in executions:
        parent = by_id[execution.parent_span_id]
        assert parent.kind == attr.RECORD_TASK_ATTEMPT
        assert parent.key == execution.key
        assert parent.attributes[attr.TASK_RUN_ID] == execution.attributes[attr.TASK_RUN_ID]
        assert parent.attributes[attr.WORKER_ADDRESS] == execution.attributes[attr.WORKER_ADDRESS]
        # seen on the executing thread (distributed before 2024.11: apply_function)
        assert execution.attributes[attr.THREAD_NAME]
        if parent.attributes[attr.TASK_OUTCOME] != attr.OUTCOME_RETRIED:
            assert execution.attributes[attr.THREAD_ID] == parent.attributes[attr.THREAD_ID]
        phases = [s for s in old.spans if s.parent_span_id == execution.span_id]
        assert "compute" in {p.attributes[attr.PHASE_ACTION] for p in phases}


def test_dependency_links_point_at_the_producing_attempt(old: OldWorkload) -> None:
    attempts = old.attempts()
    total = attempts["total"][0]
    links = {link["attributes"][attr.TASK_KEY]: link for link in total.links}
    assert sorted(links) == ["add-0", "add-1"]
    for key, link in links.items():
        assert link["span_id"] == attempts[key][0].span_id
        assert link["attributes"][attr.LINK_TYPE] == attr.LINK_DEPENDENCY


def test_a_failed_task_has_an_exception_event_and_blames_its_dependent(old: OldWorkload) -> None:
    attempts = old.attempts()
    failed = attempts["div-by-zero"][0]
    assert failed.status_code == 2
    assert failed.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_ERROR
    exception = next(e for e in failed.events if e["name"] == attr.EXCEPTION_EVENT)
    assert exception["attributes"][attr.EXCEPTION_TYPE] == "ZeroDivisionError"
    assert exception["attributes"][attr.EXCEPTION_MESSAGE] == "division by zero"

    blamed = attempts["inc-of-failure"][0]
    assert blamed.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_DEPENDENCY_ERROR
    assert blamed.attributes[attr.TASK_EXCEPTION_BLAME] == "div-by-zero"


def test_a_retry_is_a_second_attempt_and_the_worker_saw_the_first_error(old: OldWorkload) -> None:
    first, second = old.attempts()["flaky"]
    assert first.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_RETRIED
    assert second.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_SUCCESS
    assert second.attributes[attr.TASK_RERUN_REASON] == "retry"
    assert second.attributes[attr.TASK_PREVIOUS_ATTEMPT_SPAN_ID] == first.span_id
    failed_run = next(
        s for s in old.spans
        if s.kind == attr.RECORD_TASK_EXECUTION and s.parent_span_id == first.span_id
    )
    exception = next(e for e in failed_run.events if e["name"] == attr.EXCEPTION_EVENT)
    assert exception["attributes"][attr.EXCEPTION_TYPE] == "RuntimeError"
    assert "first attempt fails on purpose" in exception["attributes"][attr.EXCEPTION_MESSAGE]
