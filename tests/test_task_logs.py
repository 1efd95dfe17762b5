"""What a task logged, on its own attempt: real ``dask scheduler`` / ``dask worker`` processes.

One worker with two threads runs tasks that log, print, fail and are retried,
with the default settings but for a small per-attempt cap (20 records) and
stdout/stderr capture on. The log records are read straight from the OTLP JSON
lines of the trace files (``resourceLogs`` lines beside the spans), and through a
real collector: delivered, and spilled then replayed.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import wait

from otel_dask_prov import attributes as attr
from otel_dask_prov.capture.probes.task_logs import MAX_BODY_CHARS, LogCapture
from otel_dask_prov.capture.records import ExecutionRecord
from otel_dask_prov.capture.span_ids import execution_span_id
from otel_dask_prov.settings import resolve_settings
from tests.support import log_tasks
from tests.support.cluster import DaskProcesses
from tests.support.collector import Collector, free_ports
from tests.support.log_records import LogRecord, read_log_records
from tests.support.log_tasks import (
    fail_the_first_time,
    log_at_every_level,
    log_in_a_loop,
    print_progress,
    quiet_while_the_other_logs,
    warn_then_fail,
)
from tests.support.pipeline import otlp_env
from tests.support.traces import Span, read_spans

MAX_RECORDS = 20
LOOP = 50


class LoggingRun:
    """One cluster, the tasks it ran, its execution spans and its log records."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.cluster = DaskProcesses(workdir / "dask", n_workers=1, nthreads=2, env={
            "DASK_OTEL_DASK_PROV__LOG_MAX_RECORDS": str(MAX_RECORDS),
            "DASK_OTEL_DASK_PROV__RECORD_OUTPUT": "True",
        })
        self.spans: list[Span] = []
        self.logs: list[LogRecord] = []

    def run(self) -> None:
        meeting = self.workdir / "meeting"
        meeting.mkdir(parents=True)
        with self.cluster, self.cluster.client() as client:
            failing = client.submit(warn_then_fail, str(meeting), key="warn-then-fail")
            quiet = client.submit(quiet_while_the_other_logs, str(meeting), key="quiet")
            wait([failing, quiet])
            assert quiet.result() == 1 and failing.status == "error"
            retried = client.submit(fail_the_first_time, str(self.workdir / "marker"),
                                    retries=1, key="retried")
            assert retried.result() == "second attempt succeeded"
            assert client.submit(log_in_a_loop, LOOP, key="loop").result() == LOOP
            assert client.submit(log_at_every_level, key="levels").result() == "logged"
            assert client.submit(print_progress, key="printed").result() == "printed"
            self.cluster.stop()
        self.spans = read_spans([self.cluster.trace_dir])
        self.logs = read_log_records([self.cluster.trace_dir])

    def executions(self, key: str) -> list[Span]:
        return sorted((span for span in self.spans if span.key == key
                       and span.kind == attr.RECORD_TASK_EXECUTION),
                      key=lambda span: span.attributes[attr.TASK_RUN_ID])

    def logs_of(self, span: Span) -> list[LogRecord]:
        return sorted((log for log in self.logs if log.span_id == span.span_id),
                      key=lambda log: log.time)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> LoggingRun:
    logging_run = LoggingRun(tmp_path_factory.mktemp("task-logs"))
    logging_run.run()
    return logging_run


