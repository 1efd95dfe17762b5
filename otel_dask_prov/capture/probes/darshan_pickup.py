"""Reading a worker's Darshan log once the worker has exited, and exporting its spans.

The Darshan runtime writes a process's log when the process exits (a library
destructor), after every hook of ours has run. So the log is read by a process
that outlives the worker:

1. At set-up the worker journals a :class:`DarshanWatch` (its pid, start time,
   where its runtime writes logs), and for every task execution a
   :class:`DarshanWindow` (when the task function ran, on which thread, and which
   span it is). Both are journal records like the execution records, so they
   survive the worker being killed, and they make no spans themselves.
2. The worker's exporter process (:mod:`otel_dask_prov.export.exporter_process`),
   which follows the journal and learns when the worker is gone, gathers them
   instead of exporting them, and when the worker is gone hands them to
   :meth:`DarshanRecord.after_exit`. Without an exporter process (the
   ``export-process`` setting off) the worker does so itself at teardown.
3. That starts this module as a process of its own (``python -m``), detached, so
   that neither the worker nor its exporter process waits for it. It waits for
   the worker process to end, looks for its log where the runtime writes it
   (:func:`~.darshan_logs.log_locations`: ``DARSHAN_LOGFILE``, the build's
   ``--with-log-path-by-env`` variable, ``DARSHAN_LOGPATH``), reads it, attributes
   the DXT segments to the task windows and exports the spans
   (:func:`~.darshan_logs.log_spans`) with the worker's resource, where the worker's
   spans go. No log after the worker ended (killed, so the runtime never wrote
   it) is one warning line.

Helper processes run without ``libdarshan`` in ``LD_PRELOAD``, so that they
write no Darshan logs of their own. The pick-up ignores ``SIGTERM`` and ``SIGHUP``:
at the end of a batch job every process gets ``SIGTERM``, the workers exit then
(and only then write their logs), and the pick-up must still be there to read them.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ...export.exporter_process import helper_command, helper_environment
from ...export.span_data import SpanData

logger = logging.getLogger("otel_dask_prov")

EXIT_WAIT = 3600.0
"""Longest wait for the worker process to end after its tracing did (an in-process
worker whose Python process carries on)."""
LOG_WAIT = 5.0
"""How long a log may take to appear once the process ended (a shared file system)."""


class _Spans:
    """Spans built already, queued on a pipeline like any record."""

    def __init__(self, spans: list[SpanData]) -> None:
        self.spans = spans

    def to_span_data(self) -> Iterable[SpanData]:
        return self.spans


class DarshanRecord:
    """A journal record for the Darshan pick-up: gathered, never exported as a span."""

    __slots__: tuple[str, ...] = ()
    AFTER_EXIT = "darshan"
    """The exporter process gathers records with this attribute (by its value) and hands
    them to :meth:`after_exit` once the process that journaled them is gone."""

    def to_span_data(self) -> Iterable[SpanData]:
        return ()

    @staticmethod
    def after_exit(records: Sequence[Any], context: Mapping[str, Any]) -> None:
        """Start the pick-up of the log the gathered *records* describe.

        *context* has ``settings`` (the export settings, JSON values) and
        ``resource`` (the journal's resource attributes).
        """
        watches = [record for record in records if isinstance(record, DarshanWatch)]
        if not watches:
            return
        windows = [record for record in records if isinstance(record, DarshanWindow)]
        start_pickup(watches[-1], windows, context["settings"], context["resource"])


class DarshanWatch(DarshanRecord):
    """Journaled at worker set-up: read this process's Darshan log after it exits."""

    JOURNAL_FIELDS = ("pid", "started", "locations", "worker")
    __slots__ = JOURNAL_FIELDS

    def __init__(self, pid: int, started: float, locations: Sequence[tuple[str, str]],
                 worker: Mapping[str, Any]) -> None:
        self.pid = pid
        self.started = started
        self.locations = [list(location) for location in locations]
        self.worker = dict(worker)


class DarshanWindow(DarshanRecord):
    """Journaled per task execution: when its function ran (local clock) and which span it is."""

    JOURNAL_FIELDS = ("start", "end", "thread", "trace_id", "execution_span_id", "key", "prefix",
                      "run_id", "clock_shift")
    __slots__ = JOURNAL_FIELDS

    def __init__(self, start: float, end: float, thread: int | None, trace_id: int,
                 execution_span_id: int, key: str, prefix: str, run_id: int,
                 clock_shift: float) -> None:
        self.start = start
        self.end = end
        self.thread = thread
        self.trace_id = trace_id
        self.execution_span_id = execution_span_id
        self.key = key
        self.prefix = prefix
        self.run_id = run_id
        self.clock_shift = clock_shift


def start_pickup(watch: DarshanWatch, windows: Sequence[DarshanWindow],
                 settings: Mapping[str, Any], resource: Mapping[str, Any]) -> None:
    """Start the detached pick-up process of *watch*'s log; returns at once."""
    payload = {
        "settings": dict(settings),
        "resource": dict(resource),
        "watch": [getattr(watch, name) for name in DarshanWatch.JOURNAL_FIELDS],
        "windows": [[getattr(window, name) for name in DarshanWindow.JOURNAL_FIELDS]
                    for window in windows],
    }
    process = subprocess.Popen(helper_command(__name__), stdin=subprocess.PIPE,
                               start_new_session=True, env=helper_environment())
    assert process.stdin is not None
    try:
        process.stdin.write(json.dumps(payload).encode())
    finally:
        process.stdin.close()
    process.returncode = 0  # detached: nobody waits for it, so no ResourceWarning


# ---------------------------------------------------------------------------
# The pick-up process
# ---------------------------------------------------------------------------
def wait_for_exit(pid: int, started: float, timeout: float) -> bool:
    """Wait until process *pid* (started at *started*) has ended; ``False`` on timeout.

    A zombie counts as ended (the runtime wrote the log before), and so does
    another process with the same pid (the worker ended and its pid was reused).
    """
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        try:
            process = psutil.Process(pid)
            if (abs(process.create_time() - started) > 1.0
                    or process.status() == psutil.STATUS_ZOMBIE):
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def pick_up(payload: Mapping[str, Any]) -> int:
    """Wait for the worker to end, read its log, export the spans; the spans exported."""
    from opentelemetry.sdk.resources import Resource

    from ...export.span_pipeline import SpanPipeline
    from ...settings import resolve_settings
    from . import darshan_logs as darshan

    pid, started, locations, worker = payload["watch"]
    windows = [darshan.TaskWindow(start, end, thread, trace_id, execution_span_id, key,
                                  prefix, run_id)
               for start, end, thread, trace_id, execution_span_id, key, prefix, run_id, _
               in payload["windows"]]
    clock_shift = payload["windows"][-1][-1] if payload["windows"] else 0.0
    if not wait_for_exit(pid, started, EXIT_WAIT):
        logger.warning("otel-dask-prov: worker process %d did not end within %d s of its "
                       "tracing; its Darshan log is not read", pid, EXIT_WAIT)
        return 0
    where = [tuple(location) for location in locations]
    path = darshan.find_log(pid, locations=where, started=started, timeout=LOG_WAIT)
    if path is None:
        places = ", ".join(f"{kind} {directory}" for kind, directory in where) or "nowhere"
        day = time.localtime(started)
        missing = [f"{directory}/{day.tm_year}/{day.tm_mon}/{day.tm_mday}"
                   for kind, directory in where if kind == "dated"
                   and not Path(directory, str(day.tm_year), str(day.tm_mon),
                                str(day.tm_mday)).is_dir()]
        if missing:  # the runtime makes no directories (darshan-mk-log-dirs.pl does)
            places += f"; {', '.join(missing)} does not exist, run darshan-mk-log-dirs.pl"
        logger.warning("otel-dask-prov: no Darshan log of worker process %d (looked in: %s); "
                       "Darshan writes it only when the process exits normally, so a killed "
                       "worker has none and its I/O is not in the provenance", pid, places)
        return 0
    log = darshan.read_log(path)
    spans = darshan.log_spans(log, windows, worker, clock_shift=clock_shift,
                              tolerance=darshan.ATTRIBUTION_TOLERANCE)
    settings = resolve_settings(_check_filesystem=False, **payload["settings"])
    pipeline = SpanPipeline(settings, Resource(payload["resource"]), journal=False)
    pipeline.put(_Spans(spans))
    pipeline.shutdown()
    return len(spans)


def main() -> int:
    logging.basicConfig(format="%(message)s", level=logging.WARNING)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # SIGTERM: see helper_command
    try:
        pick_up(json.loads(sys.stdin.buffer.read()))
    except Exception as error:  # noqa: BLE001 - one line in the worker's log, not a traceback
        logger.warning("otel-dask-prov: could not read the Darshan log: %r", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
