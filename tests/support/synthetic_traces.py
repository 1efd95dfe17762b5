"""Synthetic otel-dask-prov traces: the spans the plugins would write for a task graph.

For tests, benchmarks and demos of the converter without running Dask. The
shape follows the plugins (:mod:`otel_dask_prov.capture.records`) span for span: a
``dask.computation`` root, a ``task <prefix>`` span per attempt with its
transition events and dependency attributes, a worker ``execute <prefix>``
span under each attempt that ran, with ``compute`` (and ``transfer``) phase
spans; span ids derived as the plugins derive them
(:func:`otel_dask_prov.capture.span_ids.attempt_span_id`). Retries, errors, lost workers
and failed dependencies follow the scheduler's behaviour.

>>> tasks = [SyntheticTask("a-1"), SyntheticTask("b-1", ("a-1",), failures=1, retries=1)]
>>> files = generate(tasks, workers=2, seed=1)
>>> sorted(files)
['dask-scheduler.jsonl', 'dask-worker-0.jsonl', 'dask-worker-1.jsonl']
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Sequence

from otel_dask_prov import attributes as attr
from otel_dask_prov.capture.span_ids import attempt_span_id, execution_span_id
from otel_dask_prov.version import __version__

_START_NS = 1_795_000_000_000_000_000
_MS = 1_000_000


@dataclass(frozen=True)
class SyntheticTask:
    """One task of a synthetic graph.

    *failures* attempts raise before one succeeds; with fewer *retries* than
    failures the task ends in error. *lost_worker* makes the first attempt's
    worker die while running it (the scheduler re-runs the task elsewhere).
    """

    key: str
    dependencies: tuple[str, ...] = ()
    failures: int = 0
    retries: int = 0
    lost_worker: bool = False

    @property
    def prefix(self) -> str:
        return self.key.rsplit("-", 1)[0] if "-" in self.key else self.key


def map_reduce(n_tasks: int, fan_in: int = 8) -> list[SyntheticTask]:
    """About *n_tasks* tasks: a map over inputs, then a tree reduction of *fan_in*."""
    leaves = max(1, n_tasks * (fan_in - 1) // fan_in)
    tasks = [SyntheticTask(f"inc-{i:x}") for i in range(leaves)]
    level, depth = [task.key for task in tasks], 0
    while len(level) > 1:
        depth += 1
        parents = []
        for start in range(0, len(level), fan_in):
            key = f"sum-{depth:x}-{start // fan_in:x}"
            tasks.append(SyntheticTask(key, tuple(level[start:start + fan_in])))
            parents.append(key)
        level = parents
    return tasks


def _value(value: Any) -> dict[str, Any]:
    """An OTLP ``AnyValue`` as the collector's file exporter writes it."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [_value(item) for item in value]}}
    return {"stringValue": str(value)}


def _attributes(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in mapping.items()]


def _resource(role: str, number: int, worker: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        attr.SERVICE_NAME: f"dask-{role}",
        attr.SERVICE_INSTANCE_ID: f"00000000-0000-4000-8000-{number:012x}",
        attr.HOST_NAME: f"node{number}",
        attr.PROCESS_PID: 1000 + number,
        attr.PROCESS_ROLE: role,
        attr.DASK_VERSION: "2026.8.0",
        attr.DISTRIBUTED_VERSION: "2026.8.0",
        attr.TOOL_VERSION: __version__,
        attr.SCHEDULER_ADDRESS: "tcp://10.0.0.1:8786",
    }
    if worker is not None:
        attributes[attr.WORKER_ADDRESS] = worker
        attributes[attr.WORKER_NAME] = str(number)
    return {"attributes": _attributes(attributes)}


class _Writer:
    """Cuts the spans of each process into OTLP JSON lines as batches fill, like an exporter."""

    def __init__(self, workers: int, batch: int, write_line: Callable[[str, str], None]) -> None:
        self.batch = batch
        self.write_line = write_line
        self.addresses = [f"tcp://10.0.1.{n + 1}:40000" for n in range(workers)]
        self.spans: dict[str, list[dict[str, Any]]] = {"dask-scheduler.jsonl": []}
        self.resources = {"dask-scheduler.jsonl": _resource("scheduler", 0, None)}
        for number, address in enumerate(self.addresses):
            name = f"dask-worker-{number}.jsonl"
            self.spans[name] = []
            self.resources[name] = _resource("worker", number + 1, address)

    def add(self, file: str, span: dict[str, Any]) -> None:
        pending = self.spans[file]
        pending.append(span)
        if len(pending) >= self.batch:
            self._flush(file)

    def _flush(self, file: str) -> None:
        pending = self.spans[file]
        pending.sort(key=lambda span: int(span["endTimeUnixNano"]))
        request = {"resourceSpans": [{
            "resource": self.resources[file],
            "scopeSpans": [{"scope": {"name": attr.INSTRUMENTATION_SCOPE, "version": __version__},
                            "spans": pending}],
        }]}
        self.write_line(file, json.dumps(request, separators=(",", ":")) + "\n")
        self.spans[file] = []

    def close(self) -> None:
        for file, pending in self.spans.items():
            if pending:
                self._flush(file)