@pytest.mark.slow
def test_a_failing_tasks_warning_is_on_its_own_execution_span(run: LoggingRun) -> None:
    (failed,) = run.executions("warn-then-fail")
    (quiet,) = run.executions("quiet")
    assert failed.attributes[attr.THREAD_ID] != quiet.attributes[attr.THREAD_ID]
    assert failed.start < quiet.end and quiet.start < failed.end  # they ran at the same time
    warning, _worker_record = run.logs_of(failed)
    assert (warning.severity_number, warning.severity_text) == (13, "WARNING")
    assert warning.body == "calibration file cal-2026.nc is stale"
    assert warning.trace_id == failed.trace_id
    assert warning.attributes == {
        attr.LOG_SOURCE: attr.LOG_FROM_LOGGING,
        attr.LOG_LOGGER: "science.pipeline",
        attr.TASK_KEY: "warn-then-fail",
        attr.TASK_RUN_ID: failed.attributes[attr.TASK_RUN_ID],
        attr.CODE_FILE_PATH: log_tasks.__file__,
        attr.CODE_LINE_NUMBER: warning.attributes[attr.CODE_LINE_NUMBER],
        attr.CODE_FUNCTION_NAME: "warn_then_fail",
    }
    assert warning.resource[attr.SERVICE_NAME] == "dask-worker"
    assert run.logs_of(quiet) == []
    # kept, and still printed where it was before (Python's last-resort handler)
    assert run.cluster.log("worker-0").count("calibration file cal-2026.nc is stale") == 1


@pytest.mark.slow
def test_the_workers_compute_failed_record_is_linked_to_the_attempt(run: LoggingRun) -> None:
    (failed,) = run.executions("warn-then-fail")
    worker_record = run.logs_of(failed)[-1]
    assert worker_record.attributes[attr.LOG_SOURCE] == attr.LOG_FROM_WORKER
    assert worker_record.attributes[attr.LOG_LOGGER] == "distributed.worker"
    assert worker_record.severity_text == "ERROR"
    assert worker_record.body.startswith("Compute Failed\nKey:       warn-then-fail\n")
    assert "calibration failed" in worker_record.body
    assert "\nTask:" not in worker_record.body  # the lines showing arguments are left out


@pytest.mark.slow
def test_a_retried_tasks_attempts_keep_their_own_logs(run: LoggingRun) -> None:
    first, second = run.executions("retried")
    assert first.attributes[attr.TASK_OUTCOME] == attr.OUTCOME_ERROR
    assert [(log.attributes[attr.LOG_SOURCE], log.body.split("\n")[0])
            for log in run.logs_of(first)] == [
        (attr.LOG_FROM_LOGGING, "attempt 1 starting"), (attr.LOG_FROM_WORKER, "Compute Failed")]
    assert [log.body for log in run.logs_of(second)] == ["attempt 2 starting"]
    assert {log.attributes[attr.TASK_RUN_ID] for log in run.logs_of(second)} == {
        second.attributes[attr.TASK_RUN_ID]}


@pytest.mark.slow
def test_a_task_logging_in_a_loop_hits_the_cap_and_says_how_many_were_dropped(
        run: LoggingRun) -> None:
    (loop,) = run.executions("loop")
    logs = run.logs_of(loop)
    assert [log.body for log in logs] == [f"step {n} of {LOOP}" for n in range(MAX_RECORDS)]
    assert logs[-1].attributes[attr.LOG_DROPPED] == LOOP - MAX_RECORDS
    assert all(attr.LOG_DROPPED not in log.attributes for log in logs[:-1])


@pytest.mark.slow
def test_records_below_warning_are_not_kept_by_default(run: LoggingRun) -> None:
    (levels,) = run.executions("levels")
    warning, error = run.logs_of(levels)
    assert (warning.severity_text, warning.body) == ("WARNING", "warning: unusual input")
    assert (error.severity_number, error.severity_text) == (17, "ERROR")
    assert error.attributes[attr.EXCEPTION_TYPE] == "KeyError"
    assert error.attributes[attr.EXCEPTION_MESSAGE] == "'missing'"
    assert 'KeyError: \'missing\'' in error.attributes[attr.EXCEPTION_STACKTRACE]


@pytest.mark.slow
def test_printed_lines_arrive_one_record_each_and_still_reach_the_worker_output(
        run: LoggingRun) -> None:
    (printed,) = run.executions("printed")
    lines = [(log.attributes[attr.LOG_SOURCE], log.severity_text, log.body)
             for log in run.logs_of(printed)]
    assert sorted(lines) == sorted([
        (attr.LOG_FROM_STDOUT, "INFO", "reading input.nc"),
        (attr.LOG_FROM_STDOUT, "INFO", "wrote output.nc"),
        (attr.LOG_FROM_STDERR, "WARNING", "disk almost full"),
        (attr.LOG_FROM_STDOUT, "INFO", "unfinished"),
    ])
    assert "reading input.nc" in run.cluster.log("worker-0")  # copied, not swallowed


