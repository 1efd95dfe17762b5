"""The worker plugin's provenance side: per-task attributes in, Darshan spans out.

:class:`WorkerProvenance` is created by the worker plugin at set-up. It owns the
:class:`~.recorder.TaskRecorder` that the executing-thread wrapper calls, adds
what the recorder saw to each execution record (:meth:`complete`, on the event
loop), and at teardown (:meth:`close`) reads the worker's Darshan log when the
``darshan`` setting is on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from ... import attributes as attr
from ...export.span_data import SpanData
from ...settings import Settings
from ..span_ids import execution_span_id
from . import darshan_logs as darshan
from .recorder import TaskObservation, TaskRecorder

logger = logging.getLogger("otel_dask_prov")


class _Spans:
    """Spans built already, queued on the pipeline like any record."""

    def __init__(self, spans: list[SpanData]) -> None:
        self.spans = spans

    def to_span_data(self) -> Iterable[SpanData]:
        return self.spans


class WorkerProvenance:
    """Provenance of one worker's task executions (see the module doc)."""

    def __init__(self, settings: Settings, worker: Any, pipeline: Any) -> None:
        self.settings = settings
        self.worker = worker
        self.pipeline = pipeline
        recorder = TaskRecorder(settings)
        self.recorder: TaskRecorder | None = recorder if recorder.active else None
        self.windows: list[Any] | None = None
        self.windows_dropped = 0
        if settings.darshan:
            self.windows = [] if self._darshan_usable() else None

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

    def complete(self, record: Any, observation: Any) -> None:
        """Add what the executing thread recorded to *record* (an ``ExecutionRecord``)."""
        seen: TaskObservation | None = getattr(observation, "provenance", None)
        if seen is None:
            return
        record.extra.update(seen.attributes)
        if self.windows is None or seen.window is None:
            return
        if len(self.windows) >= darshan.MAX_WINDOWS:
            self.windows_dropped += 1
            return
        self.windows.append(darshan.TaskWindow(
            seen.window[0], seen.window[1], getattr(observation, "native_id", None),
            record.trace_id, execution_span_id(record.trace_id, record.key, record.run_id),
            record.key, record.prefix, record.run_id))

    def close(self) -> None:
        """At teardown: read this worker's Darshan log and queue its spans."""
        if self.windows is None:
            return
        try:
            darshan.write_log_now()
            path = darshan.find_log(os.getpid())
            if path is None:
                logger.warning("otel-dask-prov: no Darshan log found for worker process %d "
                               "(set DARSHAN_LOGFILE or DARSHAN_LOGPATH)", os.getpid())
                return
            if self.windows_dropped:
                logger.warning("otel-dask-prov: %d task executions past the first %d are not "
                               "matched with Darshan DXT segments", self.windows_dropped,
                               darshan.MAX_WINDOWS)
            log = darshan.read_log(path)
            worker = {attr.WORKER_ADDRESS: self.worker.address or "",
                      attr.WORKER_NAME: str(self.worker.name)}
            spans = darshan.log_spans(log, self.windows, worker,
                                      clock_shift=self.worker.scheduler_delay)
            self.pipeline.put(_Spans(spans))
        except Exception as error:  # noqa: BLE001 - never raise into Dask
            logger.warning("otel-dask-prov: could not read the Darshan log: %r", error)
