"""The worker side: one ``execute`` span per task run, under the scheduler's attempt span.

When a task leaves the ``executing`` state, :class:`TracingWorkerPlugin` reads
the task's ``otel_dask_prov`` annotation (the computation's ``traceparent``,
set by the scheduler plugin) and its ``run_id``, and queues an
:class:`~otel_dask_prov.capture.records.ExecutionRecord`. On the export thread that
record derives its parent span id exactly as the scheduler does
(:func:`otel_dask_prov.capture.span_ids.attempt_span_id`) and becomes the execution span,
with the executing thread and the outcome, and one child span per
``startstops`` entry (transfer, compute, disk-read, disk-write). Tasks without
the annotation (tracing off on the scheduler, or a computation not sampled) are
not recorded.
"""

from __future__ import annotations

from time import time
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from .. import attributes as attr
from ..export.span_pipeline import SpanPipeline
from ..settings import Settings, resolve_settings
from . import task_thread
from .plugin_base import TracingPluginBase
from .probes.worker import WorkerProvenance
from .records import ExecutionRecord, split_exception_text
from .resource import build_resource
from .span_ids import parse_traceparent

_EXECUTING = frozenset({"executing", "long-running"})
_OUTCOMES = {
    "memory": attr.OUTCOME_SUCCESS,
    "error": attr.OUTCOME_ERROR,
    "cancelled": attr.OUTCOME_CANCELLED,
    "rescheduled": attr.OUTCOME_RELEASED,
    "released": attr.OUTCOME_RELEASED,
}
_MAX_TRACEPARENTS = 256
"""Bound of the worker plugin's cache of parsed ``traceparent`` strings (one per computation)."""


class TracingWorkerPlugin(TracingPluginBase, WorkerPlugin):
    """Record every task a Dask worker executes as OpenTelemetry spans.

    Parameters are the settings of :mod:`otel_dask_prov.settings`; unset ones come
    from ``OTEL_*`` variables and the Dask config of the worker's process.
    """

    def setup(self, worker: Any) -> None:
        self.settings: Settings = resolve_settings(**self._options)
        self.worker = worker
        if not self.settings.enabled:
            return
        resource = build_resource(
            "worker",
            self.settings,
            {
                attr.WORKER_ADDRESS: worker.address or "",
                attr.WORKER_NAME: str(worker.name),
                attr.SCHEDULER_ADDRESS: worker.scheduler.address or "",
            },
        )
        self.pipeline = SpanPipeline(self.settings, resource)
        self.pipeline.start()
        self.provenance = WorkerProvenance(self.settings, worker, self.pipeline)
        task_thread.install(self, self.provenance.recorder)
        self._worker_name = str(worker.name)
        self._trace_ids: dict[str, int | None] = {}
        self._active = True

    def teardown(self, worker: Any) -> None:
        if not self._active:
            return
        self._active = False
        task_thread.uninstall(self)
        self.provenance.close()
        self.pipeline.shutdown()
        self._report_errors(f"worker {worker.address}")

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if not self._active or start not in _EXECUTING or finish in _EXECUTING:
            return
        try:
            self._record_execution(key, finish)
        except Exception as error:  # noqa: BLE001 - never raise into Dask
            self._record_error(error, f"worker {self.worker.address}")

    def _trace_id(self, traceparent: Any) -> int | None:
        """The trace id in a task's ``traceparent`` annotation, or ``None`` if there is none.

        Every task of a computation carries the same string, so it is parsed once.
        """
        if not isinstance(traceparent, str):
            return None
        trace_ids = self._trace_ids
        if traceparent in trace_ids:
            return trace_ids[traceparent]
        if len(trace_ids) >= _MAX_TRACEPARENTS:
            trace_ids.clear()
        parent = parse_traceparent(traceparent)
        trace_id = trace_ids[traceparent] = parent.trace_id if parent is not None else None
        return trace_id

    def _record_execution(self, key: Any, finish: str) -> None:
        observation = task_thread.observations.pop(key, None)
        ts = self.worker.state.tasks.get(key)
        if ts is None or not ts.annotations:
            return
        trace_id = self._trace_id(ts.annotations.get(attr.ANNOTATION))
        if trace_id is None:
            return
        startstops = list(ts.startstops)  # Dask appends entries; it never changes one
        if len(startstops) == 1:
            entry = startstops[0]
            start, end = entry["start"], entry["stop"]
        elif startstops:
            start = min([entry["start"] for entry in startstops])
            end = max([entry["stop"] for entry in startstops])
        else:
            start = end = self.worker.scheduler_delay + time()
        record = ExecutionRecord(
            trace_id,
            str(key),
            ts.prefix,
            ts.run_id,
            self.worker.address,
            self._worker_name,
            _OUTCOMES.get(finish, finish),
            startstops,
            start,
            end,
        )
        if observation is not None:
            record.thread_id = observation.thread_id
            record.thread_native_id = observation.native_id
            record.thread_name = observation.thread_name
            record.exception_type = observation.exception_type
            record.exception_message = observation.exception_message
        if finish == "memory":
            record.nbytes = ts.nbytes
            record.result_type = ts.type.__name__ if isinstance(ts.type, type) else None
        elif finish == "error":
            if record.exception_type is None and ts.exception_text:
                record.exception_type, record.exception_message = split_exception_text(
                    ts.exception_text)
            if self.settings.record_tracebacks:
                record.stacktrace = ts.traceback_text
        self.provenance.complete(record, observation, key, ts.run_spec)
        self.pipeline.put(record)
