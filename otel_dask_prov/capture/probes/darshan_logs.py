"""Darshan I/O characterization of a worker (opt-in: ``darshan``).

`Darshan <https://www.mcs.anl.gov/research/projects/darshan/>`_ records, for a
process run under its runtime library, counters per file and per I/O interface
(POSIX, STDIO, MPI-IO) and, with DXT tracing on, every read and write segment
with its time. This module reads a worker's Darshan log with the ``darshan``
Python package (``pip install darshan``) and turns it into spans:

* one worker-level span named ``darshan`` (record type ``worker``) in a trace of
  its own, spanning the Darshan job, with the worker's address, the log path,
  the totals of the main counters (``dask.darshan.posix_bytes_read``, ...) and one
  ``darshan.file`` event per (interface, file) carrying that file's counters;
* with DXT, for each task execution whose time window contains segments, a
  ``darshan-io <prefix>`` span (record type ``darshan_task_io``) under the
  execution span: bytes and segments read and written, files touched, one
  ``darshan.file`` event per file, and one ``darshan.segment`` event per segment
  (file, read or write, offset, length, start and end; the first
  :data:`MAX_SEGMENT_EVENTS`, the rest counted), and the attempt's span id.

Attribution: DXT segments carry the process, host and times but no thread id,
so a segment goes to the one task execution of this worker whose window
(measured on the executing thread around the task function) contains it. A
segment in no window (Dask's own I/O, spilling, imports) or in the windows of
several concurrent tasks is counted in ``dask.darshan.unattributed_segments`` on
the worker span. With ``--nthreads 1`` every segment inside a task is attributed.

What needs the Darshan runtime, and how it runs, is in ``docs/provenance.md``:
the worker process runs with ``LD_PRELOAD=libdarshan.so`` and
``DARSHAN_ENABLE_NONMPI=1`` (``DXT_ENABLE_IO_TRACE=1`` for DXT), and writes its
log to ``DARSHAN_LOGFILE`` or under ``DARSHAN_LOGPATH``. Darshan writes the log
when the process exits; at worker teardown this module asks the runtime to write
it then (``darshan_core_shutdown``), reads it and exports the spans.
"""

from __future__ import annotations

import ctypes
import os
import time
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import attributes as attr
from ...export.span_data import EventData, SpanData
from ..span_ids import attempt_span_id, derived_span_id, new_span_id, new_trace_id

COUNTERS: Mapping[str, tuple[str, ...]] = {
    "POSIX": ("POSIX_OPENS", "POSIX_READS", "POSIX_WRITES", "POSIX_SEEKS", "POSIX_STATS",
              "POSIX_BYTES_READ", "POSIX_BYTES_WRITTEN", "POSIX_F_READ_TIME",
              "POSIX_F_WRITE_TIME", "POSIX_F_META_TIME"),
    "STDIO": ("STDIO_OPENS", "STDIO_READS", "STDIO_WRITES", "STDIO_SEEKS",
              "STDIO_BYTES_READ", "STDIO_BYTES_WRITTEN", "STDIO_F_READ_TIME",
              "STDIO_F_WRITE_TIME", "STDIO_F_META_TIME"),
    "MPI-IO": ("MPIIO_INDEP_OPENS", "MPIIO_COLL_OPENS", "MPIIO_INDEP_READS",
               "MPIIO_INDEP_WRITES", "MPIIO_COLL_READS", "MPIIO_COLL_WRITES",
               "MPIIO_BYTES_READ", "MPIIO_BYTES_WRITTEN", "MPIIO_F_READ_TIME",
               "MPIIO_F_WRITE_TIME", "MPIIO_F_META_TIME"),
}
"""Counters kept per file for each interface (those a log lacks are skipped)."""
DXT_MODULES = ("DXT_POSIX", "DXT_MPIIO")
MAX_FILE_EVENTS = 1000
"""``darshan.file`` events on the worker span; the file count says how many there were."""
MAX_SEGMENT_EVENTS = 1000
"""``darshan.segment`` events on one execution's span, the earliest; the others are counted."""
MAX_WINDOWS = 100_000
"""Task windows kept per worker. Like DXT's own trace buffer, the earliest are kept."""


