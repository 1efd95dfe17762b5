"""Reading Darshan logs and attributing DXT segments to task executions.

The ``darshan`` package ships real logs: ``dxt.darshan`` (POSIX counters and DXT
POSIX segments of a one-process Java application) and
``sample-dxt-simple.darshan`` (an MPI-IO program with DXT MPI-IO tracing). The
Darshan *runtime* (the ``libdarshan.so`` a worker would run under) is not
installable here, so these tests cover the reading, the attribution and the
spans on those logs; ``test_provenance_opt_in`` covers a worker whose runtime is
missing.
"""

from __future__ import annotations

import importlib.resources
import time
from collections import defaultdict
from pathlib import Path

import pytest

from otel_dask_prov import attributes as attr
from otel_dask_prov.capture.probes.darshan_logs import (
    MAX_FILE_EVENTS,
    MAX_SEGMENT_EVENTS,
    DarshanLog,
    FileCounters,
    Segment,
    TaskWindow,
    attribute_files,
    attribute_segments,
    find_log,
    log_locations,
    log_spans,
    read_log,
)
from otel_dask_prov.capture.span_ids import attempt_span_id
from otel_dask_prov.export.exporter_process import helper_environment

darshan = pytest.importorskip("darshan", reason="needs the darshan package (pip install darshan)")

CLASSLIB = "/jre/lib/classlib.properties"


def example_log(package: str, name: str) -> Path:
    return Path(str(importlib.resources.files(package) / name))


@pytest.fixture(scope="module")
def dxt_log():
    return read_log(example_log("darshan.examples.example_logs", "dxt.darshan"))


def window(start: float, end: float, number: int) -> TaskWindow:
    return TaskWindow(start, end, 1000 + number, trace_id=0xABC0 + number,
                      execution_span_id=0xE0 + number, key=f"task-{number}",
                      prefix="task", run_id=number)


def inside(segments: list[Segment], start: float, end: float) -> list[Segment]:
    return [s for s in segments if start <= s.start and s.end <= end]


def test_the_job_of_a_log(dxt_log) -> None:
    assert dxt_log.job_id == 1537455
    assert dxt_log.runtime_version == "3.2.0-pre1"
    assert dxt_log.start == 1587455133 and dxt_log.end == 1587456601


def test_dxt_segments_add_up_to_the_posix_counters_of_each_file(dxt_log) -> None:
    moved: dict[tuple[str, str], int] = defaultdict(int)
    for segment in dxt_log.segments:
        assert segment.module == "DXT_POSIX"
        assert dxt_log.start <= segment.start <= segment.end <= dxt_log.end
        moved[(segment.path, segment.operation)] += segment.length
    posix = {c.path: c.counters for c in dxt_log.files if c.module == "POSIX"}
    assert moved and {path for path, _ in moved} <= set(posix)
    for (path, operation), length in moved.items():
        counter = "POSIX_BYTES_READ" if operation == "read" else "POSIX_BYTES_WRITTEN"
        assert posix[path][counter] == length, path
    classlib = next(path for path in posix if path.endswith(CLASSLIB))
    assert posix[classlib]["POSIX_READS"] == 18


def test_mpi_io_counters_and_dxt_mpi_io_segments_are_read() -> None:
    log = read_log(example_log("darshan.tests.input", "sample-dxt-simple.darshan"))
    modules = {c.module for c in log.files}
    assert {"POSIX", "MPI-IO"} <= modules
    assert any(c.counters.get("MPIIO_BYTES_WRITTEN", 0) > 0 for c in log.files
               if c.module == "MPI-IO")
    assert {s.module for s in log.segments} == {"DXT_POSIX", "DXT_MPIIO"}
    assert sorted({c.rank for c in log.files if c.module == "MPI-IO"}) == list(range(16))
    worker_span, = log_spans(log, [], {})
    assert sorted(e[2][attr.DARSHAN_RANK] for e in worker_span.events
                  if e[2][attr.DARSHAN_MODULE] == "MPI-IO") == list(range(16))


