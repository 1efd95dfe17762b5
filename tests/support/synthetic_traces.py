"""Synthetic otel-dask-prov traces: the files the plugins would write for a task graph.

For tests and benchmarks of the converter without running Dask. The spans are
made the way the plugins make them, so they cannot drift from what the plugins
write: this module plays the scheduler and the workers, fills the plugins'
records (:mod:`otel_dask_prov.capture.records`) as
:mod:`~otel_dask_prov.capture.scheduler_plugin` and
:mod:`~otel_dask_prov.capture.worker_plugin` fill them, turns them into spans
with their own ``to_span_data()`` and writes those with the exporter's encoder
(:mod:`otel_dask_prov.export.otlp_json`) under the resource
:func:`~otel_dask_prov.capture.resource.build_resource` describes.

What is simulated is Dask's side: one computation, a ``dask.computation``
root, every task attempt with its transitions, a worker execution under each
attempt that ran (a ``compute`` phase, and a ``transfer`` one when a dependency
lives on another worker), retries, errors, lost workers and dependencies that
failed, with the times, run ids and stimulus ids the scheduler would give them.
The deployment probe is off (no resource attribute depends on this machine) and
so are the worker's other probes; process identities (instance id, host, pid)
are fixed, so a seed always gives the same files.

>>> tasks = [SyntheticTask("a-1"), SyntheticTask("b-1", ("a-1",), failures=1, retries=1)]
>>> files = generate(tasks, workers=2, seed=1)
>>> sorted(files)
['dask-scheduler.jsonl', 'dask-worker-0.jsonl', 'dask-worker-1.jsonl']
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dask.utils import key_split
from distributed.utils import key_split_group

from otel_dask_prov import attributes as attr
from otel_dask_prov.capture.records import AttemptRecord, ComputationRecord, ExecutionRecord
from otel_dask_prov.capture.resource import build_resource
from otel_dask_prov.capture.span_ids import attempt_span_id
from otel_dask_prov.export.otlp_json import encode_line, resource_prefix
from otel_dask_prov.export.span_data import SpanData
from otel_dask_prov.settings import Settings

START = 1_795_000_000.0
"""When the computation starts, in seconds since the epoch (Dask's clock)."""
_MS = 1e-3
SCHEDULER_FILE = "dask-scheduler.jsonl"
SCHEDULER_ADDRESS = "tcp://10.0.0.1:8786"
CLIENT_ID = "Client-00000000-0000-0000-0000-000000000001"
RESULT_NBYTES = 28
"""``sizeof`` of the small ``int`` every successful synthetic task returns."""
_THREAD_ID = 140_000_000_000_000
_SETTINGS = Settings(record_environment=False)


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
        """The task prefix Dask derives from the key (``TaskState.prefix``)."""
        return str(key_split(self.key))

    @property
    def group(self) -> str:
        """The task group Dask derives from the key (``TaskState.group``)."""
        return str(key_split_group(self.key))


def map_reduce(n_tasks: int, fan_in: int = 8) -> list[SyntheticTask]:
    """About *n_tasks* tasks: a map over inputs, then a tree reduction of *fan_in*."""
    leaves = max(1, n_tasks * (fan_in - 1) // fan_in)
    tasks = [SyntheticTask(f"inc-{i}") for i in range(leaves)]
    level, depth = [task.key for task in tasks], 0
    while len(level) > 1:
        depth += 1
        parents = []
        for start in range(0, len(level), fan_in):
            key = f"sum-{depth}-{start // fan_in}"
            tasks.append(SyntheticTask(key, tuple(level[start:start + fan_in])))
            parents.append(key)
        level = parents
    return tasks


def _process_resource(role: str, number: int, extra: Mapping[str, str]) -> dict[str, Any]:
    """The resource attributes of one process, with a fixed identity instead of this machine's."""
    attributes = dict(build_resource(role, _SETTINGS, extra).attributes)
    attributes.update({
        attr.SERVICE_INSTANCE_ID: f"00000000-0000-4000-8000-{number:012x}",
        attr.HOST_NAME: f"node{number}",
        attr.PROCESS_PID: 1000 + number,
    })
    return attributes


@dataclass(frozen=True)
class _Worker:
    """One simulated worker: its file, address and name (``str(worker.name)``)."""

    number: int
    file: str
    address: str
    name: str

    @property
    def thread_id(self) -> int:
        return _THREAD_ID + self.number


class _Exporter:
    """The span pipelines of the scheduler and the workers, writing OTLP JSON lines.

    Like :class:`~otel_dask_prov.export.span_pipeline.SpanPipeline`, it turns each
    record into spans as it arrives and cuts a line once *batch* spans are waiting.
    """

    def __init__(self, workers: list[_Worker], batch: int,
                 write_line: Callable[[str, str], None]) -> None:
        self.batch = batch
        self.write_line = write_line
        self.prefixes = {SCHEDULER_FILE: resource_prefix(_process_resource(
            "scheduler", 0, {attr.SCHEDULER_ADDRESS: SCHEDULER_ADDRESS}))}
        for worker in workers:
            self.prefixes[worker.file] = resource_prefix(_process_resource(
                "worker", worker.number + 1, {attr.WORKER_ADDRESS: worker.address,
                                              attr.WORKER_NAME: worker.name,
                                              attr.SCHEDULER_ADDRESS: SCHEDULER_ADDRESS}))
        self.pending: dict[str, list[SpanData]] = {file: [] for file in self.prefixes}

    def put(self, file: str, record: AttemptRecord | ExecutionRecord | ComputationRecord) -> None:
        pending = self.pending[file]
        pending.extend(record.to_span_data())
        if len(pending) >= self.batch:
            self._flush(file)

    def _flush(self, file: str) -> None:
        self.write_line(file, encode_line(self.prefixes[file], self.pending[file]))
        self.pending[file] = []

    def close(self) -> None:
        for file, pending in self.pending.items():
            if pending:
                self._flush(file)


@dataclass
class _Failure:
    """A key that ended in error: whose exception it carries (Dask's ``exception_blame``)."""

    culprit: str
    exception_text: str
    stimulus_id: str


@dataclass
class _KeyState:
    """What the scheduler plugin remembers of one key between its attempts."""

    attempts: int = 0
    retries_left: int = 0
    last_span: tuple[int, int] | None = None
    last_outcome: str | None = None
    retried: bool = False


_RERUN_REASONS = {
    attr.OUTCOME_RETRIED: "retry",
    attr.OUTCOME_WORKER_LOST: "worker-lost",
}
_FINAL_STATES = {
    attr.OUTCOME_SUCCESS: "memory",
    attr.OUTCOME_ERROR: "erred",
    attr.OUTCOME_RETRIED: "released",
    attr.OUTCOME_WORKER_LOST: "released",
}
_STIMULI = {
    attr.OUTCOME_SUCCESS: "task-finished",
    attr.OUTCOME_ERROR: "task-erred",
    attr.OUTCOME_RETRIED: "task-erred",
    attr.OUTCOME_WORKER_LOST: "handle-worker-cleanup",
}


def _exception(task: SyntheticTask) -> Exception:
    """What a failing attempt of *task* raises."""
    return ValueError(f"bad input to {task.key}")


def _outcomes(task: SyntheticTask) -> list[str]:
    """The outcome of each attempt of *task*, whose dependencies all succeeded."""
    outcomes = [attr.OUTCOME_WORKER_LOST] if task.lost_worker else []
    for failure in range(task.failures):
        if failure >= task.retries:
            outcomes.append(attr.OUTCOME_ERROR)
            return outcomes
        outcomes.append(attr.OUTCOME_RETRIED)
    outcomes.append(attr.OUTCOME_SUCCESS)
    return outcomes


@dataclass
class _Computation:
    """One computation being simulated: the scheduler's and the workers' view of it."""

    rng: random.Random
    trace_id: int
    record: ComputationRecord
    workers: list[_Worker]
    exporter: _Exporter
    clock: float = START
    next_run_id: int = 0
    produced: dict[str, tuple[int, float, _Worker]] = field(default_factory=dict)
    """key -> the span id and end of its successful attempt, and the worker holding its result."""
    failed: dict[str, _Failure] = field(default_factory=dict)

    def run(self, position: int, task: SyntheticTask) -> None:
        self.clock += self.rng.randint(1, 3) * _MS / 10
        state = _KeyState(retries_left=task.retries)
        failure = next((self.failed[dependency] for dependency in task.dependencies
                        if dependency in self.failed), None)
        if failure is not None:
            self._dependency_failed(position, task, state, failure)
            return
        for outcome in _outcomes(task):
            self._attempt(position, task, state, outcome)

    def _open(self, position: int, task: SyntheticTask, state: _KeyState,
              start: float) -> AttemptRecord:
        """The attempt record the scheduler plugin opens (``_open_attempt``)."""
        state.attempts += 1
        attempt = AttemptRecord(self.trace_id, self.record.span_id, task.key, task.prefix,
                                task.group, state.attempts, start)
        attempt.transitions = [(start, "released", "waiting", None)]
        if state.last_span is not None:
            attempt.previous = state.last_span
            attempt.rerun_reason = _RERUN_REASONS.get(state.last_outcome or "", "resubmitted")
        attempt.priority = (0, 1, position)
        self.record.prefixes[task.prefix] = None
        return attempt

    def _close(self, task: SyntheticTask, state: _KeyState, attempt: AttemptRecord) -> None:
        """What the scheduler plugin does when an attempt ends (``_close_attempt``)."""
        attempt.retries_left = state.retries_left
        attempt.dependencies = [
            (dependency, (self.trace_id, self.produced[dependency][0])
             if dependency in self.produced else None)
            for dependency in task.dependencies]
        attempt.span_id = attempt_span_id(self.trace_id, task.key, attempt.run_id, attempt.number)
        state.last_span = (self.trace_id, attempt.span_id)
        state.last_outcome = attempt.outcome
        self.exporter.put(SCHEDULER_FILE, attempt)
        if attempt.outcome in (attr.OUTCOME_ERROR, attr.OUTCOME_DEPENDENCY_ERROR):
            self.record.erred_tasks += 1

    def _dependency_failed(self, position: int, task: SyntheticTask, state: _KeyState,
                           failure: _Failure) -> None:
        """A dependency erred: Dask passes the task through ``waiting -> released -> erred``
        without running it, and the plugin keeps that as one attempt."""
        start = self.clock
        self.clock += _MS / 10
        attempt = self._open(position, task, state, start)
        assert attempt.transitions is not None
        attempt.transitions += [(self.clock, "waiting", "released", failure.stimulus_id),
                                (self.clock, "released", "erred", failure.stimulus_id)]
        attempt.end = self.clock
        attempt.state = "erred"
        attempt.outcome = attr.OUTCOME_DEPENDENCY_ERROR
        attempt.blame = failure.culprit
        attempt.exception_text = failure.exception_text
        self._close(task, state, attempt)
        self.failed[task.key] = failure

    def _attempt(self, position: int, task: SyntheticTask, state: _KeyState,
                 outcome: str) -> None:
        """One attempt that is dispatched to a worker, and its execution there."""
        rng = self.rng
        worker = self.workers[rng.randrange(len(self.workers))]
        inputs = [self.produced[dependency] for dependency in task.dependencies
                  if dependency in self.produced]
        waiting = self.clock
        dispatch = waiting + _MS / 10
        begin = dispatch + rng.randint(1, 5) * _MS / 10
        source = next((holder for _, _, holder in inputs if holder is not worker), None)
        compute_start = begin + (2 * _MS if source is not None else 0.0)
        finish = compute_start + rng.randint(1, 20) * _MS
        end = self.clock = finish + _MS / 2
        run_id = self.next_run_id
        self.next_run_id += 1

        attempt = self._open(position, task, state, waiting)
        assert attempt.transitions is not None
        final = _FINAL_STATES[outcome]
        ready = (f"task-finished-{max(produced_at for _, produced_at, _ in inputs)}" if inputs
                 else f"update-graph-{self.record.start}")
        stimulus_id = f"{_STIMULI[outcome]}-{end}"
        attempt.transitions += [(dispatch, "waiting", "processing", ready),
                                (end, "processing", final, stimulus_id)]
        attempt.worker, attempt.worker_name = worker.address, worker.name
        attempt.end, attempt.state, attempt.outcome = end, final, outcome
        attempt.run_id = run_id
        if outcome == attr.OUTCOME_RETRIED:
            state.retries_left -= 1
            state.retried = True

        if outcome != attr.OUTCOME_WORKER_LOST:
            startstops: list[dict[str, Any]] = [
                {"action": "compute", "start": compute_start, "stop": finish}]
            if source is not None:
                startstops.insert(0, {"action": "transfer", "start": begin,
                                      "stop": compute_start, "source": source.address})
            self._execute(task, worker, run_id, outcome, startstops)
            if outcome in (attr.OUTCOME_SUCCESS, attr.OUTCOME_ERROR):
                # the task-finished and task-erred messages carry these; a retry's
                # transition to released does not
                attempt.startstops = startstops
                attempt.thread = worker.thread_id
        if outcome == attr.OUTCOME_SUCCESS:
            attempt.nbytes, attempt.result_type = RESULT_NBYTES, "int"
            attempt.succeeded_after_retry = state.retried
        elif outcome == attr.OUTCOME_ERROR:
            attempt.exception_text = repr(_exception(task))
            self.failed[task.key] = _Failure(task.key, attempt.exception_text, stimulus_id)
        self._close(task, state, attempt)
        if outcome == attr.OUTCOME_SUCCESS:
            self.produced[task.key] = (attempt.span_id, end, worker)

    def _execute(self, task: SyntheticTask, worker: _Worker, run_id: int, outcome: str,
                 startstops: list[dict[str, Any]]) -> None:
        """The worker plugin's record of one execution (``_record_execution``)."""
        failed = outcome != attr.OUTCOME_SUCCESS
        execution = ExecutionRecord(
            self.trace_id, task.key, task.prefix, run_id, worker.address, worker.name,
            attr.OUTCOME_ERROR if failed else attr.OUTCOME_SUCCESS, startstops,
            startstops[0]["start"], startstops[-1]["stop"])
        execution.thread_id = worker.thread_id
        execution.thread_native_id = 2000 + worker.number
        execution.thread_name = f"Dask-Default-Threads-{worker.number}-0"
        if failed:
            exception = _exception(task)
            execution.exception_type = type(exception).__qualname__
            execution.exception_message = str(exception)
        else:
            execution.nbytes, execution.result_type = RESULT_NBYTES, "int"
        self.exporter.put(worker.file, execution)


def generate(
    tasks: Iterable[SyntheticTask],
    workers: int = 2,
    seed: int = 0,
    batch: int = 512,
    trace_id: int | None = None,
    start: float = START,
) -> dict[str, list[str]]:
    """OTLP JSON lines per process file (scheduler, workers) for one computation of *tasks*,
    submitted at *start* (seconds since the epoch).

    *tasks* must list every task after its dependencies.
    """
    files: dict[str, list[str]] = {}
    stream(tasks, lambda file, line: files.setdefault(file, []).append(line),
           workers=workers, seed=seed, batch=batch, trace_id=trace_id, start=start)
    return dict(sorted(files.items()))


def stream(
    tasks: Iterable[SyntheticTask],
    write_line: Callable[[str, str], None],
    workers: int = 2,
    seed: int = 0,
    batch: int = 512,
    trace_id: int | None = None,
    start: float = START,
) -> None:
    """Like :func:`generate`, handing each line to ``write_line(file name, line)`` as it is cut;
    computations submitted one after another (many small traces) each take their own *start*."""
    rng = random.Random(seed)
    trace = trace_id if trace_id is not None else rng.getrandbits(128) | 1
    simulated = _simulated_workers(workers)
    exporter = _Exporter(simulated, batch, write_line)
    _simulate(rng, trace, list(tasks), simulated, exporter, start)
    exporter.close()


def stream_many(
    computations: Iterable[tuple[Iterable[SyntheticTask], float]],
    write_line: Callable[[str, str], None],
    workers: int = 2,
    seed: int = 0,
    batch: int = 512,
) -> None:
    """Many computations (tasks, start) through one span pipeline per process, as a client
    that submits one small computation after another makes them: a line holds the spans of
    every trace that ended since the line before, as the plugins' exporters cut them."""
    rng = random.Random(seed)
    simulated = _simulated_workers(workers)
    exporter = _Exporter(simulated, batch, write_line)
    for tasks, start in computations:
        _simulate(rng, rng.getrandbits(128) | 1, list(tasks), simulated, exporter, start)
    exporter.close()


def _simulated_workers(count: int) -> list[_Worker]:
    return [_Worker(number, f"dask-worker-{number}.jsonl", f"tcp://10.0.1.{number + 1}:40000",
                    str(number + 1)) for number in range(count)]


def _simulate(rng: random.Random, trace: int, tasks: list[SyntheticTask], workers: list[_Worker],
              exporter: _Exporter, start: float) -> None:
    """One computation of *tasks*, its spans handed to *exporter*."""
    root = rng.getrandbits(64) | 1
    record = ComputationRecord(trace, root, None, start, CLIENT_ID, len(tasks),
                               [tasks[-1].key] if tasks else [])
    computation = _Computation(rng, trace, record, workers, exporter, clock=start)
    for position, task in enumerate(tasks):
        computation.run(position, task)
    record.end = computation.clock
    record.code = "result = graph.compute()\n"
    record.code_filename, record.code_lineno = "analysis.py", 1
    record.dask_span_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    record.dask_span_name = "default"
    exporter.put(SCHEDULER_FILE, record)


def write(directory: Path, tasks: Iterable[SyntheticTask], **options: Any) -> list[Path]:
    """The files of one computation of *tasks* under *directory*, written as they are cut."""
    directory.mkdir(parents=True, exist_ok=True)
    opened: dict[str, IO[str]] = {}

    def write_line(name: str, line: str) -> None:
        if name not in opened:
            opened[name] = (directory / name).open("w", encoding="utf-8")
        opened[name].write(line)

    try:
        stream(tasks, write_line, **options)
    finally:
        for handle in opened.values():
            handle.close()
    return sorted(directory / name for name in opened)