# ---------------------------------------------------------------------------
# The log
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FileCounters:
    """The counters one interface kept for one file."""

    module: str
    path: str
    counters: Mapping[str, float]
    rank: int = 0
    """The MPI rank whose record this is (a log has one per rank and file)."""


@dataclass(frozen=True)
class Segment:
    """One DXT read or write, with absolute times (seconds since the epoch)."""

    module: str
    path: str
    operation: str
    """``read`` or ``write``."""
    offset: int
    length: int
    start: float
    end: float


@dataclass
class DarshanLog:
    """What a Darshan log says about one process."""

    path: str
    job_id: int
    runtime_version: str
    start: float
    end: float
    files: list[FileCounters] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)


def _job_times(job: Mapping[str, Any]) -> tuple[float, float]:
    start = job.get("start_time_sec", job.get("start_time", 0)) + job.get("start_time_nsec", 0) * 1e-9
    end = job.get("end_time_sec", job.get("end_time", 0)) + job.get("end_time_nsec", 0) * 1e-9
    return float(start), float(max(start, end))


def read_log(path: str | os.PathLike[str]) -> DarshanLog:
    """Read the counters and DXT segments of a Darshan log (needs ``pip install darshan``)."""
    import darshan

    report = darshan.DarshanReport(str(path), read_all=False)
    job = report.metadata["job"]
    start, end = _job_times(job)
    log = DarshanLog(str(path), int(job.get("jobid", 0)),
                     str(job.get("metadata", {}).get("lib_ver", "")), start, end)
    report.read_name_records()
    names = report.name_records
    for module, wanted in COUNTERS.items():
        if module not in report.modules:
            continue
        report.mod_read_all_records(module, dtype="numpy", warnings=False)
        counter_names = list(report.counters[module]["counters"])
        fcounter_names = list(report.counters[module]["fcounters"])
        for record in report.records[module]:
            values = dict(zip(counter_names, record["counters"].tolist(), strict=False))
            values.update(zip(fcounter_names, record["fcounters"].tolist(), strict=False))
            kept = {name: values[name] for name in wanted if name in values}
            log.files.append(FileCounters(module, names.get(record["id"], str(record["id"])), kept,
                                          int(record["rank"])))
    for module in DXT_MODULES:
        if module not in report.modules:
            continue
        report.mod_read_all_dxt_records(module, dtype="dict", warnings=False)
        for record in report.records[module]:
            file_path = names.get(record["id"], str(record["id"]))
            for operation in ("read", "write"):
                for segment in record[f"{operation}_segments"]:
                    log.segments.append(Segment(
                        module, file_path, operation, int(segment["offset"]),
                        int(segment["length"]), start + float(segment["start_time"]),
                        start + float(segment["end_time"])))
    log.segments.sort(key=lambda segment: segment.start)
    return log


# ---------------------------------------------------------------------------
# Attribution of DXT segments to task executions
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskWindow:
    """When (local clock) one execution ran on this worker, and which span it is."""

    start: float
    end: float
    thread_native_id: int | None
    trace_id: int
    execution_span_id: int
    key: str
    prefix: str
    run_id: int


@dataclass
class Attribution:
    """Segments per window (by index), and how many segments went nowhere."""

    by_window: dict[int, list[Segment]] = field(default_factory=dict)
    outside: int = 0
    ambiguous: int = 0

    @property
    def unattributed(self) -> int:
        return self.outside + self.ambiguous


def attribute_segments(segments: Iterable[Segment], windows: Sequence[TaskWindow],
                       tolerance: float = 0.0) -> Attribution:
    """Give each segment to the one window containing it (within *tolerance* seconds)."""
    order = sorted(range(len(windows)), key=lambda index: windows[index].start)
    starts = [windows[index].start for index in order]
    longest = max((window.end - window.start for window in windows), default=0.0)
    result = Attribution()
    for segment in segments:
        candidates = []
        position = bisect_right(starts, segment.start + tolerance) - 1
        while position >= 0 and starts[position] >= segment.start - longest - tolerance:
            window = windows[order[position]]
            if window.start - tolerance <= segment.start and segment.end <= window.end + tolerance:
                candidates.append(order[position])
            position -= 1
        if len(candidates) == 1:
            result.by_window.setdefault(candidates[0], []).append(segment)
        elif candidates:
            result.ambiguous += 1
        else:
            result.outside += 1
    return result


