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
log where :func:`log_locations` says (``DARSHAN_LOGFILE``, the build's
``--with-log-path-by-env`` variable, ``DARSHAN_LOGPATH``). Darshan writes the log
when the process exits, after every hook of ours: :mod:`.darshan_pickup` reads
it then, in a process that outlives the worker.
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
ATTRIBUTION_TOLERANCE = 0.001
"""Seconds a segment may stick out of a task's window and still be the task's. Darshan's
segment times run a few µs late against the process clock (the runtime takes its time
reference a moment before the job start time it writes in the log), and a task's window
ends right after its last call."""
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
    opened: float | None = None
    """When the process first opened the file (seconds since the epoch), if known."""
    closed: float | None = None
    """When it last closed it; with :attr:`opened`, the time the file was in use."""


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


_IN_USE = {"POSIX": ("POSIX_F_OPEN_START_TIMESTAMP", "POSIX_F_CLOSE_END_TIMESTAMP"),
           "STDIO": ("STDIO_F_OPEN_START_TIMESTAMP", "STDIO_F_CLOSE_END_TIMESTAMP")}


def _in_use(module: str, values: Mapping[str, float], start: float) -> tuple[float | None, float | None]:
    """First open and last close of a file record (job-relative in the log), absolute."""
    names = _IN_USE.get(module)
    if names is None:
        return None, None
    opened, closed = values.get(names[0], 0.0), values.get(names[1], 0.0)
    if not opened or opened <= 0 or closed < opened:  # never opened, or still open at exit
        return None, None
    return start + opened, start + closed


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
            opened, closed = _in_use(module, values, start)
            log.files.append(FileCounters(module, names.get(record["id"], str(record["id"])), kept,
                                          int(record["rank"]), opened, closed))
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
    """Give each segment to the one window containing it within *tolerance* seconds (of
    several such windows, to the one containing it exactly, if there is one)."""
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
        if len(candidates) > 1:  # within the tolerance of several: the one holding it, if any
            holding = [index for index in candidates
                       if windows[index].start <= segment.start
                       and segment.end <= windows[index].end]
            candidates = holding if len(holding) == 1 else candidates
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
              clock_shift: float = 0.0, files: Sequence[FileCounters] = ()) -> SpanData:
    """The span of the DXT *segments* of one execution, under its execution span.

    It carries the totals, a ``darshan.file`` event per file and a
    ``darshan.segment`` event per segment (the first :data:`MAX_SEGMENT_EVENTS`).
    *clock_shift* moves local times to the clock of the execution spans (the
    worker's ``scheduler_delay``), so that the span nests in its parent.

    *files* are the file records (no DXT) whose whole use, first open to last close,
    fell in this execution: each is a ``darshan.file`` event with the record's
    counters and ``dask.darshan.attributed_by`` = ``open-close``, at its first open.
    """
    per_file: dict[tuple[str, str], dict[str, int]] = {}
    totals = {"read": [0, 0], "write": [0, 0]}
    for record in files:  # without DXT: the record's own counts
        counters = record.counters
        prefix = "MPIIO" if record.module == "MPI-IO" else record.module
        totals["read"][0] += int(max(counters.get(f"{prefix}_BYTES_READ", 0), 0))
        totals["write"][0] += int(max(counters.get(f"{prefix}_BYTES_WRITTEN", 0), 0))
        totals["read"][1] += int(max(counters.get(f"{prefix}_READS", 0), 0))
        totals["write"][1] += int(max(counters.get(f"{prefix}_WRITES", 0), 0))
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
    times = [*(segment.start for segment in segments), *(f.opened for f in files if f.opened)]
    ends = [*(segment.end for segment in segments), *(f.closed for f in files if f.closed)]
    start = min(times) + clock_shift
    end = max(ends) + clock_shift
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
    for record in files:
        events.append(_file_event((record.opened or 0.0) + clock_shift, record.module, record.path, {
            attr.DARSHAN_RANK: record.rank, attr.DARSHAN_ATTRIBUTED_BY: attr.DARSHAN_BY_OPEN_CLOSE,
            attr.DARSHAN_END_TIME: _ns((record.closed or 0.0) + clock_shift),
            **{attr.darshan_counter_attribute(name): value
               for name, value in record.counters.items()}}))
    if files:
        attributes[attr.IO_FILES] = sorted({*attributes[attr.IO_FILES],
                                            *(record.path for record in files)})
    events.extend(_segment_event(segment, clock_shift)
                  for segment in segments[:MAX_SEGMENT_EVENTS])
    span_id = derived_span_id(window.trace_id, window.key, window.run_id, "darshan")
    return SpanData(attr.darshan_task_span_name(window.prefix), window.trace_id, span_id,
                    window.execution_span_id, _ns(start), _ns(end), attributes, events)


def log_spans(log: DarshanLog, windows: Sequence[TaskWindow], worker: Mapping[str, Any],
              clock_shift: float = 0.0, tolerance: float = 0.0) -> list[SpanData]:
    """Every span for one worker's log: the worker span, then one per attributed execution."""
    attribution = attribute_segments(log.segments, windows, tolerance)
    files = attribute_files(log, windows, tolerance)
    spans = [worker_span(log, worker, attribution)]
    for index in sorted({*attribution.by_window, *files}):
        spans.append(task_span(windows[index], attribution.by_window.get(index, []), log.path,
                               clock_shift, files.get(index, [])))
    return spans


