"""The scheduler side: one trace per computation, one span per task attempt.

:class:`TracingSchedulerPlugin` is a cheap recorder. ``update_graph`` starts a
computation (its trace id, root span id and sampling decision) for the new
tasks. Every ``compute-task`` message the scheduler sends to a worker then
carries the computation's ``traceparent`` in its ``annotations`` (the plugin
wraps the scheduler's ``_task_to_msg``), which is how the worker plugin finds
its parent span. ``transition`` notes ``(time, from, to, stimulus_id)`` for every
transition of the key's current attempt and, when the attempt ends, captures
what the span needs into an :class:`~otel_dask_prov.capture.records.AttemptRecord`.
Spans are built and exported later by the
:class:`~otel_dask_prov.export.span_pipeline.SpanPipeline` thread.

Per-key state lives until Dask forgets the key, so memory follows Dask's own
task table, never the number of tasks already done. It is kept small because a
graph submitted at once has all its tasks waiting together (200,000 tasks are
200,000 states): a task that has not been dispatched yet holds only the times
of its transitions so far (:func:`_note_waiting`), the full attempt record exists
only from dispatch to the end of the attempt, and nothing is added to Dask's
own ``TaskState`` (a ``traceparent`` in each task's annotation dict would cost
a dict per task; see ``docs/performance.md``).

>>> from distributed import Client, LocalCluster
>>> client = Client(LocalCluster(n_workers=1))  # doctest: +SKIP
>>> client.register_plugin(TracingSchedulerPlugin(output_dir="traces"))  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from time import time
from typing import TYPE_CHECKING, Any

from dask.utils import key_split
from distributed.diagnostics.plugin import SchedulerPlugin
from tornado.ioloop import PeriodicCallback

from .. import attributes as attr
from ..export.openlineage_emitter import OpenLineageEmitter, start_emitter
from ..export.span_pipeline import SpanPipeline
from ..settings import Settings, resolve_settings
from .plugin_base import TracingPluginBase
from .probes.client import ClientRegistry
from .probes.notebook import CodeOrigins
from .records import AttemptRecord, ComputationRecord, split_exception_text
from .resource import build_resource
from .span_ids import (
    attempt_span_id,
    build_sampler,
    format_traceparent,
    is_sampled,
    new_span_id,
    new_trace_id,
    parse_traceparent,
)

if TYPE_CHECKING:  # dask.typing.Key exists only from dask 2023.9.1
    from dask.typing import Key

REMOVAL_CHECK_MS = 1000
"""How often the plugin checks that Dask still holds it (see ``_close_if_removed``)."""
_OPENING = frozenset({"processing", "erred", "no-worker"})
"""Transitions that open an attempt record straight away (the waiting ones open it lazily)."""
_CLOSING = frozenset({"memory", "erred", "released", "forgotten"})
_RERUN_REASONS = {
    attr.OUTCOME_RETRIED: "retry",
    attr.OUTCOME_WORKER_LOST: "worker-lost",
    attr.OUTCOME_SUCCESS: "result-lost",
}
_COMPLETE = frozenset({attr.OUTCOME_SUCCESS, attr.OUTCOME_ERROR, attr.OUTCOME_DEPENDENCY_ERROR})


_WAITING = frozenset({"waiting", "queued"})
"""States a task waits in before dispatch: noted as times only, without an attempt record."""


def _note_waiting(early: float | tuple[Any, ...] | None, start: str, finish: str,
                  now: float, chain: bool) -> float | tuple[Any, ...] | None:
    """*early* with the transition ``start -> finish`` at *now* added, or ``None`` if it cannot be.

    The waiting transitions of an attempt form a chain (each starts where the
    previous one finished), so they are kept as ``(first start, time, finish,
    time, finish, ...)``, and the usual first one alone, ``released -> waiting``,
    as its time only: 24 bytes for each of the tasks of a large graph that wait
    together. Without *chain* (transitions not recorded) only the first time is
    kept. ``None`` means the transition does not fit (the caller opens the full
    attempt record instead).
    """
    if early is None:
        return now if start == "released" and finish == "waiting" else None
    if not chain:
        return early
    if type(early) is float:
        return ("released", early, "waiting", now, finish) if start == "waiting" else None
    assert isinstance(early, tuple)
    return (*early, now, finish) if start == early[-1] else None


def _waiting_since(early: float | tuple[Any, ...]) -> float:
    """When the first waiting transition that :func:`_note_waiting` kept happened."""
    return early if isinstance(early, float) else early[1]


def _waiting_transitions(early: float | tuple[Any, ...]) -> list[tuple[float, str, str, str | None]]:
    """The ``(time, from, to, stimulus_id)`` transitions that :func:`_note_waiting` kept."""
    if type(early) is float:
        return [(early, "released", "waiting", None)]
    assert isinstance(early, tuple)
    transitions: list[tuple[float, str, str, str | None]] = []
    start = early[0]
    for index in range(1, len(early), 2):
        finish = early[index + 1]
        transitions.append((early[index], start, finish, None))
        start = finish
    return transitions


class _Computation:
    """An open computation: its root-span record, its ``traceparent`` for the
    workers, and how many of its tasks are not done."""

    __slots__ = ("cancelled", "error", "pending", "record", "traceparent")

    def __init__(self, record: ComputationRecord, pending: int, traceparent: str) -> None:
        self.record = record
        self.pending = pending
        self.traceparent = traceparent
        self.error: tuple[str, str, str | None] | None = None
        """The first failed task's exception type, message and traceback (for OpenLineage)."""
        self.cancelled = False
        """Whether a task of it was cancelled (the client released it before it ended)."""