# ---------------------------------------------------------------------------
# Spans
# ---------------------------------------------------------------------------
def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _file_event(when: float, module: str, path: str, values: Mapping[str, Any]) -> EventData:
    attributes: dict[str, Any] = {attr.DARSHAN_MODULE: module, attr.FILE_PATH: path}
    attributes.update(values)
    return (attr.DARSHAN_FILE_EVENT, _ns(when), attributes)


def _segment_event(segment: Segment, clock_shift: float) -> EventData:
    return (attr.DARSHAN_SEGMENT_EVENT, _ns(segment.start + clock_shift), {
        attr.DARSHAN_MODULE: segment.module,
        attr.FILE_PATH: segment.path,
        attr.DARSHAN_OPERATION: segment.operation,
        attr.DARSHAN_OFFSET: segment.offset,
        attr.DARSHAN_LENGTH: segment.length,
        attr.DARSHAN_END_TIME: _ns(segment.end + clock_shift),
    })


def worker_span(log: DarshanLog, worker: Mapping[str, Any], attribution: Attribution) -> SpanData:
    """The worker-level span of *log*; *worker* holds the worker's address and name attributes."""
    totals: dict[str, float] = {}
    events: list[EventData] = []
    for counters in log.files:
        for name, value in counters.counters.items():
            if value > 0:  # Darshan writes -1 for "not applicable"
                totals[name] = totals.get(name, 0) + value
        if len(events) < MAX_FILE_EVENTS:
            events.append(_file_event(log.start, counters.module, counters.path, {
                attr.DARSHAN_RANK: counters.rank,
                **{attr.darshan_counter_attribute(name): value
                   for name, value in counters.counters.items()}}))
    attributes: dict[str, Any] = {
        attr.RECORD_TYPE: attr.RECORD_WORKER,
        **worker,
        attr.DARSHAN_LOG: log.path,
        attr.DARSHAN_RUNTIME_VERSION: log.runtime_version,
        attr.DARSHAN_JOB_ID: log.job_id,
        attr.DARSHAN_FILE_COUNT: len({counters.path for counters in log.files}),
        attr.DARSHAN_SEGMENTS: len(log.segments),
        attr.DARSHAN_UNATTRIBUTED_SEGMENTS: attribution.unattributed,
    }
    attributes.update({attr.darshan_counter_attribute(name): totals[name]
                       for names in COUNTERS.values() for name in names if name in totals})
    return SpanData(attr.DARSHAN_SPAN_NAME, new_trace_id(), new_span_id(), None,
                    _ns(log.start), _ns(log.end), attributes, events)