def _span(trace: int, span: int, parent: int | None, name: str, start: int, end: int,
          attributes: dict[str, Any], events: Sequence[dict[str, Any]] = (),
          error: str | None = None) -> dict[str, Any]:
    encoded: dict[str, Any] = {"traceId": f"{trace:032x}", "spanId": f"{span:016x}"}
    if parent is not None:
        encoded["parentSpanId"] = f"{parent:016x}"
    encoded.update({"name": name, "kind": 1, "startTimeUnixNano": str(start),
                    "endTimeUnixNano": str(end), "attributes": _attributes(attributes)})
    if events:
        encoded["events"] = list(events)
    encoded["status"] = {"code": 2, "message": error} if error else {}
    return encoded


def _event(name: str, when: int, attributes: dict[str, Any]) -> dict[str, Any]:
    return {"timeUnixNano": str(when), "name": name, "attributes": _attributes(attributes)}


def _transition(finish: str, when: int, start: str) -> dict[str, Any]:
    return _event(finish, when, {attr.TRANSITION_FROM: start,
                                 attr.TRANSITION_STIMULUS: f"stimulus-{when}"})


def generate(
    tasks: Iterable[SyntheticTask],
    workers: int = 2,
    seed: int = 0,
    batch: int = 512,
    trace_id: int | None = None,
) -> dict[str, list[str]]:
    """OTLP JSON lines per process file (scheduler, workers) for one computation of *tasks*.

    *tasks* must list every task after its dependencies.
    """
    files: dict[str, list[str]] = {}
    stream(tasks, lambda file, line: files.setdefault(file, []).append(line),
           workers=workers, seed=seed, batch=batch, trace_id=trace_id)
    return dict(sorted(files.items()))