def test_each_segment_goes_to_the_one_window_that_contains_it(dxt_log) -> None:
    first_burst = (dxt_log.start + 0.005, dxt_log.start + 0.006)
    overlap = (dxt_log.start + 0.08, dxt_log.start + 0.09)
    windows = [window(*first_burst, 0), window(*overlap, 1), window(*overlap, 2)]
    attribution = attribute_segments(dxt_log.segments, windows)

    expected = inside(dxt_log.segments, *first_burst)
    assert len([s for s in expected if s.path.endswith(CLASSLIB)]) == 9
    assert attribution.by_window[0] == expected
    assert 1 not in attribution.by_window and 2 not in attribution.by_window
    assert attribution.ambiguous == len(inside(dxt_log.segments, *overlap)) > 0
    assert attribution.outside == len(dxt_log.segments) - len(expected) - attribution.ambiguous


def test_the_spans_of_a_log(dxt_log) -> None:
    first_burst = (dxt_log.start + 0.005, dxt_log.start + 0.006)
    windows = [window(*first_burst, 0)]
    worker = {attr.WORKER_ADDRESS: "tcp://127.0.0.1:1234", attr.WORKER_NAME: "worker-0"}
    shift = 0.25
    worker_span, task_span = log_spans(dxt_log, windows, worker, clock_shift=shift)

    paths = {c.path for c in dxt_log.files}
    assert worker_span.name == attr.DARSHAN_SPAN_NAME and worker_span.parent_span_id is None
    assert worker_span.attributes[attr.RECORD_TYPE] == attr.RECORD_WORKER
    assert worker_span.attributes[attr.WORKER_NAME] == "worker-0"
    assert worker_span.attributes[attr.DARSHAN_FILE_COUNT] == len(paths)
    assert worker_span.attributes[attr.DARSHAN_SEGMENTS] == len(dxt_log.segments)
    attributed = inside(dxt_log.segments, *first_burst)
    assert worker_span.attributes[attr.DARSHAN_UNATTRIBUTED_SEGMENTS] == (
        len(dxt_log.segments) - len(attributed))
    assert worker_span.attributes[attr.darshan_counter_attribute("POSIX_BYTES_READ")] == sum(
        c.counters["POSIX_BYTES_READ"] for c in dxt_log.files if c.module == "POSIX")
    totals = [name for name in worker_span.attributes if attr.darshan_counter(name)]
    assert totals[:3] == [attr.darshan_counter_attribute(name)
                          for name in ("POSIX_OPENS", "POSIX_READS", "POSIX_WRITES")]
    assert len(worker_span.events) == min(len(dxt_log.files), MAX_FILE_EVENTS)
    event = worker_span.events[0]
    assert event[0] == attr.DARSHAN_FILE_EVENT
    assert event[2][attr.FILE_PATH] in paths and event[2][attr.DARSHAN_MODULE] == "POSIX"

    assert task_span.name == attr.darshan_task_span_name("task")
    assert (task_span.trace_id, task_span.parent_span_id) == (0xABC0, 0xE0)
    assert task_span.attributes[attr.RECORD_TYPE] == attr.RECORD_DARSHAN_TASK_IO
    assert task_span.attributes[attr.TASK_KEY] == "task-0"
    assert task_span.attributes[attr.DARSHAN_SEGMENTS] == len(attributed)
    assert task_span.attributes[attr.IO_READ_BYTES] == sum(
        s.length for s in attributed if s.operation == "read")
    assert task_span.attributes[attr.IO_FILES] == sorted({s.path for s in attributed})
    assert task_span.start == int((min(s.start for s in attributed) + shift) * 1e9)
    assert task_span.attributes[attr.TASK_ATTEMPT_SPAN_ID] == (
        f"{attempt_span_id(0xABC0, 'task-0', 0, 0):016x}")
    assert attr.DARSHAN_SEGMENTS_OMITTED not in task_span.attributes


