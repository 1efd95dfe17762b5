"""The PROV mapping: spans of one trace in, PROV records out (see ``docs/prov-mapping.md``).

=====================================  ==============================================
Trace                                  PROV
=====================================  ==============================================
``dask.computation`` span              activity ``run:computation.<span>``
                                       (``dask:Computation``), associated with the
                                       client agent and the graph plan
                                       ``run:graph.<span>`` (``prov:Plan``,
                                       ``prov:Collection``) that ``hadMember`` one
                                       ``run:plan.<span>.<prefix>`` per task prefix
task attempt span (+ its worker        activity ``run:task.<key>.<span>``
``execute`` span)                      (``dask:TaskExecution``), ``wasStartedBy`` the
                                       computation, ``wasAssociatedWith`` the worker
                                       and the prefix's plan, ``used`` the values of
                                       its dependencies
successful attempt                     entity ``run:value.<key>.<span>``
                                       (``dask:TaskOutput``) ``wasGeneratedBy`` it and
                                       ``wasDerivedFrom`` each input value
failed attempt                         entity ``run:error.<key>.<span>``
                                       (``dask:Exception``) ``wasGeneratedBy`` it
retry or re-run                        ``wasInfluencedBy`` the previous attempt
                                       (``dask:Retry``)
attempt that never reached a worker    activity of type ``dask:UnexecutedAttempt``
scheduler, worker, client processes    ``prov:SoftwareAgent``; worker
                                       ``actedOnBehalfOf`` scheduler, scheduler on
                                       behalf of client, for each computation
=====================================  ==============================================

Times come from the scheduler's clock, which orders every dispatch after the
generation of the inputs it needs: an execution starts when the scheduler
dispatched it (its ``processing`` transition) and ends when the scheduler heard
of its result. The worker's own clock is kept in ``dask:workerStartTime`` and
``dask:workerEndTime``.

:class:`TraceMapper` is fed the spans of one trace in any order. It joins each
scheduler attempt span with the worker execution span under it, holding the
first to arrive until the other does (or until the trace ends), and emits
:class:`~.records.Record` tuples through a callback. Records that must appear
once per PROV container (plans, agents, values of unknown producers) go
through a :class:`Container`, one per bundle, or one for a flattened document.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Callable, Final, Iterable

from .. import attributes as attr
from .. import prov_vocabulary as dask
from . import identifiers as ids
from .model import ATTEMPT, COMPUTATION, EXECUTION, Resource, Span
from .records import Attributes, QName, Record, merge_attributes, utc
from .sources import SCHEDULER_SIDE, WORKER_SIDE

PROV_TYPE: Final = "prov:type"
PROV_LABEL: Final = "prov:label"
SOFTWARE_AGENT: Final = QName(dask.PROV_SOFTWARE_AGENT)
PLAN: Final = QName(dask.PROV_PLAN)
COLLECTION: Final = QName("prov:Collection")
BUNDLE: Final = QName(dask.PROV_BUNDLE)

_TASK_EXECUTION = QName(dask.TASK_EXECUTION)
_UNEXECUTED = QName(dask.UNEXECUTED_ATTEMPT)
_TASK_OUTPUT = QName(dask.TASK_OUTPUT)
_EXCEPTION = QName(dask.EXCEPTION)
_RETRY = QName(dask.RETRY)
_COMPUTATION = QName(dask.COMPUTATION)
_GRAPH = QName(dask.GRAPH)
_TASK_PLAN = QName(dask.TASK_PLAN)
_ROLE_TYPES = {"worker": QName(dask.WORKER), "scheduler": QName(dask.SCHEDULER),
               "client": QName(dask.CLIENT)}

_RAN = frozenset({attr.OUTCOME_SUCCESS, attr.OUTCOME_ERROR, attr.OUTCOME_RETRIED})
"""Outcomes of an attempt that certainly ran its function on a worker."""
_RAISED = frozenset({attr.OUTCOME_ERROR, attr.OUTCOME_RETRIED})

_ACTIVITY_ATTRIBUTES: Final = (
    (attr.TASK_ATTEMPT, dask.ATTEMPT),
    (attr.TASK_RUN_ID, dask.RUN_ID),
    (attr.TASK_OUTCOME, dask.OUTCOME),
    (attr.TASK_RERUN_REASON, dask.RERUN_REASON),
    (attr.TASK_EXCEPTION_BLAME, dask.EXCEPTION_BLAME),
    (attr.TASK_FUSED, dask.FUSED),
    (attr.THREAD_ID, dask.THREAD),
    (attr.THREAD_NAME, dask.THREAD_NAME),
    (attr.IO_READ_BYTES, dask.IO_READ_BYTES),
    (attr.IO_WRITE_BYTES, dask.IO_WRITE_BYTES),
    (attr.IO_READ_CALLS, dask.IO_READ_CALLS),
    (attr.IO_WRITE_CALLS, dask.IO_WRITE_CALLS),
    (attr.IO_STORAGE_READ_BYTES, dask.IO_STORAGE_READ_BYTES),
    (attr.IO_STORAGE_WRITE_BYTES, dask.IO_STORAGE_WRITE_BYTES),
    *(
        (attr.TASK_DURATION_PREFIX + action.replace("-", "_"),
         dask.DURATION_PREFIX + "".join(word.title() for word in action.split("-")))
        for action in attr.PHASE_ACTIONS
    ),
)
"""Span attribute -> activity attribute, copied as they are; ``dask.task.duration.<action>``
(seconds per worker phase) becomes ``dask:duration<Action>``."""

_RESULT_ATTRIBUTES: Final = (
    (attr.TASK_RESULT_TYPE, dask.TYPE),
    (attr.TASK_RESULT_NBYTES, dask.NBYTES),
    (attr.TASK_RESULT_HASH, dask.HASH),
)

_RESOURCE_ATTRIBUTES: Final = (
    (attr.SERVICE_INSTANCE_ID, dask.INSTANCE_ID),
    (attr.HOST_NAME, dask.HOST),
    (attr.PROCESS_PID, dask.PID),
    (attr.DASK_VERSION, dask.DASK_VERSION),
    (attr.DISTRIBUTED_VERSION, dask.DISTRIBUTED_VERSION),
    (attr.TOOL_VERSION, dask.TOOL_VERSION),
    (attr.OS_TYPE, dask.OS_TYPE),
    (attr.OS_VERSION, dask.OS_VERSION),
    (attr.HOST_ARCH, dask.HOST_ARCH),
    (attr.PROCESS_RUNTIME_NAME, dask.RUNTIME_NAME),
    (attr.PROCESS_RUNTIME_VERSION, dask.RUNTIME_VERSION),
    (attr.PROCESS_EXECUTABLE_PATH, dask.EXECUTABLE),
    (attr.PACKAGES_DIGEST, dask.PACKAGES_DIGEST),
    (attr.VCS_REVISION, dask.VCS_REVISION),
    (attr.VCS_BRANCH, dask.VCS_BRANCH),
    (attr.VCS_REPOSITORY_URL, dask.VCS_REPOSITORY),
    (attr.VCS_DIRTY, dask.VCS_DIRTY),
)
"""Attributes of a process (its resource) that describe its agent."""

_PLAN_ATTRIBUTES: Final = (
    (attr.TASK_FUNCTION, dask.FUNCTION),
    (attr.TASK_FUNCTION_DIGEST, dask.FUNCTION_DIGEST),
    (attr.CODE_FILE_PATH, dask.CODE_FILENAME),
    (attr.CODE_LINE_NUMBER, dask.CODE_LINENO),
    (attr.NOTEBOOK_CELL, dask.NOTEBOOK_CELL),
)
"""Attributes of an execution that say which code its prefix's plan is."""