def stream(
    tasks: Iterable[SyntheticTask],
    write_line: Callable[[str, str], None],
    workers: int = 2,
    seed: int = 0,
    batch: int = 512,
    trace_id: int | None = None,
) -> None:
    """Like :func:`generate`, handing each line to ``write_line(file name, line)`` as it is cut."""
    rng = random.Random(seed)
    trace = trace_id if trace_id is not None else rng.getrandbits(128) | 1
    root = rng.getrandbits(64) | 1
    writer = _Writer(workers, batch, write_line)
    produced: dict[str, tuple[int, int, int]] = {}
    """key -> (span id, end time, worker) of its successful attempt."""
    failed: dict[str, tuple[str, str]] = {}
    """key -> (culprit key, exception text) for keys that ended in error."""
    clock = _START_NS
    computation_start = clock
    run_id = 0
    prefixes: dict[str, None] = {}
    erred = 0
    tasks = list(tasks)
    for task in tasks:
        prefix = task.prefix
        prefixes[prefix] = None
        clock += rng.randint(1, 3) * _MS // 10
        attempt = 0
        previous: int | None = None
        reason: str | None = None
        culprit = next((failed[dep] for dep in task.dependencies if dep in failed), None)
        dependencies = [(dep, f"{trace:032x}/{produced[dep][0]:016x}" if dep in produced else "")
                        for dep in task.dependencies]
        base = {attr.RECORD_TYPE: attr.RECORD_TASK_ATTEMPT, attr.TASK_KEY: task.key,
                attr.TASK_PREFIX: prefix, attr.TASK_GROUP: prefix}

        if culprit is not None:
            # a dependency failed: released while waiting, then erred without running
            blamed, text = culprit
            for number, outcome, state in ((1, attr.OUTCOME_RELEASED, "released"),
                                           (2, attr.OUTCOME_DEPENDENCY_ERROR, "erred")):
                span_id = attempt_span_id(trace, task.key, None, number)
                start, clock = clock, clock + _MS // 10
                extra: dict[str, Any] = {}
                events = [_transition("waiting", start, "released")]
                error = None
                if outcome == attr.OUTCOME_DEPENDENCY_ERROR:
                    extra[attr.TASK_EXCEPTION_BLAME] = blamed
                    events = [_transition("erred", start, "released"),
                              _event(attr.EXCEPTION_EVENT, start, {
                                  attr.EXCEPTION_TYPE: "ValueError",
                                  attr.EXCEPTION_MESSAGE: text})]
                    error = f"ValueError: {text}"
                else:
                    events.append(_transition("released", clock, "waiting"))
                _attempt_span(writer, trace, root, prefix, base, dependencies, previous, reason,
                              number, span_id, start, clock, outcome, state, extra, events,
                              error)
                previous, reason = span_id, "resubmitted"
            failed[task.key] = culprit
            erred += 1
            continue

        outcomes: list[str] = []
        if task.lost_worker:
            outcomes.append(attr.OUTCOME_WORKER_LOST)
        for failure in range(task.failures):
            outcomes.append(attr.OUTCOME_RETRIED if failure < task.retries else attr.OUTCOME_ERROR)
            if failure >= task.retries:
                break
        if not outcomes or outcomes[-1] != attr.OUTCOME_ERROR:
            outcomes.append(attr.OUTCOME_SUCCESS)
        for outcome in outcomes:
            attempt += 1
            worker = rng.randrange(workers)
            address = writer.addresses[worker]
            span_id = attempt_span_id(trace, task.key, run_id, attempt)
            waiting = clock
            ready = max([clock] + [produced[dep][1] for dep in task.dependencies if dep in produced])
            dispatch = ready + _MS // 10
            begin = dispatch + rng.randint(1, 5) * _MS // 10
            transfer = any(produced[dep][2] != worker for dep in task.dependencies if dep in produced)
            compute_start = begin + (2 * _MS if transfer else 0)
            finish = compute_start + rng.randint(1, 20) * _MS
            end = finish + _MS // 2
            clock = end
            text = f"bad input to {task.key}"
            extra = {attr.TASK_RUN_ID: run_id, attr.WORKER_ADDRESS: address,
                     attr.WORKER_NAME: str(worker + 1)}
            state = {attr.OUTCOME_SUCCESS: "memory", attr.OUTCOME_ERROR: "erred"}.get(
                outcome, "released")
            events = [_transition("waiting", waiting, "released"),
                      _transition("processing", dispatch, "waiting"),
                      _transition(state, end, "processing")]
            error = None
            durations = {attr.TASK_DURATION_PREFIX + "compute": (finish - compute_start) / 1e9}
            if transfer:
                durations[attr.TASK_DURATION_PREFIX + "transfer"] = 2e-3
            if outcome == attr.OUTCOME_SUCCESS:
                extra.update({attr.TASK_RESULT_TYPE: "int", attr.TASK_RESULT_NBYTES: 28,
                              attr.THREAD_ID: 140000000000000 + worker, **durations})
            elif outcome == attr.OUTCOME_ERROR:
                extra.update({attr.THREAD_ID: 140000000000000 + worker, **durations})
                events.append(_event(attr.EXCEPTION_EVENT, end, {
                    attr.EXCEPTION_TYPE: "ValueError", attr.EXCEPTION_MESSAGE: text}))
                error = f"ValueError: {text}"
            elif outcome == attr.OUTCOME_RETRIED:
                error = attr.OUTCOME_RETRIED
            else:
                error = attr.OUTCOME_WORKER_LOST
            _attempt_span(writer, trace, root, prefix, base, dependencies, previous, reason,
                          attempt, span_id, waiting, end, outcome, state, extra, events, error)
            if outcome != attr.OUTCOME_WORKER_LOST:
                _execution(writer, trace, task, prefix, span_id, run_id, worker, address,
                           outcome, begin, compute_start, finish, transfer, text)
            previous = span_id
            reason = {attr.OUTCOME_WORKER_LOST: "worker-lost",
                      attr.OUTCOME_RETRIED: "retry"}.get(outcome)
            run_id += 1
            if outcome == attr.OUTCOME_SUCCESS:
                produced[task.key] = (span_id, end, worker)
            elif outcome == attr.OUTCOME_ERROR:
                failed[task.key] = (task.key, text)
                erred += 1

    computation = {
        attr.RECORD_TYPE: attr.RECORD_COMPUTATION, attr.COMPUTATION_ID: f"{trace:032x}",
        attr.CLIENT_ID: "Client-00000000-0000-0000-0000-000000000001",
        attr.COMPUTATION_TASK_COUNT: len(tasks), attr.COMPUTATION_KEY_COUNT: 1,
        attr.COMPUTATION_KEYS: [tasks[-1].key] if tasks else [],
        attr.COMPUTATION_ERRED_TASKS: erred, attr.COMPUTATION_PREFIXES: list(prefixes),
        attr.COMPUTATION_CODE: "result = graph.compute()\n",
        attr.COMPUTATION_CODE_FILENAME: "analysis.py", attr.COMPUTATION_CODE_LINENO: 1,
        attr.DASK_SPAN_NAME: "default",
    }
    writer.add("dask-scheduler.jsonl", _span(
        trace, root, None, attr.COMPUTATION_SPAN_NAME, computation_start, clock, computation,
        error=f"{erred} task(s) erred" if erred else None))
    writer.close()