def test_each_attributed_segment_is_an_event_with_offset_length_and_times(dxt_log) -> None:
    first_burst = (dxt_log.start + 0.005, dxt_log.start + 0.006)
    shift = 0.25
    _, task_span = log_spans(dxt_log, [window(*first_burst, 0)], {}, clock_shift=shift)

    events = [e for e in task_span.events if e[0] == attr.DARSHAN_SEGMENT_EVENT]
    attributed = inside(dxt_log.segments, *first_burst)
    assert len(events) == len(attributed) == 9
    first = attributed[0]
    _, when, values = events[0]
    assert when == int((first.start + shift) * 1e9)
    assert values == {attr.DARSHAN_MODULE: "DXT_POSIX", attr.FILE_PATH: first.path,
                      attr.DARSHAN_OPERATION: "read", attr.DARSHAN_OFFSET: 0,
                      attr.DARSHAN_LENGTH: 64,
                      attr.DARSHAN_END_TIME: int((first.end + shift) * 1e9)}
    assert [e[2][attr.DARSHAN_OFFSET] for e in events] == [0, 40, 41, 96, 114, 174, 175, 206, 218]


def test_segments_past_the_cap_are_counted_not_listed(dxt_log) -> None:
    whole_job = (dxt_log.start, dxt_log.end)
    _, task_span = log_spans(dxt_log, [window(*whole_job, 0)], {})

    events = [e for e in task_span.events if e[0] == attr.DARSHAN_SEGMENT_EVENT]
    assert len(dxt_log.segments) > MAX_SEGMENT_EVENTS == len(events)
    assert task_span.attributes[attr.DARSHAN_SEGMENTS] == len(dxt_log.segments)
    assert task_span.attributes[attr.DARSHAN_SEGMENTS_OMITTED] == (
        len(dxt_log.segments) - MAX_SEGMENT_EVENTS)
    assert events[0][1] == int(dxt_log.segments[0].start * 1e9)


def test_darshan_counter_attributes_name_their_counter() -> None:
    assert attr.darshan_counter_attribute("MPIIO_BYTES_WRITTEN") == "dask.darshan.mpiio_bytes_written"
    assert attr.darshan_counter("dask.darshan.mpiio_bytes_written") == "MPIIO_BYTES_WRITTEN"
    assert attr.darshan_counter(attr.DARSHAN_JOB_ID) is None
    assert attr.darshan_counter(attr.DARSHAN_OFFSET) is None


def test_the_log_of_a_process_is_found_by_pid_under_the_log_path(tmp_path: Path) -> None:
    dated = tmp_path / "2026" / "11" / "22"
    dated.mkdir(parents=True)
    mine = dated / "user_python3_id4242-4242_11-22-3600-123_1.darshan"
    other = dated / "user_python3_id4243-4243_11-22-3600-456_1.darshan"
    for path in (mine, other):
        path.write_bytes(b"")
    assert find_log(4242, {"DARSHAN_LOGPATH": str(tmp_path)}, timeout=0) == mine
    assert find_log(4244, {"DARSHAN_LOGPATH": str(tmp_path)}, timeout=0) is None
    assert find_log(1, {"DARSHAN_LOGFILE": str(other)}, timeout=0) == other


def fake_runtime(prefix: Path, log_path: str) -> Path:
    """A ``libdarshan.so`` and the ``darshan-config`` beside it, as an install has them."""
    (prefix / "lib").mkdir(parents=True)
    (prefix / "bin").mkdir()
    library = prefix / "lib" / "libdarshan.so"
    library.write_bytes(b"")
    config = prefix / "bin" / "darshan-config"
    config.write_text(f'#!/bin/sh\n[ "$1" = --log-path ] && echo \'{log_path}\'\n')
    return library


def test_the_log_is_looked_for_where_the_runtime_writes_it_in_its_order(tmp_path: Path) -> None:
    library = fake_runtime(tmp_path, "$SITE_LOGS,$JOB_LOGS,/site/default")
    environ = {"LD_PRELOAD": f"/lib/other.so {library}", "PATH": "", "JOB_LOGS": "/job",
               "DARSHAN_LOGPATH": "/mine"}
    assert log_locations(environ) == [("flat", "/job"), ("dated", "/mine"),
                                      ("dated", "/site/default")]
    assert log_locations({**environ, "SITE_LOGS": "/site"})[0] == ("flat", "/site")
    assert log_locations({**environ, "DARSHAN_LOGFILE": "/x.darshan"}) == [("file", "/x.darshan")]
    assert log_locations({"PATH": ""}) == []