class _KeyState:
    """What the plugin remembers about one key until Dask forgets it.

    ``early`` holds the waiting transitions of an attempt not dispatched yet
    (see :func:`_note_waiting`); ``open`` is the attempt record from dispatch,
    or from any other transition that is not a waiting one, to the end of the
    attempt.
    """

    __slots__ = (
        "attempts",
        "computation",
        "counted",
        "dispatched",
        "early",
        "last_outcome",
        "last_span",
        "open",
        "retried",
    )

    def __init__(self, computation: _Computation) -> None:
        self.computation = computation
        self.counted = False
        self.attempts = 0
        self.early: tuple[Any, ...] | float | None = None
        self.open: AttemptRecord | None = None
        self.last_span: tuple[int, int] | None = None
        self.last_outcome: str | None = None
        self.retried = False
        self.dispatched = False


class TracingSchedulerPlugin(TracingPluginBase, SchedulerPlugin):
    """Record every computation and task attempt of a Dask scheduler as OpenTelemetry spans.

    Parameters are the settings of :mod:`otel_dask_prov.settings` (``endpoint=...``,
    ``output_dir=...``, ...); unset ones come from ``OTEL_*`` variables and the
    ``otel-dask-prov`` Dask config section of the scheduler's process.
    """

    # -- lifecycle ------------------------------------------------------
    async def start(self, scheduler: Any) -> None:
        self.settings: Settings = resolve_settings(**self._options)
        self.scheduler = scheduler
        self._keys: dict[Key, _KeyState] = {}
        self._open_computations: dict[int, _Computation] = {}
        self._clients = ClientRegistry()
        self._code_origins = CodeOrigins()
        self._lineage: OpenLineageEmitter | None = None
        if not self.settings.enabled:
            return
        resource = build_resource(
            "scheduler", self.settings, {attr.SCHEDULER_ADDRESS: scheduler.address or ""}
        )
        self.pipeline = SpanPipeline(self.settings, resource)
        self.pipeline.start()
        self._lineage = start_emitter(self.settings)
        self._sampler = build_sampler(self.settings)
        self._record_transitions = self.settings.record_transitions
        self._task_to_msg_wrapper = self._carry_context_in_messages(scheduler)
        self._active = True
        self._removal_watch = PeriodicCallback(self._close_if_removed, REMOVAL_CHECK_MS)
        self._removal_watch.start()
        self._closing: asyncio.Future[None] | None = None

    def _close_if_removed(self) -> None:
        """Close once Dask no longer holds this plugin.

        ``client.unregister_scheduler_plugin`` and registering another plugin
        under the same name drop it from ``scheduler.plugins`` without calling
        :meth:`close`; its queued spans would then wait for the process to end,
        and its wrapper of ``_task_to_msg`` would stay.
        """
        if self.scheduler.plugins.get(self.name) is not self:
            self._removal_watch.stop()
            self._closing = asyncio.ensure_future(self.close())

    async def close(self) -> None:
        if not self._active:
            return
        self._active = False
        now = time()
        for key, state in list(self._keys.items()):
            if state.open is not None:
                self._finish_unfinished(key, state, now)
        for computation in list(self._open_computations.values()):
            computation.record.unfinished = True
            self._end_computation(computation, now)
        self._keys.clear()
        self._removal_watch.stop()
        if self._lineage is not None:
            self._lineage.shutdown()
        wrapper = self._task_to_msg_wrapper
        if wrapper is not None and vars(self.scheduler).get("_task_to_msg") is wrapper:
            del self.scheduler._task_to_msg  # back to the class's method (or a later wrapper's)
        self.pipeline.shutdown()
        self._report_errors("the scheduler")

    def _carry_context_in_messages(self, scheduler: Any) -> Callable[..., dict[str, Any]] | None:
        """Make every ``compute-task`` message carry its computation's ``traceparent``.

        Wraps ``Scheduler._task_to_msg`` on this scheduler (both dispatch and work
        stealing send through it) so that the message's ``annotations`` get the
        traceparent, copied, never written into the task's own annotations, and,
        when a client said which notebook cell defined the task's function, that
        cell's file name (:class:`~otel_dask_prov.capture.probes.notebook.CodeOrigins`).
        Returns the wrapper, or ``None`` on a release without that method; tasks
        are then annotated one by one in ``update_graph`` (with no notebook cells).
        """
        original = getattr(scheduler, "_task_to_msg", None)
        if original is None:
            return None
        states = self._keys
        origins = self._code_origins

        def task_to_msg(ts: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
            msg: dict[str, Any] = original(ts, *args, **kwargs)
            state = states.get(ts.key)
            if state is not None:
                try:
                    annotations = {**(msg.get("annotations") or {}),
                                   attr.ANNOTATION: state.computation.traceparent}
                    if origins:  # some client said which notebook cells defined its functions
                        origin = origins.of_task(ts.run_spec)
                        if origin is not None:
                            annotations[attr.CODE_ORIGIN_ANNOTATION] = origin
                    msg["annotations"] = annotations
                except Exception as error:  # noqa: BLE001 - never raise into Dask
                    self._record_error(error, "the scheduler")
            return msg

        scheduler._task_to_msg = task_to_msg
        return task_to_msg

    # -- hooks ----------------------------------------------------------
    def log_event(self, topic: str, msg: Any) -> None:
        if self._active:
            self._clients.event(topic, msg)  # a client describing itself (provenance.client)
            self._code_origins.event(topic, msg)  # its notebook cells (provenance.notebook)

    def remove_client(self, scheduler: Any, client: str) -> None:
        if self._active:
            self._clients.forget(client)

    def update_graph(
        self,
        scheduler: Any,
        *,
        client: str,
        keys: set[Key],
        tasks: list[Key],
        annotations: dict[str, dict[Key, Any]],
        priority: dict[Key, tuple[int | float, ...]],
        stimulus_id: str | None = None,  # passed from distributed 2024.11
        **kwargs: Any,
    ) -> None:
        if not self._active:
            return
        try:
            self._start_computation(scheduler, client, keys, tasks, annotations)
        except Exception as error:  # noqa: BLE001 - never raise into Dask
            self._record_error(error, "the scheduler")

    def transition(
        self, key: Key, start: str, finish: str, *args: Any, stimulus_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not self._active:
            return
        state = self._keys.get(key)
        if state is None:
            return
        try:
            now = time()
            attempt = state.open
            ts = None
            if attempt is None:
                if finish in _WAITING:
                    early = _note_waiting(state.early, start, finish, now,
                                          self._record_transitions)
                    if early is not None:
                        state.early = early
                        return
                elif state.early is None and finish not in _OPENING:
                    if finish == "forgotten":
                        self._forget(key, state, now)
                    return
                ts = self.scheduler.tasks.get(key)
                attempt = self._open_attempt(key, ts, state, now)
            if attempt.transitions is not None:
                attempt.transitions.append((now, start, finish, stimulus_id))
            if finish == "processing":
                self._dispatched(ts if ts is not None else self.scheduler.tasks.get(key),
                                 state, attempt)
            elif finish == "released" and not state.dispatched:
                # Never ran: Dask passes dependents of a failed task through
                # waiting -> released -> erred, so the attempt goes on until it
                # runs, errs or is forgotten.
                return
            elif finish in _CLOSING:
                self._close_attempt(key, state, attempt, start, finish, stimulus_id, kwargs, now)
                if finish == "forgotten":
                    self._forget(key, state, now)
        except Exception as error:  # noqa: BLE001 - never raise into Dask
            self._record_error(error, "the scheduler")

    # -- computations ---------------------------------------------------
    def _start_computation(
        self, scheduler: Any, client: str, keys: set[Key], tasks: list[Key],
        annotations: Mapping[str, Mapping[Key, Any]],
    ) -> None:
        new = []
        for key in tasks:
            ts = scheduler.tasks.get(key)
            if ts is not None and ts.state == "released" and ts.run_spec is not None:
                new.append(ts)
        if not new:
            return
        parent = None
        for traceparent in (annotations.get(attr.ANNOTATION) or {}).values():
            parent = parse_traceparent(traceparent)
            break
        trace_id = parent.trace_id if parent is not None else new_trace_id()
        if not is_sampled(self._sampler, trace_id, parent):
            for ts in new:  # the caller's traceparent must not reach the workers
                if ts.annotations:
                    ts.annotations.pop(attr.ANNOTATION, None)
            return
        record = ComputationRecord(
            trace_id, new_span_id(), parent.span_id if parent is not None else None, time(),
            client, len(new),
            [str(key) for key in list(keys)[: attr.MAX_LISTED_KEYS]],
        )
        self._describe_code(scheduler, record, new[0], self.settings.record_code)
        record.extra = self._clients.attributes(client)
        record.unfinished = True  # as a recovery delivers it if this process dies first
        self.pipeline.put_provisional(record)
        record.unfinished = False
        traceparent = format_traceparent(trace_id, record.span_id)
        computation = _Computation(record, len(new), traceparent)
        self._open_computations[trace_id] = computation
        if self._lineage is not None:
            self._lineage.started(record, new)
        states = self._keys
        annotate = self._task_to_msg_wrapper is None
        for ts in new:
            if annotate:
                if ts.annotations is None:
                    ts.annotations = {}
                ts.annotations[attr.ANNOTATION] = traceparent
            state = states.get(ts.key)
            if state is None:
                states[ts.key] = _KeyState(computation)
            else:  # a released key computed again by a new graph
                self._count_done(state, time())
                state.computation = computation
                state.counted = False

    @staticmethod
    def _describe_code(scheduler: Any, record: ComputationRecord, ts: Any,
                       with_code: bool) -> None:
        spans = scheduler.extensions.get("spans")
        span = spans.spans.get(ts.group.span_id) if spans is not None else None
        if span is None:
            return
        record.dask_span_id = str(span.id)
        record.dask_span_name = "/".join(str(part) for part in span.name)
        codes = span.code
        if with_code and codes and codes[-1]:
            frame = codes[-1][-1]
            record.code = frame.code
            record.code_filename = frame.filename
            record.code_lineno = frame.lineno_frame

    def _count_done(self, state: _KeyState, now: float) -> None:
        if state.counted:
            return
        state.counted = True
        computation = state.computation
        computation.pending -= 1
        if now > computation.record.end:
            computation.record.end = now
        if computation.pending <= 0:
            self._end_computation(computation, now)

    def _end_computation(self, computation: _Computation, now: float) -> None:
        record = computation.record
        if self._open_computations.pop(record.trace_id, None) is None:
            return
        record.end = max(record.end, now)
        self.pipeline.put(record)
        if self._lineage is not None:
            self._lineage.ended(record, computation.error, computation.cancelled)

    # -- attempts -------------------------------------------------------
    def _open_attempt(self, key: Key, ts: Any, state: _KeyState, now: float) -> AttemptRecord:
        """Open the attempt record of *key* (whose Dask ``TaskState`` is *ts*, if any)."""
        prefix = ts.prefix.name if ts is not None else key_split(key)
        group = ts.group.name if ts is not None else prefix
        record = state.computation.record
        state.attempts += 1
        early = state.early
        state.early = None
        start = now if early is None else _waiting_since(early)
        attempt = AttemptRecord(
            record.trace_id, record.span_id, str(key), prefix, group, state.attempts, start
        )
        if not self._record_transitions:
            attempt.transitions = None
        elif early is not None:
            attempt.transitions = _waiting_transitions(early)
        if state.last_span is not None:
            attempt.previous = state.last_span
            attempt.rerun_reason = _RERUN_REASONS.get(state.last_outcome or "", "resubmitted")
        record.prefixes[prefix] = None
        state.open = attempt
        state.dispatched = False
        return attempt

    def _dispatched(self, ts: Any, state: _KeyState, attempt: AttemptRecord) -> None:
        state.dispatched = True
        if ts is not None and ts.processing_on is not None:
            attempt.worker = ts.processing_on.address
            attempt.worker_name = str(ts.processing_on.name)  # kept if the worker is lost

    def _close_attempt(
        self, key: Key, state: _KeyState, attempt: AttemptRecord, start: str, finish: str,
        stimulus_id: str | None, kwargs: Mapping[str, Any], now: float,
    ) -> None:
        scheduler = self.scheduler
        ts = scheduler.tasks.get(key)
        attempt.end = now
        attempt.state = finish
        ran = state.dispatched and start == "processing"
        if finish == "memory":
            attempt.outcome = attr.OUTCOME_SUCCESS
        elif finish == "erred":
            if ran:
                attempt.outcome = attr.OUTCOME_ERROR
                attempt.exception_text = kwargs.get("exception_text")
                if self.settings.record_tracebacks:
                    attempt.traceback_text = kwargs.get("traceback_text")
            else:
                attempt.outcome = attr.OUTCOME_DEPENDENCY_ERROR
                blame = ts.exception_blame if ts is not None else None
                if blame is not None and blame.key != key:
                    attempt.blame = str(blame.key)
                    attempt.exception_text = blame.exception_text
        elif ran and (stimulus_id or "").startswith("task-erred"):
            attempt.outcome = attr.OUTCOME_RETRIED
            state.retried = True
        elif ran and attempt.worker is not None and attempt.worker not in scheduler.workers:
            attempt.outcome = attr.OUTCOME_WORKER_LOST
        elif (stimulus_id or "").startswith(("client-releases-keys", "cancel")):
            attempt.outcome = attr.OUTCOME_CANCELLED
        else:
            attempt.outcome = attr.OUTCOME_RELEASED
        if ran:
            attempt.worker = kwargs.get("worker") or attempt.worker
            worker_state = scheduler.workers.get(attempt.worker)
            if worker_state is not None:
                attempt.worker_name = str(worker_state.name)
            attempt.startstops = kwargs.get("startstops") or ()
            attempt.thread = kwargs.get("thread")
            if ts is not None:
                attempt.run_id = ts.run_id
        if attempt.outcome == attr.OUTCOME_SUCCESS:
            attempt.nbytes = kwargs.get("nbytes", ts.nbytes if ts is not None else None)
            attempt.result_type = kwargs.get("typename")
            attempt.succeeded_after_retry = state.retried
        if ts is not None:
            attempt.priority = ts.priority
            attempt.retries_left = ts.retries
            states = self._keys
            dependencies = []
            for dts in ts.dependencies:
                dependency_key = dts.key
                dependency = states.get(dependency_key)
                dependencies.append((dependency_key, dependency.last_span if (
                    dependency is not None and dependency.last_outcome == attr.OUTCOME_SUCCESS
                ) else None))
            attempt.dependencies = dependencies
        attempt.span_id = attempt_span_id(
            attempt.trace_id, attempt.key, attempt.run_id, attempt.number
        )
        state.open = None
        state.last_span = (attempt.trace_id, attempt.span_id)
        state.last_outcome = attempt.outcome
        self.pipeline.put(attempt)
        if attempt.outcome in _COMPLETE:
            if attempt.outcome != attr.OUTCOME_SUCCESS:
                computation = state.computation
                computation.record.erred_tasks += 1
                if computation.error is None and attempt.outcome == attr.OUTCOME_ERROR:
                    computation.error = (*split_exception_text(attempt.exception_text or ""),
                                         attempt.traceback_text)
            self._count_done(state, now)
        elif attempt.outcome == attr.OUTCOME_CANCELLED:
            state.computation.cancelled = True

    def _finish_unfinished(self, key: Key, state: _KeyState, now: float) -> None:
        attempt = state.open
        assert attempt is not None
        attempt.end = now
        attempt.outcome = attr.OUTCOME_UNFINISHED
        attempt.state = "unfinished"
        attempt.span_id = attempt_span_id(attempt.trace_id, attempt.key, None, attempt.number)
        state.open = None
        self.pipeline.put(attempt)

    def _forget(self, key: Key, state: _KeyState, now: float) -> None:
        del self._keys[key]
        self._count_done(state, now)
