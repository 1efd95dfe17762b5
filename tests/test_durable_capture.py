"""Nothing recorded is lost when a Dask process dies: the journal and its recovery.

Real ``dask scheduler`` / ``dask worker --preload otel_dask_prov`` processes are
SIGKILLed in the middle of a run of busy tasks; what they had recorded must
reach the trace files once, and only once, after a restart or ``otel-prov replay``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from distributed import Client, as_completed
from distributed.utils_test import captured_logger

from otel_dask_prov import attributes as attr
from tests.support.cluster import DaskProcesses
from tests.support.collector import Collector
from tests.support.pipeline import otlp_env
from tests.support.traces import Span, read_spans
from tests.support.workloads import slow

pytestmark = pytest.mark.slow

TASKS = 400
TASK_SECONDS = 0.01


def submit_busy_tasks(client: Client, count: int = TASKS) -> list:  # type: ignore[type-arg]
    return client.map(slow, range(count), seconds=TASK_SECONDS, key=[f"busy-{i}" for i in range(count)])


def worker_pids(client: Client) -> dict[str, int]:
    return client.run(os.getpid)  # type: ignore[no-any-return]


def kill_with_its_exporter(pid: int) -> None:
    """SIGKILL a Dask process and its exporter process together, as when a node fails."""
    victims = [pid, *(child.pid for child in psutil.Process(pid).children())]
    for victim in victims:
        os.kill(victim, signal.SIGKILL)


def wait_until_journals_are_delivered(journal_dir: Path, timeout: float = 60) -> None:
    """Wait for the exporter processes that outlived their Dask process to finish."""
    deadline = time.monotonic() + timeout
    while journal_dir.is_dir() and any(journal_dir.iterdir()):
        assert time.monotonic() < deadline, f"journals left in {journal_dir}"
        time.sleep(0.1)


def assert_no_duplicates(spans: list[Span]) -> None:
    twice = [span_id for span_id, count in Counter(s.span_id for s in spans).items() if count > 1]
    assert not twice, f"{len(twice)} spans were delivered more than once"


def executions_by_attempt(spans: list[Span]) -> set[tuple[str, int]]:
    return {(s.key or "", s.attributes[attr.TASK_RUN_ID]) for s in spans
            if s.kind == attr.RECORD_TASK_EXECUTION}


def test_a_worker_killed_mid_run_loses_no_finished_execution(tmp_path: Path) -> None:
    cluster = DaskProcesses(tmp_path, n_workers=2, nanny=True)
    with cluster, cluster.client() as client:
        futures = submit_busy_tasks(client)
        victim = kill_first_worker_after(client, futures, TASKS // 4)
        client.gather(futures)
        client.wait_for_workers(2, timeout=60)
        cluster.stop()
    wait_until_journals_are_delivered(cluster.trace_dir / "journal")
    spans = read_spans([cluster.trace_dir])
    assert_no_duplicates(spans)
    assert_every_finished_execution_is_there(spans, victim)


def kill_first_worker_after(client: Client, futures: list, done: int,  # type: ignore[type-arg]
                            also: Callable[[], None] = lambda: None) -> str:
    """SIGKILL the first worker process (not its nanny) once *done* futures finished; its address."""
    for count, _ in enumerate(as_completed(futures), start=1):
        if count == done:
            also()
            victim, pid = sorted(worker_pids(client).items())[0]
            os.kill(pid, signal.SIGKILL)  # the worker process only: its nanny restarts it
            return victim
    raise AssertionError("the run ended before the kill")


def assert_every_finished_execution_is_there(spans: list[Span], worker: str) -> None:
    finished_on_worker = {
        (s.key or "", s.attributes[attr.TASK_RUN_ID]) for s in spans
        if s.kind == attr.RECORD_TASK_ATTEMPT and s.attributes.get(attr.WORKER_ADDRESS) == worker
        and s.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_SUCCESS
    }
    assert finished_on_worker, "the killed worker had finished tasks"
    missing = finished_on_worker - executions_by_attempt(spans)
    assert not missing, f"{len(missing)} executions the killed worker finished were lost"


@pytest.mark.collector
def test_collector_and_a_worker_killed_together_lose_nothing_and_repeat_nothing(
    tmp_path: Path, start_collector: Callable[..., Collector]
) -> None:
    collector = start_collector("local.yaml")
    spill_dir = tmp_path / "spill"
    env = otlp_env(collector.grpc_endpoint, "grpc", OTEL_EXPORTER_OTLP_TIMEOUT="3",
                   OTEL_BSP_SCHEDULE_DELAY="200", OTEL_DASK_PROV_SPILL_DIR=str(spill_dir))
    cluster = DaskProcesses(tmp_path / "dask", n_workers=2, nanny=True, env=env)
    with cluster, cluster.client() as client:
        futures = submit_busy_tasks(client)
        victim = kill_first_worker_after(client, futures, TASKS // 2, also=collector.kill)
        client.gather(futures)
        client.wait_for_workers(2, timeout=60)
        time.sleep(5)  # the exporters give up on the dead collector and spill
        collector.start()
        cluster.stop()
    wait_until_journals_are_delivered(cluster.trace_dir / "journal")
    collector.stop()
    delivered, spilled = collector.spans(), read_spans([spill_dir])
    assert delivered, "spans exported before the outage should have arrived"
    assert spilled, "the outage should have spilled spans"
    everything = delivered + spilled
    assert_no_duplicates(everything)
    assert_every_finished_execution_is_there(everything, victim)


def test_a_scheduler_killed_mid_run_is_recovered_by_the_next_scheduler(tmp_path: Path) -> None:
    cluster = DaskProcesses(tmp_path, n_workers=2)
    with cluster:
        with cluster.client() as client:
            futures = submit_busy_tasks(client)
            finished = []
            for future in as_completed(futures):
                finished.append(future.key)  # the scheduler closed its attempt before telling us
                if len(finished) == TASKS // 4:
                    break
            assert cluster.scheduler is not None
            kill_with_its_exporter(cluster.scheduler.pid)
        cluster.start_scheduler(name="scheduler-restarted")
        cluster.stop()
    spans = read_spans([cluster.trace_dir])
    assert_no_duplicates(spans)
    attempts = {s.key for s in spans if s.kind == attr.RECORD_TASK_ATTEMPT
                and s.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_SUCCESS}
    missing = set(finished) - attempts
    assert not missing, f"{len(missing)} attempts closed before the kill were lost"
    computations = [s for s in spans if s.kind == attr.RECORD_COMPUTATION]
    assert len(computations) == 1
    assert computations[0].attributes[attr.TASK_OUTCOME] == attr.OUTCOME_UNFINISHED
    assert computations[0].end >= max(s.end for s in spans if s.kind == attr.RECORD_TASK_ATTEMPT)
    assert "had not exported" in cluster.log("scheduler-restarted")


def test_replay_delivers_the_journal_of_a_process_that_never_came_back_once(tmp_path: Path) -> None:
    # Exports every minute only, so the worker's records are all still in its journal.
    cluster = DaskProcesses(tmp_path, n_workers=1, env={"OTEL_BSP_SCHEDULE_DELAY": "60000"})
    with cluster:
        with cluster.client() as client:
            futures = submit_busy_tasks(client, 100)
            client.gather(futures)
            (pid,) = worker_pids(client).values()
            kill_with_its_exporter(pid)  # its records wait in its journal: none exported
        cluster.stop()
    journals = cluster.trace_dir / "journal"
    assert len(list(journals.iterdir())) == 1
    out = tmp_path / "replayed"

    def replay() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "otel_dask_prov.cli", "replay", str(journals), "--output-dir",
             str(out)], capture_output=True, text=True, timeout=120, check=True)
        return done.stdout + done.stderr

    first = replay()
    second = replay()
    spans = read_spans([out])
    assert_no_duplicates(spans)
    assert len(executions_by_attempt(spans)) == 100
    assert "100 records" in first
    assert "nothing to deliver" in second


def test_an_unwritable_journal_costs_one_warning_and_the_computation_completes(tmp_path: Path) -> None:
    from distributed import LocalCluster

    from otel_dask_prov import install

    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the journal directory should be")
    with captured_logger("otel_dask_prov", logging.WARNING) as log, \
            LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as local, \
            Client(local) as client:
        install(client, output_dir=str(tmp_path / "traces"), journal_dir=str(blocker / "journal"))
        assert sum(client.gather(client.map(slow, range(20), seconds=0.0))) == sum(range(20))
    warnings = [line for line in log.getvalue().splitlines() if "cannot write the journal" in line]
    assert len(warnings) == 2  # one per process pipeline (scheduler, worker), none per record
    spans = read_spans([tmp_path / "traces"])
    assert sum(s.kind == attr.RECORD_TASK_EXECUTION for s in spans) == 20
    assert "records were not journaled" in log.getvalue()


def test_a_full_journal_keeps_records_in_memory_and_counts_them(tmp_path: Path) -> None:
    from distributed import LocalCluster

    from otel_dask_prov import install

    with captured_logger("otel_dask_prov", logging.WARNING) as log, \
            LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as local, \
            Client(local) as client:
        install(client, output_dir=str(tmp_path / "traces"), journal_max_bytes=4096,
                max_export_delay=60, export_interval=60)
        assert len(client.gather(client.map(slow, range(200), seconds=0.0))) == 200
    assert "reached journal-max-bytes" in log.getvalue()
    spans = read_spans([tmp_path / "traces"])
    assert sum(s.kind == attr.RECORD_TASK_EXECUTION for s in spans) == 200


def test_an_exporter_process_that_dies_is_started_again_and_nothing_is_lost(tmp_path: Path) -> None:
    from distributed import LocalCluster

    from otel_dask_prov import install

    with captured_logger("otel_dask_prov", logging.WARNING) as log, \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                         dashboard_address=":0") as local, Client(local) as client:
        install(client, output_dir=str(tmp_path / "traces"), export_interval=0.2)
        futures = submit_busy_tasks(client)
        for done, _ in enumerate(as_completed(futures), start=1):
            if done == TASKS // 4:
                exporters = [child for child in psutil.Process().children()
                             if "otel_dask_prov.export.exporter_process" in child.cmdline()]
                assert len(exporters) == 3  # the scheduler's and the two workers'
                for exporter in exporters:
                    exporter.kill()
                break
        client.gather(futures)
    assert log.getvalue().count("starting it again") == 3
    spans = read_spans([tmp_path / "traces"])
    assert_no_duplicates(spans)
    assert len(executions_by_attempt(spans)) == TASKS
    assert sum(s.kind == attr.RECORD_TASK_ATTEMPT for s in spans) == TASKS
