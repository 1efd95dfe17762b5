"""What the plugins record on the hot path, and how it becomes spans later.

A record holds plain Python values captured when something ended (a task
attempt on the scheduler, an execution on a worker, a whole computation). The
:class:`~otel_dask_prov.export.span_pipeline.SpanPipeline` calls ``to_span_data()`` on its own
thread, so attribute formatting and encoding never cost the event loop.
Span and attribute names come from :mod:`otel_dask_prov.attributes`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .. import attributes as attr
from ..export.log_data import LogData
from ..export.span_data import EventData, LinkData, SpanData
from .probes.code import notebook_cell
from .span_ids import attempt_span_id, execution_span_id

_EXCEPTION_REPR = re.compile(r"^\s*([A-Za-z_][\w.]*)\((.*)\)\s*$", re.S)
_ERROR_OUTCOMES = frozenset({attr.OUTCOME_ERROR, attr.OUTCOME_RETRIED})
_EXPLAINED_STATES = frozenset({"released", "erred", "forgotten", "no-worker"})
"""Transitions into these states keep their ``stimulus_id`` (it says why)."""


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def split_exception_text(text: str) -> tuple[str, str]:
    """``"ZeroDivisionError('division by zero')"`` -> ``("ZeroDivisionError", "division by zero")``."""
    match = _EXCEPTION_REPR.match(text or "")
    if not match:
        return "Exception", text or ""
    name, arguments = match.groups()
    if len(arguments) >= 2 and arguments[0] == arguments[-1] and arguments[0] in "'\"":
        arguments = arguments[1:-1]
    return name, arguments


def exception_event(
    when: float, type_name: str, message: str, stacktrace: str | None
) -> EventData:
    attributes: dict[str, Any] = {attr.EXCEPTION_TYPE: type_name, attr.EXCEPTION_MESSAGE: message}
    if stacktrace:
        attributes[attr.EXCEPTION_STACKTRACE] = stacktrace
    return (attr.EXCEPTION_EVENT, _ns(when), attributes)


_DURATION_NAMES: dict[str, str] = {}


def _duration_name(action: str) -> str:
    name = _DURATION_NAMES.get(action)
    if name is None:
        name = _DURATION_NAMES[action] = attr.TASK_DURATION_PREFIX + action.replace("-", "_")
    return name


def _add_durations(attributes: dict[str, Any], startstops: Sequence[Mapping[str, Any]]) -> None:
    """Add the total seconds of each action of *startstops* to *attributes*."""
    if len(startstops) == 1:
        entry = startstops[0]
        attributes[_duration_name(str(entry.get("action")))] = 0.0 + (entry["stop"] - entry["start"])
        return
    totals: dict[str, float] = {}
    for entry in startstops:
        action = str(entry.get("action"))
        totals[action] = totals.get(action, 0.0) + (entry["stop"] - entry["start"])
    for action, seconds in totals.items():
        attributes[_duration_name(action)] = seconds


class ComputationRecord:
    """One graph submission: the root span of its trace."""

    __slots__ = (
        "client",
        "code",
        "code_filename",
        "code_lineno",
        "dask_span_id",
        "dask_span_name",
        "end",
        "erred_tasks",
        "extra",
        "keys",
        "parent_span_id",
        "prefixes",
        "span_id",
        "start",
        "task_count",
        "trace_id",
        "unfinished",
    )
    JOURNAL_FIELDS = __slots__
    """What the journal keeps of the record (:mod:`otel_dask_prov.export.journal`)."""

    def __init__(self, trace_id: int, span_id: int, parent_span_id: int | None, start: float,
                 client: str, task_count: int, keys: Sequence[str]) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.start = start
        self.end = start
        self.client = client
        self.task_count = task_count
        self.keys = keys
        self.code: str | None = None
        self.code_filename: str | None = None
        self.code_lineno: int | None = None
        self.dask_span_id: str | None = None
        self.dask_span_name: str | None = None
        self.erred_tasks = 0
        self.prefixes: dict[str, None] = {}
        self.unfinished = False
        self.extra: Mapping[str, Any] = {}
        """More attributes (the client's description: ``dask.client.*``)."""

    def to_span_data(self) -> list[SpanData]:
        attributes: dict[str, Any] = {
            attr.RECORD_TYPE: attr.RECORD_COMPUTATION,
            attr.COMPUTATION_ID: f"{self.trace_id:032x}",
            attr.CLIENT_ID: self.client,
            attr.COMPUTATION_TASK_COUNT: self.task_count,
            attr.COMPUTATION_KEY_COUNT: len(self.keys),
            attr.COMPUTATION_KEYS: list(self.keys[: attr.MAX_LISTED_KEYS]),
            attr.COMPUTATION_ERRED_TASKS: self.erred_tasks,
            attr.COMPUTATION_PREFIXES: list(self.prefixes),
        }
        optional = {
            attr.COMPUTATION_CODE: self.code,
            attr.COMPUTATION_CODE_FILENAME: self.code_filename,
            attr.COMPUTATION_CODE_LINENO: self.code_lineno,
            attr.DASK_SPAN_ID: self.dask_span_id,
            attr.DASK_SPAN_NAME: self.dask_span_name,
            attr.NOTEBOOK_CELL: notebook_cell(self.code_filename),
        }
        attributes.update({k: v for k, v in optional.items() if v is not None})
        attributes.update(self.extra)
        if self.unfinished:
            attributes[attr.TASK_OUTCOME] = attr.OUTCOME_UNFINISHED
        error = f"{self.erred_tasks} task(s) erred" if self.erred_tasks else None
        span = SpanData(attr.COMPUTATION_SPAN_NAME, self.trace_id, self.span_id,
                        self.parent_span_id,
                        _ns(self.start), _ns(self.end), attributes, error=error)
        return [span]


class AttemptRecord:
    """One attempt of one task, as the scheduler saw it, from waiting to its end."""

    __slots__ = (
        "blame",
        "dependencies",
        "end",
        "exception_text",
        "group",
        "key",
        "nbytes",
        "number",
        "outcome",
        "parent_span_id",
        "prefix",
        "previous",
        "priority",
        "rerun_reason",
        "result_type",
        "retries_left",
        "run_id",
        "span_id",
        "start",
        "startstops",
        "state",
        "succeeded_after_retry",
        "thread",
        "trace_id",
        "traceback_text",
        "transitions",
        "worker",
        "worker_name",
    )
    JOURNAL_FIELDS = __slots__

    def __init__(self, trace_id: int, parent_span_id: int, key: str, prefix: str, group: str,
                 number: int, start: float) -> None:
        self.trace_id = trace_id
        self.parent_span_id = parent_span_id
        self.span_id = 0
        self.key = key
        self.prefix = prefix
        self.group = group
        self.number = number
        self.start = start
        self.end = start
        self.run_id: int | None = None
        self.transitions: list[tuple[float, str, str, str | None]] | None = []
        self.state = ""
        self.outcome = ""
        self.worker: str | None = None
        self.worker_name: str | None = None
        self.result_type: str | None = None
        self.nbytes: int | None = None
        self.thread: int | None = None
        self.startstops: Sequence[Mapping[str, Any]] = ()
        self.dependencies: Sequence[tuple[Any, tuple[int, int] | None]] = ()
        """``(Dask key, (trace id, span id) of the attempt that produced it, or None)``;
        the keys are made text on the export thread, not on the event loop."""
        self.priority: Sequence[Any] | None = None
        self.retries_left = 0
        self.exception_text: str | None = None
        self.traceback_text: str | None = None
        """Kept only when the ``record_tracebacks`` setting is on."""
        self.blame: str | None = None
        self.previous: tuple[int, int] | None = None
        self.rerun_reason: str | None = None
        self.succeeded_after_retry = False

    def to_span_data(self) -> list[SpanData]:
        attributes: dict[str, Any] = {
            attr.RECORD_TYPE: attr.RECORD_TASK_ATTEMPT,
            attr.TASK_KEY: self.key,
            attr.TASK_PREFIX: self.prefix,
            attr.TASK_GROUP: self.group,
            attr.TASK_ATTEMPT: self.number,
            attr.TASK_STATE: self.state,
            attr.TASK_OUTCOME: self.outcome,
        }
        links: list[LinkData] = []
        if self.dependencies:
            dependencies = self.dependencies[: attr.MAX_LISTED_KEYS]
            keys = []
            span_ids = []
            for dask_key, span in dependencies:
                key = str(dask_key)
                keys.append(key)
                if span:
                    span_ids.append(f"{span[0]:032x}/{span[1]:016x}")
                    links.append((span[0], span[1], {
                        attr.LINK_TYPE: attr.LINK_DEPENDENCY, attr.TASK_KEY: key}))
                else:
                    span_ids.append("")
            attributes[attr.TASK_DEPENDENCIES] = keys
            attributes[attr.TASK_DEPENDENCY_SPAN_IDS] = span_ids
        if self.previous is not None:
            attributes[attr.TASK_PREVIOUS_ATTEMPT_SPAN_ID] = f"{self.previous[1]:016x}"
            links.append((self.previous[0], self.previous[1], {
                attr.LINK_TYPE: attr.LINK_PREVIOUS_ATTEMPT, attr.TASK_KEY: self.key}))
        if self.retries_left:
            attributes[attr.TASK_RETRIES_LEFT] = self.retries_left
        if self.run_id is not None:
            attributes[attr.TASK_RUN_ID] = self.run_id
        if self.worker is not None:
            attributes[attr.WORKER_ADDRESS] = self.worker
        if self.worker_name is not None:
            attributes[attr.WORKER_NAME] = self.worker_name
        if self.result_type is not None:
            attributes[attr.TASK_RESULT_TYPE] = self.result_type
        if self.nbytes is not None:
            attributes[attr.TASK_RESULT_NBYTES] = self.nbytes
        if self.thread is not None:
            attributes[attr.THREAD_ID] = self.thread
        if self.priority is not None:
            attributes[attr.TASK_PRIORITY] = str(tuple(self.priority))
        if self.blame is not None:
            attributes[attr.TASK_EXCEPTION_BLAME] = self.blame
        if self.rerun_reason is not None:
            attributes[attr.TASK_RERUN_REASON] = self.rerun_reason
        if self.succeeded_after_retry:
            attributes[attr.TASK_SUCCEEDED_AFTER_RETRY] = True
        if self.startstops:
            _add_durations(attributes, self.startstops)

        events: list[EventData] = [
            (finish, _ns(when),
             {attr.TRANSITION_FROM: start, attr.TRANSITION_STIMULUS: stimulus or ""}
             if finish in _EXPLAINED_STATES else {attr.TRANSITION_FROM: start})
            for when, start, finish, stimulus in (self.transitions or ())
        ]
        error: str | None = None
        if self.outcome in _ERROR_OUTCOMES or self.outcome == attr.OUTCOME_DEPENDENCY_ERROR:
            if self.exception_text is not None:
                type_name, message = split_exception_text(self.exception_text)
                events.append(exception_event(
                    self.end, type_name, message, self.traceback_text))
                error = f"{type_name}: {message}"
            elif self.blame is not None:
                error = f"dependency {self.blame} erred"
            else:
                error = self.outcome
        return [
            SpanData(attr.task_span_name(self.prefix), self.trace_id, self.span_id,
                     self.parent_span_id, _ns(self.start), _ns(self.end), attributes, events,
                     links, error)
        ]


class ExecutionRecord:
    """One execution of a task on a worker: the ``execute`` span and its phases.

    Times are those of the worker's ``startstops``, which Dask expresses in the
    scheduler's clock, so the execution nests inside the scheduler's attempt span.
    """

    __slots__ = (
        "end",
        "exception_message",
        "exception_type",
        "extra",
        "key",
        "logs",
        "logs_dropped",
        "nbytes",
        "outcome",
        "prefix",
        "result_type",
        "run_id",
        "stacktrace",
        "start",
        "startstops",
        "thread_id",
        "thread_name",
        "thread_native_id",
        "trace_id",
        "worker",
        "worker_name",
    )
    JOURNAL_FIELDS = __slots__

    def __init__(self, trace_id: int, key: str, prefix: str,
                 run_id: int, worker: str, worker_name: str | None, outcome: str,
                 startstops: Sequence[Mapping[str, Any]], start: float, end: float) -> None:
        self.trace_id = trace_id
        self.key = key
        self.prefix = prefix
        self.run_id = run_id
        self.worker = worker
        self.worker_name = worker_name
        self.outcome = outcome
        self.startstops = startstops
        self.start = start
        self.end = end
        self.thread_id: int | None = None
        self.thread_native_id: int | None = None
        self.thread_name: str | None = None
        self.result_type: str | None = None
        self.nbytes: int | None = None
        self.exception_type: str | None = None
        self.exception_message: str | None = None
        self.stacktrace: str | None = None
        self.extra: dict[str, Any] = {}
        self.logs: list[tuple[Any, ...]] = []
        """What the task logged (``LogEntry`` tuples of
        :mod:`otel_dask_prov.capture.probes.task_logs`), and the worker's record of its failure."""
        self.logs_dropped = 0
        """Log records of the attempt past a cap (per attempt or per process)."""

    def to_log_data(self) -> list[LogData]:
        """The attempt's log records, on its execution span; the last one says how many
        were dropped."""
        if not self.logs and not self.logs_dropped:
            return []
        span_id = execution_span_id(self.trace_id, self.key, self.run_id)
        entries = self.logs or [(self.end, 13, "WARNING",
                                 f"{self.logs_dropped} log records of this task were not kept "
                                 "(log_max_process_records reached)", attr.LOG_FROM_LOGGING,
                                 None, None, None, None, None, None, None)]
        logs = []
        for (when, number, level, body, source, logger, path, line, function,
             exc_type, exc_message, stacktrace) in entries:
            attributes: dict[str, Any] = {attr.LOG_SOURCE: source, attr.TASK_KEY: self.key,
                                          attr.TASK_RUN_ID: self.run_id}
            optional = {attr.LOG_LOGGER: logger, attr.CODE_FILE_PATH: path,
                        attr.CODE_LINE_NUMBER: line, attr.CODE_FUNCTION_NAME: function,
                        attr.EXCEPTION_TYPE: exc_type, attr.EXCEPTION_MESSAGE: exc_message,
                        attr.EXCEPTION_STACKTRACE: stacktrace}
            attributes.update({k: v for k, v in optional.items() if v is not None})
            logs.append(LogData(_ns(when), _ns(when), number, level, body, attributes,
                                self.trace_id, span_id))
        if self.logs_dropped:
            logs[-1].attributes[attr.LOG_DROPPED] = self.logs_dropped  # type: ignore[index]
        return logs

    def to_span_data(self) -> list[SpanData]:
        span_id = execution_span_id(self.trace_id, self.key, self.run_id)
        attributes: dict[str, Any] = {
            attr.RECORD_TYPE: attr.RECORD_TASK_EXECUTION,
            attr.TASK_KEY: self.key,
            attr.TASK_PREFIX: self.prefix,
            attr.TASK_RUN_ID: self.run_id,
            attr.TASK_OUTCOME: self.outcome,
            attr.WORKER_ADDRESS: self.worker,
        }
        if self.worker_name is not None:
            attributes[attr.WORKER_NAME] = self.worker_name
        if self.thread_id is not None:
            attributes[attr.THREAD_ID] = self.thread_id
        if self.thread_native_id is not None:
            attributes[attr.THREAD_NATIVE_ID] = self.thread_native_id
        if self.thread_name is not None:
            attributes[attr.THREAD_NAME] = self.thread_name
        if self.result_type is not None:
            attributes[attr.TASK_RESULT_TYPE] = self.result_type
        if self.nbytes is not None:
            attributes[attr.TASK_RESULT_NBYTES] = self.nbytes
        if self.startstops:
            _add_durations(attributes, self.startstops)
        if self.extra:
            attributes.update(self.extra)
        events: list[EventData] = []
        error: str | None = None
        if self.exception_type is not None:
            message = self.exception_message or ""
            events.append(exception_event(self.end, self.exception_type, message, self.stacktrace))
            error = f"{self.exception_type}: {message}"
        spans = [
            SpanData(attr.execution_span_name(self.prefix), self.trace_id, span_id,
                     attempt_span_id(self.trace_id, self.key, self.run_id, 0),
                     _ns(self.start), _ns(self.end), attributes, events,
                     error=error)
        ]
        for index, entry in enumerate(self.startstops):
            action = str(entry.get("action"))
            phase_attributes: dict[str, Any] = {
                attr.RECORD_TYPE: attr.RECORD_TASK_PHASE,
                attr.PHASE_ACTION: action,
                attr.TASK_KEY: self.key,
            }
            if entry.get("source"):
                phase_attributes[attr.PHASE_SOURCE] = str(entry["source"])
            phase_id = execution_span_id(self.trace_id, self.key, f"{self.run_id}/{index}")
            phase_error = error if action == "compute" else None
            spans.append(SpanData(attr.phase_span_name(action, self.prefix), self.trace_id,
                                  phase_id, span_id, _ns(entry["start"]), _ns(entry["stop"]),
                                  phase_attributes, error=phase_error))
        return spans