@pytest.mark.slow
def test_every_log_record_is_on_an_execution_span_of_the_files(run: LoggingRun) -> None:
    execution_ids = {span.span_id for span in run.spans if span.kind == attr.RECORD_TASK_EXECUTION}
    assert run.logs and {log.span_id for log in run.logs} <= execution_ids


def run_one_failing_task(cluster: DaskProcesses, workdir: Path) -> None:
    meeting = workdir / "meeting"
    meeting.mkdir(parents=True)
    with cluster, cluster.client() as client:
        failing = client.submit(warn_then_fail, str(meeting), key="warn-then-fail")
        quiet = client.submit(quiet_while_the_other_logs, str(meeting), key="quiet")
        wait([failing, quiet])
        cluster.stop()


def assert_failing_task_logged(logs: list[LogRecord], spans: list[Span]) -> None:
    (failed,) = [span for span in spans if span.key == "warn-then-fail"
                 and span.kind == attr.RECORD_TASK_EXECUTION]
    bodies = [log.body.split("\n")[0] for log in logs if log.span_id == failed.span_id]
    assert bodies == ["calibration file cal-2026.nc is stale", "Compute Failed"]


@pytest.mark.collector
@pytest.mark.slow
@pytest.mark.parametrize(("protocol", "exporter"), [
    ("grpc", "native"), ("http/protobuf", "native"), ("http/json", "native"), ("grpc", "sdk")])
def test_log_records_reach_the_collectors_file(
        protocol: str, exporter: str, start_collector: Callable[..., Collector],
        tmp_path: Path) -> None:
    collector = start_collector("local.yaml")
    endpoint = collector.grpc_endpoint if protocol == "grpc" else collector.http_endpoint
    cluster = DaskProcesses(tmp_path / "dask", n_workers=1, nthreads=2, env=otlp_env(
        endpoint, protocol, DASK_OTEL_DASK_PROV__OTLP_EXPORTER=exporter))
    run_one_failing_task(cluster, tmp_path)
    collector.stop()
    assert_failing_task_logged(read_log_records([collector.logs_file]), collector.spans())
    assert not list(cluster.trace_dir.rglob("*.jsonl*")), "spilled instead of delivered"


@pytest.mark.collector
@pytest.mark.slow
def test_spilled_log_records_are_replayed_to_the_logs_endpoint(
        start_collector: Callable[..., Collector], tmp_path: Path) -> None:
    (nobody,) = free_ports(1)
    spill_dir = tmp_path / "spill"
    cluster = DaskProcesses(tmp_path / "dask", n_workers=1, nthreads=2, env=otlp_env(
        f"http://127.0.0.1:{nobody}", "grpc", OTEL_DASK_PROV_SPILL_DIR=str(spill_dir),
        OTEL_EXPORTER_OTLP_TIMEOUT="2"))
    run_one_failing_task(cluster, tmp_path)
    spilled = read_log_records([spill_dir])
    assert_failing_task_logged(spilled, read_spans([spill_dir]))

    collector = start_collector("local.yaml")
    replay = subprocess.run(
        [sys.executable, "-m", "otel_dask_prov.cli", "replay", str(spill_dir),
         "--endpoint", collector.grpc_endpoint],
        capture_output=True, text=True, timeout=120,
    )
    assert replay.returncode == 0, replay.stderr
    assert f"and {len(spilled)} log records" in replay.stdout
    collector.stop()
    assert_failing_task_logged(read_log_records([collector.logs_file]), collector.spans())


# -- the capture logic, in this process ------------------------------------------

@pytest.fixture
def capture_with(request: pytest.FixtureRequest) -> Iterator[Callable[..., LogCapture]]:
    """``capture_with(**settings)`` -> a :class:`LogCapture`, closed after the test."""
    captures: list[LogCapture] = []

    def make(**settings: Any) -> LogCapture:
        captures.append(LogCapture(resolve_settings(**settings)))
        return captures[-1]

    yield make
    for capture in captures:
        capture.close()


