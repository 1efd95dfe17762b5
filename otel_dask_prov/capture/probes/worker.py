"""The worker plugin's provenance side: per-task attributes in, Darshan spans out.

:class:`WorkerProvenance` is created by the worker plugin at set-up. It owns the
:class:`~.recorder.TaskRecorder` that the executing-thread wrapper calls, adds
what the recorder saw to each execution record (:meth:`complete`, on the event
loop), and with the ``darshan`` setting on journals what the Darshan pick-up
(:mod:`.darshan_pickup`) needs to read the worker's log after the worker exits.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ... import attributes as attr
from ...export.exporter_process import export_settings
from ...settings import Settings
from ..span_ids import execution_span_id
from . import darshan_logs as darshan
from .darshan_pickup import DarshanWatch, DarshanWindow, start_pickup
from .recorder import TaskObservation, TaskRecorder
from .task_logs import pop_worker_record

logger = logging.getLogger("otel_dask_prov")


class WorkerProvenance:
    """Provenance of one worker's task executions (see the module doc)."""

    def __init__(self, settings: Settings, worker: Any, pipeline: Any) -> None:
        self.settings = settings
        self.worker = worker
        self.pipeline = pipeline
        recorder = TaskRecorder(settings)
        self.recorder: TaskRecorder | None = recorder if recorder.active else None
        self.windows: list[DarshanWindow] | None = None
        """The windows kept here (no exporter process to gather them), else ``None``."""
        self.watch: DarshanWatch | None = None
        self.window_count = 0
        self.windows_dropped = 0
        if settings.darshan and self._darshan_usable():
            self.watch = self._watch()

    def _watch(self) -> DarshanWatch | None:
        """Journal where this process's log will be (read once it exits)."""
        import psutil

        locations = darshan.log_locations()
        if not locations:
            logger.warning("otel-dask-prov: the darshan setting is on but the Darshan runtime "
                           "of this worker has no log location (set DARSHAN_LOGPATH, "
                           "DARSHAN_LOGFILE or the variable of its --with-log-path-by-env)")
            return None
        watch = DarshanWatch(os.getpid(), psutil.Process().create_time(), locations, {
            attr.WORKER_ADDRESS: self.worker.address or "",
            attr.WORKER_NAME: str(self.worker.name)})
        self.pipeline.put(watch)
        if not self.pipeline.exporter_process_running:
            self.windows = []
        self._close_on_sigterm()
        return watch

    def _close_on_sigterm(self) -> None:
        """Make a SIGTERM close this worker process gracefully rather than end it at once.

        The Darshan runtime writes its log only at a normal exit, and a worker under a
        nanny has no SIGTERM handler of its own: at the end of a batch job, where every
        process gets SIGTERM, it would die without a log. ``dask worker`` without a nanny
        has its own handler, which is kept. A second SIGTERM ends the process at once.
        """
        import asyncio
        import signal
        import threading

        if (threading.current_thread() is not threading.main_thread()
                or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        worker = self.worker

        def close(signum: int, frame: Any) -> None:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            logger.warning("otel-dask-prov: SIGTERM: closing the worker so that the Darshan "
                           "runtime writes its log (a second SIGTERM ends it at once)")
            loop.call_soon_threadsafe(
                lambda: loop.create_task(worker.close(nanny=False, reason="signal-15")))

        signal.signal(signal.SIGTERM, close)

    @staticmethod
    def _darshan_usable() -> bool:
        if not darshan.reader_installed():
            logger.warning("otel-dask-prov: the darshan setting is on but the `darshan` "
                           "package is not installed here; run `pip install darshan`")
            return False
        if not darshan.runtime_loaded():
            logger.warning("otel-dask-prov: the darshan setting is on but this worker does "
                           "not run under the Darshan runtime (LD_PRELOAD=libdarshan.so "
                           "DARSHAN_ENABLE_NONMPI=1); no Darshan log will be read")
            return False
        return True

    def complete(self, record: Any, observation: Any, key: Any = None, task: Any = None) -> None:
        """Add what the executing thread recorded to *record* (an ``ExecutionRecord``), and
        the worker's own log record about the attempt of *key* (which ran *task*)."""
        recorder = self.recorder
        if recorder is not None and recorder.logs is not None:
            worker_record = pop_worker_record(key)
            if worker_record is not None:
                record.logs.extend(recorder.logs.redact([worker_record], task))
        seen: TaskObservation | None = getattr(observation, "provenance", None)
        if seen is None:
            return
        record.extra.update(seen.attributes)
        if seen.logs is not None:
            entries, record.logs_dropped = seen.logs
            record.logs[:0] = entries
        if self.watch is None or seen.window is None:
            return
        if self.window_count >= darshan.MAX_WINDOWS:
            self.windows_dropped += 1
            return
        self.window_count += 1
        window = DarshanWindow(
            seen.window[0], seen.window[1], getattr(observation, "native_id", None),
            record.trace_id, execution_span_id(record.trace_id, record.key, record.run_id),
            record.key, record.prefix, record.run_id, float(self.worker.scheduler_delay))
        self.pipeline.put(window)
        if self.windows is not None:
            self.windows.append(window)

    def close(self) -> None:
        """At teardown: without an exporter process, start the Darshan pick-up from here.

        The Darshan runtime writes this process's log when it exits; the pick-up
        process waits for that (:mod:`.darshan_pickup`).
        """
        if self.recorder is not None:
            self.recorder.close()
        if self.watch is None:
            return
        if self.windows_dropped:
            logger.warning("otel-dask-prov: %d task executions past the first %d are not "
                           "matched with Darshan DXT segments", self.windows_dropped,
                           darshan.MAX_WINDOWS)
        if self.windows is None:
            return  # the exporter process gathered the windows and starts the pick-up
        try:
            start_pickup(self.watch, self.windows, export_settings(self.settings),
                         dict(self.pipeline.resource.attributes))
        except Exception as error:  # noqa: BLE001 - never raise into Dask
            logger.warning("otel-dask-prov: could not start reading the Darshan log: %r", error)