def _attempt_span(writer: _Writer, trace: int, root: int, prefix: str, base: dict[str, Any],
                  dependencies: list[tuple[str, str]], previous: int | None, reason: str | None,
                  number: int, span_id: int, start: int, end: int, outcome: str, state: str,
                  extra: dict[str, Any], events: list[dict[str, Any]],
                  error: str | None = None) -> None:
    """The scheduler's span of one attempt."""
    attributes = {**base, attr.TASK_ATTEMPT: number, attr.TASK_STATE: state,
                  attr.TASK_OUTCOME: outcome, attr.TASK_RETRIES_LEFT: 0,
                  attr.COMPUTATION_ID: f"{trace:032x}"}
    if dependencies:
        attributes[attr.TASK_DEPENDENCIES] = [dep for dep, _ in dependencies]
        attributes[attr.TASK_DEPENDENCY_SPAN_IDS] = [ref for _, ref in dependencies]
    if previous is not None:
        attributes[attr.TASK_PREVIOUS_ATTEMPT_SPAN_ID] = f"{previous:016x}"
    attributes.update(extra)
    if reason is not None:
        attributes[attr.TASK_RERUN_REASON] = reason
    writer.add("dask-scheduler.jsonl", _span(
        trace, span_id, root, attr.task_span_name(prefix), start, end, attributes, events, error))


def _execution(writer: _Writer, trace: int, task: SyntheticTask, prefix: str, attempt: int,
               run_id: int, worker: int, address: str, outcome: str, begin: int,
               compute_start: int, finish: int, transfer: bool, text: str) -> None:
    file = f"dask-worker-{worker}.jsonl"
    execution = execution_span_id(trace, task.key, run_id)
    failed = outcome != attr.OUTCOME_SUCCESS
    attributes: dict[str, Any] = {
        attr.RECORD_TYPE: attr.RECORD_TASK_EXECUTION, attr.TASK_KEY: task.key,
        attr.TASK_PREFIX: prefix, attr.TASK_RUN_ID: run_id,
        attr.TASK_OUTCOME: attr.OUTCOME_ERROR if failed else attr.OUTCOME_SUCCESS,
        attr.WORKER_ADDRESS: address, attr.WORKER_NAME: str(worker + 1),
        attr.THREAD_ID: 140000000000000 + worker, attr.THREAD_NATIVE_ID: 2000 + worker,
        attr.THREAD_NAME: f"Dask-Default-Threads-{worker}-0",
    }
    if not failed:
        attributes.update({attr.TASK_RESULT_TYPE: "int", attr.TASK_RESULT_NBYTES: 28})
    attributes[attr.TASK_DURATION_PREFIX + "compute"] = (finish - compute_start) / 1e9
    events = []
    error = None
    if failed:
        events.append(_event(attr.EXCEPTION_EVENT, finish, {
            attr.EXCEPTION_TYPE: "ValueError", attr.EXCEPTION_MESSAGE: text}))
        error = f"ValueError: {text}"
    writer.add(file, _span(trace, execution, attempt, attr.execution_span_name(prefix), begin,
                           finish, attributes, events, error))
    phases = [("compute", compute_start, finish)]
    if transfer:
        phases.insert(0, ("transfer", begin, compute_start))
    for index, (action, start, stop) in enumerate(phases):
        phase = {attr.RECORD_TYPE: attr.RECORD_TASK_PHASE, attr.PHASE_ACTION: action,
                 attr.TASK_KEY: task.key}
        writer.add(file, _span(
            trace, execution_span_id(trace, task.key, f"{run_id}/{index}"), execution,
            attr.phase_span_name(action, prefix), start, stop, phase,
            error=error if action == "compute" else None))


def write(directory: Path, tasks: Iterable[SyntheticTask], **options: Any) -> list[Path]:
    """The files of one computation of *tasks* under *directory*, written as they are cut."""
    directory.mkdir(parents=True, exist_ok=True)
    opened: dict[str, IO[str]] = {}

    def write_line(name: str, line: str) -> None:
        if name not in opened:
            opened[name] = open(directory / name, "w", encoding="utf-8")
        opened[name].write(line)

    try:
        stream(tasks, write_line, **options)
    finally:
        for handle in opened.values():
            handle.close()
    return sorted(directory / name for name in opened)
