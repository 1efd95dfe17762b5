"""What the executing thread records around each task, as the settings ask.

:class:`TaskRecorder` runs on the thread that executes a task, called by the
wrapper of :mod:`otel_dask_prov.capture.task_thread`: :meth:`~TaskRecorder.start` just
before the task function, :meth:`~TaskRecorder.finish` just after. The probes
nest so that each measures as little of the others as possible::

    code identity, arguments      (before; the first digest of a function reads its source)
    Yappi profile                 (start / stop)
    I/O counters                  (snapshot / snapshot)
    files opened                  (start / stop)
    time window for Darshan       (time / time)
    log records of the thread     (start / stop)
        task function
    result hash                   (after everything else)

Tasks of computations that are not traced (no ``otel_dask_prov`` annotation:
sampled out, or tracing off on the scheduler) are not recorded. Nothing here
raises into Dask: a failing probe is counted in :attr:`TaskRecorder.errors`.
"""

from __future__ import annotations

import contextlib
import logging
from time import time
from typing import Any

from ... import attributes as attr
from ...settings import Settings
from . import task_io
from .arguments import render_arguments
from .code import FunctionCache, origin_attributes, task_function
from .files import FileRecorder
from .redaction import Redactor
from .task_logs import LogCapture, LogEntry

logger = logging.getLogger("otel_dask_prov")


class TaskObservation:
    """What a task's executing thread recorded: span attributes, its time window, its logs."""

    __slots__ = ("attributes", "logs", "window")

    def __init__(self, attributes: dict[str, Any], window: tuple[float, float] | None,
                 logs: tuple[list[LogEntry], int] | None = None) -> None:
        self.attributes = attributes
        self.window = window
        """``(start, end)`` of the task function, in this host's clock, when Darshan wants it."""
        self.logs = logs
        """``(records kept, records dropped)`` with the ``record_logs`` setting."""


class TaskRecorder:
    """The per-task probes the settings enable (see the module doc)."""

    def __init__(self, settings: Settings) -> None:
        self.errors = 0
        self.code = FunctionCache() if settings.record_code else None
        self.io = task_io.ThreadIO() if settings.task_io and task_io.supported() else None
        self.argument_max_bytes = settings.argument_max_bytes
        self.redactor = Redactor(settings.redact) if settings.record_arguments else None
        self.files = FileRecorder() if settings.record_files else None
        self.profiler = None
        if settings.yappi:
            try:
                from .profiling import YappiProfiler

                self.profiler = YappiProfiler(settings.yappi_clock, settings.yappi_top)
            except ImportError:
                logger.warning("otel-dask-prov: the yappi setting is on but Yappi is not "
                               "installed here; run `pip install yappi` (tasks are not profiled)")
        self.result_hash = settings.result_hash
        self.windows = settings.darshan
        self.logs = LogCapture(settings) if settings.record_logs else None

    @property
    def active(self) -> bool:
        """Whether any probe is on."""
        return bool(self.code or self.io or self.redactor or self.files or self.profiler
                    or self.result_hash or self.windows or self.logs)

    @staticmethod
    def _annotations(execution_state: Any, key: Any) -> dict[str, Any] | None:
        """The annotations of a traced task (``{}`` outside a worker), ``None`` if untraced."""
        worker = execution_state.get("worker") if isinstance(execution_state, dict) else None
        if worker is None:
            return {}
        ts = worker.state.tasks.get(key)
        if ts is None or not ts.annotations or attr.ANNOTATION not in ts.annotations:
            return None
        annotations: dict[str, Any] = ts.annotations
        return annotations

    def start(self, task: Any, execution_state: Any, key: Any) -> tuple[Any, ...] | None:
        """Begin recording *task*; the state to hand to :meth:`finish`, or ``None``."""
        profiling = False
        try:
            annotations = self._annotations(execution_state, key)
            if annotations is None:
                return None
            attributes: dict[str, Any] = {}
            if self.code is not None:
                described = self.code.attributes(task)
                if described:
                    attributes.update(described)
                origin = annotations.get(attr.CODE_ORIGIN_ANNOTATION)
                if isinstance(origin, str):  # the cell that defined it, told by the client
                    attributes.update(origin_attributes(origin))
            if self.redactor is not None:
                attributes[attr.TASK_ARGUMENTS] = render_arguments(
                    task, self.argument_max_bytes, self.redactor)
            if self.profiler is not None:
                skipped = self.profiler.start(task_function(task))
                profiling = skipped is None
                if skipped is not None:
                    attributes[attr.PROFILE_SKIPPED] = skipped
            io_before = self.io.snapshot() if self.io is not None else None
            if self.files is not None:
                self.files.start()
            window_start = time() if self.windows else None
            logs = self.logs.start() if self.logs is not None else None
            return attributes, profiling, io_before, window_start, logs, task
        except Exception as error:  # noqa: BLE001 - never raise into Dask
            self._stop_probes(profiling)
            self._failed(error)
            return None

    def finish(self, state: tuple[Any, ...], result: Any) -> TaskObservation | None:
        """End recording; *result* is Dask's message about the run (a dict)."""
        attributes, profiling, io_before, window_start, logs, task = state
        try:
            try:
                kept = self.logs.stop(logs, task) if logs is not None else None  # type: ignore[union-attr]
                window = (window_start, time()) if window_start is not None else None
                if io_before is not None:
                    attributes.update(self.io.delta(io_before, self.io.snapshot()))  # type: ignore[union-attr]
            finally:
                attributes.update(self._stop_probes(profiling))
            if (self.result_hash and isinstance(result, dict)
                    and result.get("op") == "task-finished"):
                self._hash_result(result.get("result"), attributes)
            return TaskObservation(attributes, window, kept)
        except Exception as error:  # noqa: BLE001 - never raise into Dask
            self._failed(error)
            return None

    def close(self) -> None:
        """At the worker's teardown: stop capturing log records in this process."""
        if self.logs is not None:
            self.logs.close()

    def _stop_probes(self, profiling: bool) -> dict[str, Any]:
        """Stop the file recorder and the profiler; their attributes."""
        attributes: dict[str, Any] = {}
        if self.files is not None:
            attributes.update(self.files.stop())
        if profiling:
            attributes.update(self.profiler.stop())  # type: ignore[union-attr]
        return attributes

    @staticmethod
    def _hash_result(value: Any, attributes: dict[str, Any]) -> None:
        from dask.base import tokenize

        # values without a deterministic token get none
        with contextlib.suppress(Exception):
            attributes[attr.TASK_RESULT_HASH] = tokenize(value, ensure_deterministic=True)

    def _failed(self, error: BaseException) -> None:
        self.errors += 1
        if self.errors == 1:
            logger.warning("otel-dask-prov: provenance recording failed on an executing "
                           "thread (the task is not affected; further errors are only "
                           "counted): %r", error, exc_info=error)