def task_span(window: TaskWindow, segments: Sequence[Segment], log_path: str,
              clock_shift: float = 0.0) -> SpanData:
    """The span of the DXT *segments* of one execution, under its execution span.

    It carries the totals, a ``darshan.file`` event per file and a
    ``darshan.segment`` event per segment (the first :data:`MAX_SEGMENT_EVENTS`).
    *clock_shift* moves local times to the clock of the execution spans (the
    worker's ``scheduler_delay``), so that the span nests in its parent.
    """
    per_file: dict[tuple[str, str], dict[str, int]] = {}
    totals = {"read": [0, 0], "write": [0, 0]}
    for segment in segments:
        totals[segment.operation][0] += segment.length
        totals[segment.operation][1] += 1
        entry = per_file.setdefault((segment.module, segment.path), {
            attr.IO_READ_BYTES: 0, attr.IO_WRITE_BYTES: 0,
            attr.IO_READ_CALLS: 0, attr.IO_WRITE_CALLS: 0})
        if segment.operation == "read":
            entry[attr.IO_READ_BYTES] += segment.length
            entry[attr.IO_READ_CALLS] += 1
        else:
            entry[attr.IO_WRITE_BYTES] += segment.length
            entry[attr.IO_WRITE_CALLS] += 1
    start = min(segment.start for segment in segments) + clock_shift
    end = max(segment.end for segment in segments) + clock_shift
    attributes: dict[str, Any] = {
        attr.RECORD_TYPE: attr.RECORD_DARSHAN_TASK_IO,
        attr.TASK_KEY: window.key,
        attr.TASK_PREFIX: window.prefix,
        attr.TASK_RUN_ID: window.run_id,
        attr.TASK_ATTEMPT_SPAN_ID:
            f"{attempt_span_id(window.trace_id, window.key, window.run_id, 0):016x}",
        attr.DARSHAN_LOG: log_path,
        attr.DARSHAN_SEGMENTS: len(segments),
        attr.IO_READ_BYTES: totals["read"][0],
        attr.IO_READ_CALLS: totals["read"][1],
        attr.IO_WRITE_BYTES: totals["write"][0],
        attr.IO_WRITE_CALLS: totals["write"][1],
        attr.IO_FILES: sorted({path for _, path in per_file}),
    }
    if len(segments) > MAX_SEGMENT_EVENTS:
        attributes[attr.DARSHAN_SEGMENTS_OMITTED] = len(segments) - MAX_SEGMENT_EVENTS
    events = [_file_event(start, module, path, values)
              for (module, path), values in per_file.items()]
    events.extend(_segment_event(segment, clock_shift)
                  for segment in segments[:MAX_SEGMENT_EVENTS])
    span_id = derived_span_id(window.trace_id, window.key, window.run_id, "darshan")
    return SpanData(attr.darshan_task_span_name(window.prefix), window.trace_id, span_id,
                    window.execution_span_id, _ns(start), _ns(end), attributes, events)


def log_spans(log: DarshanLog, windows: Sequence[TaskWindow], worker: Mapping[str, Any],
              clock_shift: float = 0.0, tolerance: float = 0.0) -> list[SpanData]:
    """Every span for one worker's log: the worker span, then one per attributed execution."""
    attribution = attribute_segments(log.segments, windows, tolerance)
    spans = [worker_span(log, worker, attribution)]
    for index, segments in attribution.by_window.items():
        spans.append(task_span(windows[index], segments, log.path, clock_shift))
    return spans


# ---------------------------------------------------------------------------
# The runtime in this process
# ---------------------------------------------------------------------------
def _runtime_library() -> Any | None:
    library = ctypes.CDLL(None)
    return library if hasattr(library, "darshan_core_shutdown") else None


def reader_installed() -> bool:
    """Whether the ``darshan`` package (the log reader) can be imported."""
    import importlib.util

    return importlib.util.find_spec("darshan") is not None


def runtime_loaded() -> bool:
    """Whether the Darshan runtime library is loaded in this process (``LD_PRELOAD``)."""
    return _runtime_library() is not None


def write_log_now() -> bool:
    """Ask the Darshan runtime to write this process's log now, ending its instrumentation.

    Darshan writes a non-MPI process's log at exit; ``darshan_core_shutdown``
    does it earlier, and the exit-time call then finds nothing left to do.
    """
    library = _runtime_library()
    if library is None:
        return False
    library.darshan_core_shutdown(ctypes.c_int(1))
    return True


def find_log(pid: int, environ: Mapping[str, str] | None = None,
             timeout: float = 5.0) -> Path | None:
    """The log Darshan wrote for process *pid*, waiting up to *timeout* seconds for it.

    ``DARSHAN_LOGFILE`` names it exactly; otherwise it is the newest
    ``*_id*-<pid>_*.darshan`` under ``DARSHAN_LOGPATH`` (Darshan files logs in
    ``<year>/<month>/<day>/`` there).
    """
    environ = os.environ if environ is None else environ
    deadline = time.monotonic() + timeout
    while True:
        found = _look_for_log(pid, environ)
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(0.1)


def _look_for_log(pid: int, environ: Mapping[str, str]) -> Path | None:
    exact = environ.get("DARSHAN_LOGFILE")
    if exact:
        path = Path(exact)
        return path if path.is_file() else None
    directory = environ.get("DARSHAN_LOGPATH")
    if not directory or not Path(directory).is_dir():
        return None
    matches = list(Path(directory).rglob(f"*_id*-{pid}_*.darshan"))
    return max(matches, key=lambda path: path.stat().st_mtime) if matches else None