def test_a_dated_directory_is_searched_on_the_day_the_process_started(tmp_path: Path) -> None:
    started = time.time() - 60
    day = time.localtime(started)
    directory = tmp_path / str(day.tm_year) / str(day.tm_mon) / str(day.tm_mday)
    directory.mkdir(parents=True)
    mine = directory / "me_python3_id77-77_1-2-3-4_5.darshan"
    mine.write_bytes(b"")
    (directory / "me_python3_id77-77_1-2-3-4.darshan_partial").write_bytes(b"")
    found = find_log(77, locations=[("dated", str(tmp_path))], started=started, timeout=0)
    assert found == mine
    # the same pid, but a log older than the process: another process's
    assert find_log(77, locations=[("dated", str(tmp_path))], started=time.time() + 60,
                    timeout=0) is None


def test_helper_processes_run_without_the_darshan_runtime() -> None:
    environment = helper_environment({"LD_PRELOAD": "/a/libfoo.so:/b/lib/libdarshan.so",
                                      "X": "1"})
    assert environment == {"LD_PRELOAD": "/a/libfoo.so", "X": "1"}
    assert "LD_PRELOAD" not in helper_environment({"LD_PRELOAD": "/b/libdarshan.so.0"})


def test_a_segment_just_past_a_window_is_its_task_unless_another_holds_it() -> None:
    def segment(start: float, end: float) -> Segment:
        return Segment("DXT_POSIX", "/f", "read", 0, 1, start, end)

    # Darshan's clock runs a few µs late: a segment ending just after a window is its task's
    late = segment(10.9999, 11.0002)
    apart = [window(10.0, 11.0, 1), window(11.002, 12.0, 2)]
    assert attribute_segments([late], apart, tolerance=0.001).by_window == {0: [late]}
    assert attribute_segments([late], apart).outside == 1  # without the tolerance
    # within the tolerance of two windows: the one that holds it, else nobody's
    close = [window(10.0, 11.0, 1), window(11.0005, 12.0, 2)]
    held = segment(11.0006, 11.0008)
    straddling = segment(10.9999, 11.0007)
    result = attribute_segments([held, straddling], close, tolerance=0.001)
    assert result.by_window == {1: [held]}
    assert result.ambiguous == 1


def test_without_dxt_a_file_used_within_one_task_is_that_tasks() -> None:
    def record(path: str, opened: float, closed: float, written: int = 0) -> FileCounters:
        return FileCounters("POSIX", path, {"POSIX_BYTES_WRITTEN": written,
                                            "POSIX_BYTES_READ": 0, "POSIX_WRITES": 1},
                            0, opened, closed)

    alone = record("/alone", 10.1, 10.9, written=12345)
    shared = record("/shared", 10.5, 11.5)  # open from the first task into the second
    traced = record("/traced", 10.2, 10.3)  # DXT covers it: its segments say more
    log = DarshanLog("/log.darshan", 1, "3.4.7", 9.0, 13.0, [alone, shared, traced],
                     [Segment("DXT_POSIX", "/traced", "read", 0, 8, 10.2, 10.25)])
    windows = [window(10.0, 11.0, 1), window(11.1, 12.0, 2)]
    assert attribute_files(log, windows) == {0: [alone]}
    spans = log_spans(log, windows, {})
    (task,) = [s for s in spans if s.attributes[attr.RECORD_TYPE] == attr.RECORD_DARSHAN_TASK_IO]
    assert task.attributes[attr.IO_WRITE_BYTES] == 12345 and task.attributes[attr.IO_READ_BYTES] == 8
    assert task.attributes[attr.IO_FILES] == ["/alone", "/traced"]
    (event,) = [values for name, _, values in task.events
                if values.get(attr.DARSHAN_ATTRIBUTED_BY) == attr.DARSHAN_BY_OPEN_CLOSE]
    assert event[attr.FILE_PATH] == "/alone"
    assert event[attr.darshan_counter_attribute("POSIX_BYTES_WRITTEN")] == 12345