def _process_pairs(attributes: dict[str, Any]) -> list[tuple[str, Any]]:
    """Agent attributes from a process's resource attributes, key package versions last."""
    pairs = _lookup(_RESOURCE_ATTRIBUTES, attributes, {})
    pairs.extend(sorted(
        (dask.PACKAGE, f"{name[len(attr.PACKAGE_VERSION_PREFIX):]}=={version}")
        for name, version in attributes.items() if name.startswith(attr.PACKAGE_VERSION_PREFIX)))
    return pairs


def typed(value: Any) -> Any:
    """*value* as a PROV attribute value, or ``None`` if it cannot be one.

    Arrays become text (``prov`` takes several values as several pairs, which
    would lose their order); non-finite floats are dropped.
    """
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, tuple):
        return ", ".join(str(item) for item in value)
    return None


def _pairs(source: dict[str, Any], table: Iterable[tuple[str, str]]) -> list[tuple[str, Any]]:
    """``(prov name, value)`` for each ``(span name, prov name)`` of *table* *source* has."""
    pairs = []
    for span_name, prov_name in table:
        value = source.get(span_name)
        if value is not None:
            value = typed(value)
            if value is not None and value != "":
                pairs.append((prov_name, value))
    return pairs


def _lookup(table: Iterable[tuple[str, str]], first: dict[str, Any],
            second: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(prov name, value)`` for each ``(span name, prov name)`` of *table* found in
    *first*, else in *second*; values made PROV values, empty ones left out."""
    pairs = []
    for span_name, prov_name in table:
        value = first.get(span_name)
        if value is None:
            value = second.get(span_name)
            if value is None:
                continue
        kind = type(value)
        if kind is not str and kind is not int:
            value = typed(value)
            if value is None:
                continue
        if value != "":
            pairs.append((prov_name, value))
    return pairs


# --------------------------------------------------------------------------
# Containers and trace context
# --------------------------------------------------------------------------
class Container:
    """The records of one PROV container that must be stated once.

    Agents and plans are described by many spans: their attributes are united
    by id and the records handed out by :meth:`take_merged` when the container
    is complete.
    """

    def __init__(self) -> None:
        self._declared: set[str] = set()
        self._agents: dict[str, Attributes] = {}
        self._plans: dict[str, Attributes] = {}

    def once(self, identifier: str) -> bool:
        """True the first time *identifier* is asked about."""
        if identifier in self._declared:
            return False
        self._declared.add(identifier)
        return True

    def agent(self, identifier: str, attributes: Attributes) -> None:
        known = self._agents.get(identifier)
        self._agents[identifier] = (
            attributes if known is None else merge_attributes(known, attributes))

    def plan(self, identifier: str, attributes: Attributes) -> None:
        known = self._plans.get(identifier)
        if known != attributes:
            self._plans[identifier] = (
                attributes if known is None else merge_attributes(known, attributes))

    def take_merged(self) -> list[Record]:
        """The agent and plan records, once the container has every span."""
        merged = [Record("agent", identifier, (), attributes)
                  for identifier, attributes in self._agents.items()]
        merged.extend(Record("entity", identifier, (), attributes)
                      for identifier, attributes in self._plans.items())
        self._agents.clear()
        self._plans.clear()
        return merged


class TraceContext:
    """What the first pass learned about a trace: which processes wrote its spans.

    *resources* are the processes that wrote spans of this trace, with their
    :data:`~.sources.SCHEDULER_SIDE` / :data:`~.sources.WORKER_SIDE` bits;
    *every_resource* are all processes of the input, to describe a worker
    that ran part of this trace but whose spans of it were lost (a killed worker).
    """

    def __init__(self, trace_id: str, resources: dict[str, tuple[Resource, int]],
                 every_resource: Iterable[Resource] = ()) -> None:
        self.trace_id = trace_id
        self.has_scheduler_side = any(side & SCHEDULER_SIDE for _, side in resources.values())
        workers = [resource for resource, side in resources.values() if side & WORKER_SIDE]
        addresses = [resource.attributes.get(attr.WORKER_ADDRESS) for resource in workers]
        self.executing_workers: set[str] | None = (
            None if any(not address for address in addresses) else set(map(str, addresses)))
        """Addresses of the workers whose execution spans are in the input; None if unknown."""
        every_resource = list(every_resource)
        self.workers = {
            **_unique_by([r for r in every_resource if r.role == "worker"], attr.WORKER_ADDRESS),
            **_unique_by(workers, attr.WORKER_ADDRESS)}
        self.schedulers = {
            **_unique_by([r for r in every_resource if r.role == "scheduler"],
                         attr.SCHEDULER_ADDRESS),
            **_unique_by([resource for resource, side in resources.values()
                          if side & SCHEDULER_SIDE], attr.SCHEDULER_ADDRESS)}


def _unique_by(resources: list[Resource], name: str) -> dict[str, Resource]:
    by_value: dict[str, Resource | None] = {}
    for resource in resources:
        value = resource.attributes.get(name)
        if value:
            known = by_value.get(str(value))
            by_value[str(value)] = resource if known is None or known is resource else None
    return {value: resource for value, resource in by_value.items() if resource is not None}


# --------------------------------------------------------------------------
# The mapper
# --------------------------------------------------------------------------
class TraceMapper:
    """Maps the spans of one trace; see the module documentation."""

    def __init__(
        self, context: TraceContext, container: Container, emit: Callable[[Record], None]
    ) -> None:
        self.context = context
        self.container = container
        self.emit = emit
        self._pending_attempts: dict[str, Span] = {}
        self._pending_executions: dict[str, Span] = {}
        self._done: set[str] = set()
        self._delegations: set[tuple[str, str, str]] = set()
        self._agents: dict[tuple[str, str, str], str] = {}

    # -- feeding -------------------------------------------------------------
    def add(self, span: Span) -> None:
        kind = span.kind
        if kind == ATTEMPT:
            self._add_attempt(span)
        elif kind == EXECUTION:
            self._add_execution(span)
        elif kind == COMPUTATION:
            if self.container.once(ids.computation_id(span.span_id)):
                self._computation(span)

    def _add_attempt(self, span: Span) -> None:
        span_id = span.span_id
        if span_id in self._done or span_id in self._pending_attempts:
            return
        execution = self._pending_executions.pop(span_id, None)
        if execution is not None or not self._expects_execution(span):
            self._done.add(span_id)
            self._task(span, execution)
        else:
            self._pending_attempts[span_id] = span

    def _add_execution(self, span: Span) -> None:
        attempt_id = span.parent_id or span.span_id
        if attempt_id in self._done or attempt_id in self._pending_executions:
            return
        attempt = self._pending_attempts.pop(attempt_id, None)
        if attempt is not None or not self.context.has_scheduler_side:
            self._done.add(attempt_id)
            self._task(attempt, span)
        else:
            self._pending_executions[attempt_id] = span

    def _expects_execution(self, span: Span) -> bool:
        address = span.attributes.get(attr.WORKER_ADDRESS)
        if not address:
            return False
        workers = self.context.executing_workers
        return workers is None or address in workers

    def finish(self) -> None:
        """Map what is still waiting for its other half; the trace has no more spans."""
        for span_id, attempt in self._pending_attempts.items():
            self._done.add(span_id)
            self._task(attempt, None)
        self._pending_attempts.clear()
        for attempt_id, execution in self._pending_executions.items():
            self._done.add(attempt_id)
            self._task(None, execution)
        self._pending_executions.clear()

    # -- computations --------------------------------------------------------
    def _computation(self, span: Span) -> None:
        a = span.attributes
        emit = self.emit
        computation = ids.computation_id(span.span_id)
        graph = ids.graph_id(span.span_id)
        unfinished = a.get(attr.TASK_OUTCOME) == attr.OUTCOME_UNFINISHED
        emit(Record("activity", computation,
                    (utc(span.start), None if unfinished else utc(span.end)),
                    tuple([(PROV_TYPE, _COMPUTATION),
                           (dask.COMPUTATION_ID, a.get(attr.COMPUTATION_ID) or span.trace_id),
                           *_pairs(a, ((attr.COMPUTATION_TASK_COUNT, dask.TASK_COUNT),
                                       (attr.COMPUTATION_ERRED_TASKS, dask.ERRED_TASKS),
                                       (attr.TASK_OUTCOME, dask.OUTCOME))),
                           (dask.SPAN_ID, span.span_id)])))
        if self.container.once(graph):
            emit(Record("entity", graph, (), tuple([
                (PROV_TYPE, PLAN), (PROV_TYPE, COLLECTION), (PROV_TYPE, _GRAPH),
                *_pairs(a, ((attr.COMPUTATION_KEY_COUNT, dask.KEY_COUNT),
                            (attr.COMPUTATION_CODE, dask.CODE),
                            (attr.COMPUTATION_CODE_FILENAME, dask.CODE_FILENAME),
                            (attr.COMPUTATION_CODE_LINENO, dask.CODE_LINENO)))])))
        scheduler = self._process_agent("scheduler", span.resource, None)
        client_id = a.get(attr.CLIENT_ID)
        if client_id:
            client = ids.agent_id("client", str(client_id))
            described = {name[len(attr.CLIENT_PREFIX):]: value for name, value in a.items()
                         if name.startswith(attr.CLIENT_PREFIX)}
            self.container.agent(client, ((PROV_TYPE, SOFTWARE_AGENT),
                                          (PROV_TYPE, _ROLE_TYPES["client"]),
                                          (dask.CLIENT_ID, str(client_id)),
                                          *_process_pairs(described)))
            emit(Record("wasAssociatedWith", None, (computation, client, graph), ()))
            emit(Record("actedOnBehalfOf", None, (scheduler, client, computation), ()))
        # the scheduler ran the computation by the graph: the plan of both associations
        emit(Record("wasAssociatedWith", None, (computation, scheduler, graph), ()))
        for prefix in a.get(attr.COMPUTATION_PREFIXES) or ():
            self._plan(span.span_id, str(prefix), {}, {})

    def _plan(self, computation_span: str, prefix: str, execution: dict[str, Any],
              attempt: dict[str, Any]) -> str:
        """The plan of *prefix* in a computation, described by the code an execution ran."""
        plan = ids.plan_id(computation_span, prefix)
        if self.container.once(plan):
            self.emit(Record("hadMember", None, (ids.graph_id(computation_span), plan), ()))
        self.container.plan(plan, (
            (PROV_TYPE, PLAN), (PROV_TYPE, _TASK_PLAN), (dask.PREFIX, prefix),
            *_lookup(_PLAN_ATTRIBUTES, execution, attempt)))
        return plan

    # -- agents --------------------------------------------------------------
    def _process_agent(self, role: str, resource: Resource | None, address: Any,
                       name: Any = None) -> str:
        """Id of the agent for a process, registering its description in the container.

        *name* is the worker's name as the scheduler knew it, for a worker whose
        own resource is unknown.
        """
        cache_key = (role, resource.key if resource is not None else "", str(address or ""))
        known = self._agents.get(cache_key)
        if known is None:
            known = self._agents[cache_key] = self._describe_agent(role, resource, address, name)
        return known

    def _describe_agent(self, role: str, resource: Resource | None, address: Any,
                        name: Any) -> str:
        resource_attributes = resource.attributes if resource is not None else {}
        if name and attr.WORKER_NAME not in resource_attributes:
            resource_attributes = {**resource_attributes, attr.WORKER_NAME: name}
        instance = resource_attributes.get(attr.SERVICE_INSTANCE_ID)
        address_name = attr.WORKER_ADDRESS if role == "worker" else attr.SCHEDULER_ADDRESS
        address = address or resource_attributes.get(address_name)
        identifier = ids.agent_id(role, str(instance or address or "unknown"))
        pairs: list[tuple[str, Any]] = [(PROV_TYPE, SOFTWARE_AGENT), (PROV_TYPE, _ROLE_TYPES[role])]
        if address:
            pairs.append((dask.WORKER_ADDRESS if role == "worker" else dask.SCHEDULER_ADDRESS,
                          str(address)))
        if role == "worker":
            pairs.extend(_pairs(resource_attributes, ((attr.WORKER_NAME, dask.WORKER_NAME),)))
        pairs.extend(_process_pairs(resource_attributes))
        self.container.agent(identifier, tuple(pairs))
        return identifier

    def _worker(self, attempt: Span | None, execution: Span | None) -> str:
        if execution is not None:
            address = execution.attributes.get(attr.WORKER_ADDRESS)
            return self._process_agent("worker", execution.resource, address)
        assert attempt is not None
        address = str(attempt.attributes.get(attr.WORKER_ADDRESS))
        return self._process_agent("worker", self.context.workers.get(address), address,
                                   attempt.attributes.get(attr.WORKER_NAME))

    def _scheduler(self, attempt: Span | None, execution: Span | None) -> str:
        if attempt is not None:
            return self._process_agent("scheduler", attempt.resource, None)
        assert execution is not None
        address = execution.resource.attributes.get(attr.SCHEDULER_ADDRESS)
        return self._process_agent(
            "scheduler", self.context.schedulers.get(str(address)) if address else None, address)

    # -- task attempts -------------------------------------------------------
    def _task(self, attempt: Span | None, execution: Span | None) -> None:
        emit = self.emit
        a = attempt.attributes if attempt is not None else {}
        e = execution.attributes if execution is not None else {}
        key = str(a.get(attr.TASK_KEY) or e.get(attr.TASK_KEY) or "")
        if attempt is not None:
            span_id = attempt.span_id
        else:
            assert execution is not None
            span_id = execution.parent_id or execution.span_id
        prefix = str(a.get(attr.TASK_PREFIX) or e.get(attr.TASK_PREFIX) or "")
        outcome = a.get(attr.TASK_OUTCOME) or e.get(attr.TASK_OUTCOME)
        executed = execution is not None or bool(a.get(attr.WORKER_ADDRESS))
        task = ids.task_id(key, span_id)

        start: datetime | None
        end: datetime | None
        if attempt is not None:
            begin = attempt.processing if executed and attempt.processing else attempt.start
            start, end = utc(begin), utc(attempt.end)
        else:
            assert execution is not None
            start, end = utc(execution.start), utc(execution.end)
        if outcome == attr.OUTCOME_UNFINISHED:
            end = None

        pairs: list[tuple[str, Any]] = [
            (PROV_TYPE, _TASK_EXECUTION if executed else _UNEXECUTED),
            (dask.KEY, key),
            (dask.PREFIX, prefix),
        ]
        group = a.get(attr.TASK_GROUP)
        if group and group != prefix:
            pairs.append((dask.GROUP, str(group)))
        pairs.extend(_lookup(_ACTIVITY_ATTRIBUTES, a, e))
        if execution is not None:
            pairs.append((dask.WORKER_START_TIME, utc(execution.start)))
            pairs.append((dask.WORKER_END_TIME, utc(execution.end)))
        if outcome == attr.OUTCOME_DEPENDENCY_ERROR and attempt is not None and attempt.exception:
            pairs.extend(_pairs(attempt.exception, (
                (attr.EXCEPTION_TYPE, dask.EXCEPTION_TYPE),
                (attr.EXCEPTION_MESSAGE, dask.EXCEPTION_MESSAGE))))
        pairs.append((dask.SPAN_ID, span_id))
        emit(Record("activity", task, (start, end), tuple(pairs)))

        computation_span = attempt.parent_id if attempt is not None else None
        plan = None
        if computation_span is not None:
            plan = self._plan(computation_span, prefix, e, a)
            emit(Record("wasStartedBy", None,
                        (task, None, ids.computation_id(computation_span), start), ()))
        if executed:
            worker = self._worker(attempt, execution)
            emit(Record("wasAssociatedWith", None, (task, worker, plan), ()))
            if computation_span is not None:
                self._delegate(worker, self._scheduler(attempt, execution),
                               ids.computation_id(computation_span))

        inputs = self._inputs(a) if (outcome in _RAN or execution is not None) else []
        for value in inputs:
            emit(Record("used", None, (task, value, start), ()))
        if outcome == attr.OUTCOME_SUCCESS:
            value = ids.value_id(key, span_id)
            value_pairs: list[tuple[str, Any]] = [(PROV_TYPE, _TASK_OUTPUT), (dask.KEY, key)]
            value_pairs.extend(_lookup(_RESULT_ATTRIBUTES, a, e))
            emit(Record("entity", value, (), tuple(value_pairs)))
            emit(Record("wasGeneratedBy", None, (value, task, end), ()))
            for used in inputs:
                emit(Record("wasDerivedFrom", None, (value, used, task, None, None), ()))
        elif outcome in _RAISED:
            exception = (attempt.exception if attempt is not None else None) or (
                execution.exception if execution is not None else None) or {}
            error = ids.error_id(key, span_id)
            emit(Record("entity", error, (), tuple([
                (PROV_TYPE, _EXCEPTION),
                *_pairs(exception, ((attr.EXCEPTION_TYPE, dask.EXCEPTION_TYPE),
                                    (attr.EXCEPTION_MESSAGE, dask.EXCEPTION_MESSAGE),
                                    (attr.EXCEPTION_STACKTRACE, dask.EXCEPTION_STACKTRACE)))])))
            emit(Record("wasGeneratedBy", None, (error, task, end), ()))

        previous = a.get(attr.TASK_PREVIOUS_ATTEMPT_SPAN_ID)
        if previous:
            reason = a.get(attr.TASK_RERUN_REASON)
            emit(Record("wasInfluencedBy", None, (task, ids.task_id(key, str(previous))),
                        ((PROV_TYPE, _RETRY),) + (((dask.RERUN_REASON, str(reason)),)
                                                  if reason else ())))

    def _inputs(self, a: dict[str, Any]) -> list[str]:
        """Ids of the values an attempt used, from its dependency attributes."""
        keys = a.get(attr.TASK_DEPENDENCIES) or ()
        producers = a.get(attr.TASK_DEPENDENCY_SPAN_IDS) or ()
        inputs = []
        for position, dependency in enumerate(keys):
            dependency = str(dependency)
            producer = str(producers[position]) if position < len(producers) else ""
            span = producer.rpartition("/")[2]
            if span:
                inputs.append(ids.value_id(dependency, span))
                continue
            data = ids.data_id(dependency)
            if self.container.once(data):
                self.emit(Record("entity", data, (), ((dask.KEY, dependency),)))
            inputs.append(data)
        return inputs

    def _delegate(self, worker: str, scheduler: str, computation: str) -> None:
        delegation = (worker, scheduler, computation)
        if delegation not in self._delegations:
            self._delegations.add(delegation)
            self.emit(Record("actedOnBehalfOf", None, delegation, ()))