def test_records_of_other_threads_are_not_the_attempts(
        capture_with: Callable[..., LogCapture]) -> None:
    capture = capture_with()
    buffer = capture.start()
    other = threading.Thread(target=logging.getLogger("science").error, args=("elsewhere",))
    other.start()
    other.join()
    logging.getLogger("science").error("here")
    entries, dropped = capture.stop(buffer, None)
    assert [entry[3] for entry in entries] == ["here"] and dropped == 0


def test_the_worker_limit_counts_what_it_drops_and_says_so_once(
        capture_with: Callable[..., LogCapture], caplog: pytest.LogCaptureFixture) -> None:
    capture = capture_with(log_max_process_records=3, log_max_records=10)
    results = []
    for attempt in range(2):
        buffer = capture.start()
        for number in range(2):
            logging.getLogger("science").warning("attempt %d record %d", attempt, number)
        results.append(capture.stop(buffer, None))
    assert [(len(entries), dropped) for entries, dropped in results] == [(2, 0), (1, 1)]
    assert caplog.text.count("further ones are only counted") == 1


def test_secret_keyword_arguments_and_environment_values_are_masked(
        capture_with: Callable[..., LogCapture], monkeypatch: pytest.MonkeyPatch) -> None:
    from dask.task_spec import Task

    monkeypatch.setenv("SERVICE_API_TOKEN", "tok-from-the-environment")
    capture = capture_with()
    buffer = capture.start()
    try:
        raise ValueError("login with hunter2-secret failed")
    except ValueError:
        logging.getLogger("science").exception(
            "login as %s with %s", "tok-from-the-environment", "hunter2-secret")
    task = Task("login-1", print, "user", password="hunter2-secret")
    ((*_, body, _source, _logger, _path, _line, _function, _type, message, stacktrace),), _ = (
        capture.stop(buffer, task))
    assert body == "login as <redacted> with <redacted>"
    assert message == "login with <redacted> failed"
    assert "hunter2-secret" not in stacktrace and "<redacted>" in stacktrace


def test_a_record_that_cannot_be_formatted_is_counted_not_raised(
        capture_with: Callable[..., LogCapture]) -> None:
    capture = capture_with()
    buffer = capture.start()
    before = capture.errors
    science = logging.getLogger("science")
    science.makeRecord("science", logging.WARNING, __file__, 1, "%d items", ("oops",), None)
    entries, _ = capture.stop(buffer, None)
    assert entries == [] and capture.errors == before + 1


def test_closing_the_last_capture_restores_the_record_factory(
        capture_with: Callable[..., LogCapture]) -> None:
    factory = logging.getLogRecordFactory()
    first, second = capture_with(), capture_with()
    first.close()
    assert logging.getLogRecordFactory() is not factory  # the second still captures
    second.close()
    assert logging.getLogRecordFactory() is factory


def test_an_attempt_whose_records_were_all_dropped_still_says_so() -> None:
    record = ExecutionRecord(1, "loop-1", "loop", 0, "tcp://w", "w", attr.OUTCOME_SUCCESS,
                             [], 10.0, 11.0)
    record.logs_dropped = 7  # the worker's limit was reached before this attempt
    (log,) = record.to_log_data()
    assert log.attributes[attr.LOG_DROPPED] == 7
    assert log.body == "7 log records of this task were not kept (log_max_process_records reached)"
    assert (log.trace_id, log.span_id) == (1, execution_span_id(1, "loop-1", 0))


def test_endless_output_without_a_newline_is_cut_into_records(
        capture_with: Callable[..., LogCapture]) -> None:
    capture = capture_with(record_output=True)
    buffer = capture.start()
    for _ in range(3):
        buffer.write(attr.LOG_FROM_STDOUT, "x" * 5000)
    entries, _ = capture.stop(buffer, None)
    assert [len(entry[3]) for entry in entries] == [MAX_BODY_CHARS, 5000]