def attribute_files(log: DarshanLog, windows: Sequence[TaskWindow],
                    tolerance: float = 0.0) -> dict[int, list[FileCounters]]:
    """File records without DXT segments whose whole use (first open to last close) fell in
    one execution's window, by window index: without DXT, what a task did to a file it
    alone opened. A file used by several tasks, or open across tasks, stays the worker's."""
    traced = {segment.path for segment in log.segments}
    records = [record for record in log.files
               if record.opened is not None and record.closed is not None
               and record.path not in traced]
    spans: list[Segment] = []
    by_use: dict[int, FileCounters] = {}
    for record in records:
        use = Segment(record.module, record.path, "use", 0, 0, record.opened or 0.0,
                      record.closed or 0.0)
        spans.append(use)
        by_use[id(use)] = record
    found: dict[int, list[FileCounters]] = {}
    for index, attributed in attribute_segments(spans, windows, tolerance).by_window.items():
        found[index] = [by_use[id(use)] for use in attributed]
    return found


# ---------------------------------------------------------------------------
# The runtime in this process, and where it writes its log
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


def darshan_config(environ: Mapping[str, str] | None = None) -> Path | None:
    """The ``darshan-config`` of the runtime: beside the preloaded ``libdarshan.so``
    (``<prefix>/lib/libdarshan.so`` → ``<prefix>/bin/darshan-config``), else on ``PATH``."""
    import shutil

    environ = os.environ if environ is None else environ
    for entry in environ.get("LD_PRELOAD", "").replace(":", " ").split():
        if "libdarshan" in Path(entry).name:
            candidate = Path(entry).resolve().parent.parent / "bin" / "darshan-config"
            if candidate.is_file():
                return candidate
    found = shutil.which("darshan-config", path=environ.get("PATH"))
    return Path(found) if found else None


def configured_log_path(environ: Mapping[str, str] | None = None) -> tuple[list[str], list[str]]:
    """What the runtime was built with: the ``--with-log-path-by-env`` variable names and
    the ``--with-log-path`` directory, as ``darshan-config --log-path`` tells
    (``$NAME1,$NAME2,/default/path``); empty lists when it cannot be asked."""
    import subprocess

    from ...export.exporter_process import helper_environment

    config = darshan_config(environ)
    if config is None:
        return [], []
    try:
        output = subprocess.run(["/bin/sh", str(config), "--log-path"], capture_output=True,
                                text=True, timeout=10, check=False,
                                env=helper_environment(environ)).stdout
    except (OSError, subprocess.SubprocessError):
        return [], []
    names, paths = [], []
    for token in output.strip().split(","):
        token = token.strip()
        if token.startswith("$") and len(token) > 1:
            names.append(token[1:])
        elif token:
            paths.append(token)
    return names, paths


def log_locations(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Where the runtime of a process with *environ* writes its log, in the runtime's order.

    ``("file", path)`` for ``DARSHAN_LOGFILE``; ``("flat", dir)`` for the first set
    variable of the build's ``--with-log-path-by-env`` list (logs straight in the
    directory); ``("dated", dir)`` for ``DARSHAN_LOGPATH`` and the build's
    ``--with-log-path`` (logs in ``<dir>/<year>/<month>/<day>/``). The runtime uses
    the first that is set; the others are kept as fallbacks.
    """
    environ = os.environ if environ is None else environ
    if environ.get("DARSHAN_LOGFILE"):
        return [("file", environ["DARSHAN_LOGFILE"])]
    names, paths = configured_log_path(environ)
    locations = []
    for name in names:
        if environ.get(name):
            locations.append(("flat", environ[name]))
            break
    if environ.get("DARSHAN_LOGPATH"):
        locations.append(("dated", environ["DARSHAN_LOGPATH"]))
    locations.extend(("dated", path) for path in paths)
    return locations


def find_log(pid: int, environ: Mapping[str, str] | None = None, timeout: float = 5.0, *,
             locations: Sequence[tuple[str, str]] | None = None,
             started: float | None = None) -> Path | None:
    """The log Darshan wrote for process *pid*, waiting up to *timeout* seconds for it.

    Looked for in *locations* (:func:`log_locations` of *environ* by default):
    ``DARSHAN_LOGFILE`` names it exactly; in a directory it is the newest
    ``*_id*-<pid>_*.darshan`` (the runtime renames ``.darshan_partial`` when the log
    is complete) written after *started*, the process's start time (a pid can be
    reused), under ``<year>/<month>/<day>/`` of that start for a dated directory.
    """
    if locations is None:
        locations = log_locations(environ)
    deadline = time.monotonic() + timeout
    while True:
        for kind, where in locations:
            found = _look_for_log(pid, kind, Path(where), started)
            if found is not None:
                return found
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def _look_for_log(pid: int, kind: str, where: Path, started: float | None) -> Path | None:
    if kind == "file":
        return where if where.is_file() else None
    pattern = f"*_id*-{pid}_*.darshan"
    if kind == "flat":
        matches = list(where.glob(pattern))
    elif started is not None:
        day = time.localtime(started)  # the runtime files a log by its start, local time
        matches = list((where / str(day.tm_year) / str(day.tm_mon) / str(day.tm_mday))
                       .glob(pattern))
    else:
        matches = list(where.rglob(pattern))
    if started is not None:
        matches = [path for path in matches if path.stat().st_mtime >= started - 1]
    return max(matches, key=lambda path: path.stat().st_mtime) if matches else None
