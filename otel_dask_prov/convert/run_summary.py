"""What a run did, summarized from its PROV records in bounded memory: the report's data.

:class:`RunSummaryWriter` is a :class:`~.streaming.DocumentWriter`: the
conversion drives it exactly as it drives the PROV writers, so the report shows
what the PROV document says, nothing more. It reads the records of the mapping
(:mod:`.mapping`, :mod:`.taskdata`, :mod:`.darshan_mapping`) and keeps:

* **exact totals**: per task group (attempts, tasks, summed duration, outcomes,
  bytes), every group-to-group dependency with its number of edges, the run's
  span, processes, threads and outcome counts;
* **details of a bounded set of attempts**: every attempt when the run has at
  most :data:`ATTEMPTS_KEPT` of them; above that, a uniform sample of
  :data:`ATTEMPTS_KEPT` (seeded, so the same input gives the same report) plus
  every failed attempt up to :data:`FAILURES_KEPT`;
* the first :data:`COMPUTATIONS_KEPT` computations and :data:`FILES_KEPT` files,
  with the number left out.

Memory grows with the number of attempts by 24 bytes each (a task's span id
and group, and each dependency edge's, to count the edges between groups once
every producer is known), and is otherwise bounded by those limits.

The group of a task is Dask's task group (``dask:group``, or its prefix when the
mapping left the group out because it equals the prefix); the group of a value
no traced attempt produced is derived from its key as Dask derives it
(:func:`key_group`).
"""

from __future__ import annotations

import math
import random
import re
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Final

from .. import attributes as attr
from .. import prov_vocabulary as vocabulary
from ..prov_vocabulary import PROV_LOCATION, PROV_ROLE, PROV_TYPE
from ..version import __version__
from . import identifiers as ids
from .prov_records import Record
from .streaming import RecordRouter

ATTEMPTS_KEPT: Final = 20_000
"""Attempts whose details a report keeps, beyond the failed ones (a uniform sample above)."""
FAILURES_KEPT: Final = 5_000
"""Failed attempts whose details a report keeps."""
COMPUTATIONS_KEPT: Final = 1_000
FILES_KEPT: Final = 1_000
TASKS_PER_FILE: Final = 50
"""Attempts listed per file as its readers or writers (all are counted)."""

FAILED: Final = frozenset({attr.OUTCOME_ERROR, attr.OUTCOME_RETRIED, attr.OUTCOME_WORKER_LOST,
                           attr.OUTCOME_DEPENDENCY_ERROR, attr.OUTCOME_UNFINISHED})
"""Outcomes of the attempts a report lists under failures."""

_TASK_EXECUTION = vocabulary.TASK_EXECUTION
_UNEXECUTED = vocabulary.UNEXECUTED_ATTEMPT
_PHASES = {vocabulary.DURATION_PREFIX + "".join(word.title() for word in action.split("-")): action
           for action in attr.PHASE_ACTIONS}
"""``dask:durationDiskRead`` -> ``disk-read`` (the names :mod:`.attribute_pairs` gives)."""
_IO = {vocabulary.IO_READ_BYTES: "read_bytes", vocabulary.IO_WRITE_BYTES: "write_bytes",
       vocabulary.IO_READ_CALLS: "read_calls", vocabulary.IO_WRITE_CALLS: "write_calls",
       vocabulary.IO_STORAGE_READ_BYTES: "storage_read_bytes",
       vocabulary.IO_STORAGE_WRITE_BYTES: "storage_write_bytes"}
_ROLES = {vocabulary.WORKER: "worker", vocabulary.SCHEDULER: "scheduler",
          vocabulary.CLIENT: "client"}
_POOL_THREAD = re.compile(r"Dask-Default-Threads-\d+-(\d+)$")
_HELD = (ids.PATH, ids.DATA, ids.ERROR, ids.VALUE, ids.ARGUMENT)
"""Entities held until the relation that places them arrives."""


def key_group(key: str) -> str:
    """The task group Dask gives the task of *key* (``str(key)`` of a tuple key included):
    Dask's own ``key_split_group``, imported when a value of an untraced producer needs it.

    >>> key_group("('rechunk-merge-8a7f', 0, 1)")
    'rechunk-merge-8a7f'
    >>> key_group("inc-8a7fb1c2d3e4f5a6b7c8d9e0f1a2b3c4")
    'inc'
    """
    from distributed.utils import key_split_group

    return str(key_split_group(key))


def thread_label(worker: str, thread: str) -> str:
    """A short name for a worker thread: the worker's, and the thread's number in its pool.

    >>> thread_label("worker-1", "Dask-Default-Threads-22631-0")
    'worker-1 · thread 0'
    >>> thread_label("tcp://10.0.0.2:4001", "MainThread")
    'tcp://10.0.0.2:4001 · MainThread'
    """
    pool = _POOL_THREAD.search(thread)
    return f"{worker} · thread {pool.group(1)}" if pool else f"{worker} · {thread}"


def _seconds(moment: Any) -> float | None:
    """Seconds since the epoch of a record's time (ISO text or datetime), None if absent."""
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        moment = datetime.fromisoformat(str(moment))
    return float(moment.timestamp())


def _span_number(span: str) -> int:
    try:
        return int(span, 16)
    except ValueError:
        return 0


# --------------------------------------------------------------------------
# What is kept
# --------------------------------------------------------------------------
class Attempt:
    """The details of one kept attempt, as the report shows them."""

    __slots__ = ("arguments", "attempt", "blame", "computation", "end", "exception", "files",
                 "group", "identifier", "input_spans", "inputs", "io", "key", "outcome",
                 "phases", "previous", "rerun_reason", "result", "span", "start", "thread",
                 "thread_name", "worker")

    def __init__(self, identifier: str, key: str, group: int, pairs: dict[str, Any],
                 start: float | None, end: float | None) -> None:
        self.identifier = identifier
        self.span = ids.span_of(identifier)
        self.key = key
        self.group = group
        self.attempt = pairs.get(vocabulary.ATTEMPT)
        self.outcome = str(pairs.get(vocabulary.OUTCOME) or "")
        self.start = start
        self.end = end
        self.worker: str | None = None
        self.thread: int | None = None
        self.thread_name = pairs.get(vocabulary.THREAD_NAME) or pairs.get(vocabulary.THREAD)
        self.computation: str | None = None
        self.phases = {_PHASES[name]: value for name, value in pairs.items() if name in _PHASES}
        self.io = {_IO[name]: value for name, value in pairs.items() if name in _IO}
        self.result: dict[str, Any] | None = None
        self.exception: dict[str, Any] | None = None
        if vocabulary.EXCEPTION_TYPE in pairs:  # an attempt that never ran: its dependency's
            self.exception = {"type": pairs.get(vocabulary.EXCEPTION_TYPE),
                              "message": pairs.get(vocabulary.EXCEPTION_MESSAGE),
                              "traceback": None}
        self.blame = pairs.get(vocabulary.EXCEPTION_BLAME)
        self.rerun_reason = pairs.get(vocabulary.RERUN_REASON)
        self.previous: str | None = None
        self.input_spans: list[tuple[str, str]] = []
        """``(span id, local name)`` of the values it used: keys once the producers are known."""
        self.inputs: list[str] = []
        self.files: list[dict[str, str]] = []
        self.arguments: list[dict[str, Any]] = []


@dataclass
class Group:
    """Exact totals of one task group."""

    name: str
    prefix: str
    tasks: int = 0
    attempts: int = 0
    time: float = 0.0
    start: float = math.inf
    end: float = -math.inf
    outcomes: Counter[str] = field(default_factory=Counter)
    read_bytes: int = 0
    write_bytes: int = 0
    result_bytes: int = 0
    code: dict[str, Any] = field(default_factory=dict)


@dataclass
class Process:
    """A scheduler, worker or client, as its agent describes it."""

    identifier: str
    role: str
    details: dict[str, Any] = field(default_factory=dict)
    packages: list[str] = field(default_factory=list)


@dataclass
class FileUse:
    """A file the run read or wrote."""

    path: str
    reads: int = 0
    writes: int = 0
    read_by: list[str] = field(default_factory=list)
    """Task ids of its readers (the first :data:`TASKS_PER_FILE`)."""
    written_by: list[str] = field(default_factory=list)
    darshan: dict[str, float] = field(default_factory=dict)
    """Darshan's counters of the file, summed over the workers' logs."""


@dataclass
class Computation:
    """One graph submission."""

    identifier: str
    start: float | None
    end: float | None
    outcome: str | None
    tasks: Any
    erred: Any
    code: dict[str, Any] = field(default_factory=dict)
    client: str | None = None
    scheduler: str | None = None


# --------------------------------------------------------------------------
# The writer
# --------------------------------------------------------------------------
class RunSummaryWriter:
    """A document writer that summarizes instead of writing; :meth:`data` is the result."""

    def __init__(self, attempts_kept: int = ATTEMPTS_KEPT, failures_kept: int = FAILURES_KEPT) -> None:
        self.attempts_kept = attempts_kept
        self.failures_kept = failures_kept
        self.inputs: list[dict[str, Any]] = []
        self.groups: dict[str, int] = {}
        self.group_list: list[Group] = []
        self.processes: dict[str, Process] = {}
        self.threads: dict[tuple[str, str], int] = {}
        self.computations: list[Computation] = []
        self.computation_count = 0
        self.files: dict[str, FileUse] = {}
        self.file_count = 0
        self.outcomes: Counter[str] = Counter()
        self.tasks = 0
        self.retried_tasks = 0
        self.lost_workers: set[str] = set()
        self.first = math.inf
        self.last = -math.inf
        self.sampled: list[Attempt] = []
        self.failed: list[Attempt] = []
        self.failures_left_out = 0
        self.regular_seen = 0
        self.random = random.Random(0)
        self.task_spans = array("Q")
        self.task_groups = array("I")
        self.edge_consumers = array("I")
        self.edge_producers = array("Q")
        self.known_edges: Counter[tuple[int, int]] = Counter()
        self._top = TraceSummary(self, None)

    # -- DocumentWriter --------------------------------------------------------
    def start(self, header: Iterable[Record]) -> None:
        for record in header:
            if record.kind == "entity" and any(
                    value == vocabulary.TRACE_FILE for name, value in record.attributes
                    if name == PROV_TYPE):
                pairs = dict(record.attributes)
                self.inputs.append({"path": pairs.get(PROV_LOCATION),
                                    "size": pairs.get(vocabulary.SIZE),
                                    "sha256": pairs.get(vocabulary.SHA256)})

    def top(self) -> TraceSummary:
        return self._top

    def open_bundle(self, identifier: str, direct: bool = False) -> TraceSummary:
        return TraceSummary(self, identifier)

    def close_bundle(self, bundle: TraceSummary) -> None:
        bundle.close()

    def finish(self) -> None:
        self._top.close()

    # -- in parts (otel_dask_prov.convert.on_cluster) -----------------------------
    def part_writers(self, work: Path) -> SummaryParts:
        """Summaries of parts of the run, made on other machines and joined by :meth:`add_part`."""
        return SummaryParts(self.attempts_kept, self.failures_kept)

    def part_result(self) -> RunSummaryWriter:
        """This summary (of a part), to be sent back and joined."""
        self._top = TraceSummary(self, None)  # its handlers are not needed any more
        return self

    def add_part(self, part: RunSummaryWriter) -> None:
        """Join the summary of a part: exact totals add up, kept lists fill up to their
        limits, and the two samples of attempts become one uniform sample of both."""
        groups = [self.group_index(group.name, group.prefix) for group in part.group_list]
        for group, number in zip(part.group_list, groups, strict=True):
            _add_group(self.group_list[number], group)
        threads = {index: self.thread_index(*thread) for thread, index in part.threads.items()}
        for identifier, process in part.processes.items():
            known = self.processes.setdefault(identifier, Process(identifier, process.role))
            known.packages.extend(name for name in process.packages if name not in known.packages)
            for name, value in process.details.items():
                known.details.setdefault(name, value)
        self.computations.extend(part.computations[:COMPUTATIONS_KEPT - len(self.computations)])
        self.computation_count += part.computation_count
        self.file_count += part.file_count
        for path, use in part.files.items():
            known_use = self.files.get(path)
            if known_use is None:
                if len(self.files) >= FILES_KEPT:
                    continue
                known_use = self.files[path] = FileUse(path)
            _add_file_use(known_use, use)
        self.outcomes.update(part.outcomes)
        self.tasks += part.tasks
        self.retried_tasks += part.retried_tasks
        self.lost_workers |= part.lost_workers
        self.first, self.last = min(self.first, part.first), max(self.last, part.last)
        for kept in (*part.sampled, *part.failed):
            kept.group = groups[kept.group]
            kept.thread = threads[kept.thread] if kept.thread is not None else None
        room = self.failures_kept - len(self.failed)
        self.failed.extend(part.failed[:room])
        self.failures_left_out += part.failures_left_out + max(0, len(part.failed) - room)
        self.sampled = self._merged_sample(part)
        self.regular_seen += part.regular_seen
        regroup = array("I", groups)
        self.task_spans.extend(part.task_spans)
        self.task_groups.extend(regroup[group] for group in part.task_groups)
        self.edge_producers.extend(part.edge_producers)
        self.edge_consumers.extend(regroup[group] for group in part.edge_consumers)
        for (producer, consumer), count in part.known_edges.items():
            self.known_edges[(groups[producer], groups[consumer])] += count

    def _merged_sample(self, part: RunSummaryWriter) -> list[Attempt]:
        """A uniform sample of the attempts both samples stand for: each pick comes from one
        side with the probability of its attempts not picked yet (each side's sample being a
        uniform sample of its attempts)."""
        sides = [list(self.sampled), list(part.sampled)]
        for attempts in sides:
            self.random.shuffle(attempts)
        left = [self.regular_seen, part.regular_seen]
        merged: list[Attempt] = []
        while len(merged) < self.attempts_kept and (sides[0] or sides[1]):
            pick = 0 if self.random.randrange(max(1, left[0] + left[1])) < left[0] else 1
            if not sides[pick]:
                pick = 1 - pick
            merged.append(sides[pick].pop())
            left[pick] -= 1
        return merged

    # -- shared bookkeeping ------------------------------------------------------
    def group_index(self, name: str, prefix: str) -> int:
        index = self.groups.get(name)
        if index is None:
            index = self.groups[name] = len(self.group_list)
            self.group_list.append(Group(name, prefix))
        return index

    def thread_index(self, worker: str, thread: str) -> int:
        index = self.threads.get((worker, thread))
        if index is None:
            index = self.threads[(worker, thread)] = len(self.threads)
        return index

    def keep(self, attempt_outcome: str) -> int | None:
        """Whether to keep the details of the next attempt: its slot, ``-1`` to append,
        None to leave it out."""
        if attempt_outcome in FAILED:
            if len(self.failed) < self.failures_kept:
                return -1
            self.failures_left_out += 1
            return None
        self.regular_seen += 1
        if len(self.sampled) < self.attempts_kept:
            return -1
        slot = self.random.randrange(self.regular_seen)
        return slot if slot < self.attempts_kept else None

    def file(self, path: str) -> FileUse | None:
        use = self.files.get(path)
        if use is None:
            self.file_count += 1
            if len(self.files) >= FILES_KEPT:
                return None
            use = self.files[path] = FileUse(path)
        return use

    def process(self, record: Record) -> None:
        pairs = record.attributes
        roles = [_ROLES[str(value)] for name, value in pairs
                 if name == PROV_TYPE and str(value) in _ROLES]
        if not roles or record.identifier is None:
            return
        known = self.processes.get(record.identifier)
        if known is None:
            known = self.processes[record.identifier] = Process(record.identifier, roles[0])
        for name, value in pairs:
            if name == vocabulary.PACKAGE:
                if value not in known.packages:
                    known.packages.append(str(value))
            elif name != PROV_TYPE:
                known.details.setdefault(name, value)

    # -- the result ----------------------------------------------------------------
    def data(self, title: str = "otel-dask-prov report") -> dict[str, Any]:
        """The report's data: the JSON the page reads (``docs/report.md`` describes it)."""
        origin = self.first if self.first != math.inf else 0.0
        attempts = sorted(self.failed + self.sampled,
                          key=lambda kept: (kept.start if kept.start is not None else math.inf,
                                            kept.key))
        position = {kept.span: index for index, kept in enumerate(attempts)}
        keys = {kept.span: kept.key for kept in attempts}
        process_ids = list(self.processes)
        process_index = {identifier: index for index, identifier in enumerate(process_ids)}
        computation_index = {c.identifier: index for index, c in enumerate(self.computations)}

        def relative(moment: float | None) -> float | None:
            return None if moment is None else round(moment - origin, 6)

        threads: list[dict[str, Any] | None] = [None] * len(self.threads)
        for (worker, thread), index in self.threads.items():
            process = self.processes.get(worker)
            name = process.details.get(vocabulary.WORKER_NAME) if process else None
            threads[index] = {"worker": process_index.get(worker), "thread": thread,
                              "label": thread_label(str(name or worker.partition(".")[2]),
                                                    thread)}
        workers = sum(1 for process in self.processes.values() if process.role == "worker")
        return {
            "title": title,
            "tool": f"otel-dask-prov {__version__}",
            "inputs": self.inputs,
            "run": {
                "start_unix": origin,
                "start": _iso(self.first), "end": _iso(self.last),
                "duration": round(self.last - self.first, 6) if self.last >= self.first else 0.0,
                "computations": self.computation_count,
                "tasks": self.tasks,
                "attempts": sum(self.outcomes.values()),
                "workers": workers,
                "threads": len(self.threads),
                "outcomes": dict(self.outcomes),
                "failed_tasks": self.outcomes.get(attr.OUTCOME_ERROR, 0),
                "retried_tasks": self.retried_tasks,
                "lost_workers": len(self.lost_workers),
            },
            "limits": {
                "attempts_kept": len(attempts),
                "attempts_limit": self.attempts_kept,
                "sampled": self.regular_seen > self.attempts_kept or self.failures_left_out > 0,
                "failures_left_out": self.failures_left_out,
                "computations_kept": len(self.computations),
                "files_kept": len(self.files),
                "files": self.file_count,
            },
            "processes": [self._process_data(process) for process in self.processes.values()],
            "computations": [{
                "id": c.identifier, "start": relative(c.start), "end": relative(c.end),
                "outcome": c.outcome or (attr.OUTCOME_UNFINISHED if c.end is None else
                                         attr.OUTCOME_ERROR if c.erred else attr.OUTCOME_SUCCESS),
                "tasks": c.tasks, "erred": c.erred,
                "code": c.code.get("code"), "file": c.code.get("file"),
                "line": c.code.get("line"), "cell": c.code.get("cell"),
                "client": process_index.get(c.client or ""),
                "scheduler": process_index.get(c.scheduler or ""),
            } for c in self.computations],
            "groups": [{
                "name": g.name, "prefix": g.prefix, "tasks": g.tasks, "attempts": g.attempts,
                "time": round(g.time, 6),
                "start": relative(g.start) if g.start != math.inf else None,
                "end": relative(g.end) if g.end != -math.inf else None,
                "outcomes": dict(g.outcomes), "read_bytes": g.read_bytes,
                "write_bytes": g.write_bytes, "result_bytes": g.result_bytes,
                "function": g.code.get("function"), "file": g.code.get("file"),
                "line": g.code.get("line"),
            } for g in self.group_list],
            "group_edges": self._group_edges(),
            "threads": threads,
            "attempts": [self._attempt_data(kept, position, keys, process_index,
                                            computation_index, relative) for kept in attempts],
            "files": [{
                "path": use.path, "reads": use.reads, "writes": use.writes,
                "read_by": [position[s] for s in map(ids.span_of, use.read_by) if s in position],
                "written_by": [position[s] for s in map(ids.span_of, use.written_by)
                               if s in position],
                "darshan": dict(use.darshan) or None,
            } for use in self.files.values()],
        }

    def _process_data(self, process: Process) -> dict[str, Any]:
        d = process.details
        os_text = " ".join(str(d[name]) for name in (vocabulary.OS_TYPE, vocabulary.OS_VERSION)
                           if d.get(name)) or None
        return {
            "id": process.identifier, "role": process.role,
            "name": d.get(vocabulary.WORKER_NAME) or d.get(vocabulary.CLIENT_ID),
            "address": d.get(vocabulary.WORKER_ADDRESS) or d.get(vocabulary.SCHEDULER_ADDRESS),
            "host": d.get(vocabulary.HOST), "pid": d.get(vocabulary.PID),
            "python": d.get(vocabulary.RUNTIME_VERSION), "dask": d.get(vocabulary.DASK_VERSION),
            "distributed": d.get(vocabulary.DISTRIBUTED_VERSION), "os": os_text,
            "packages": sorted(process.packages),
            "lost": process.identifier in self.lost_workers,
        }

    @staticmethod
    def _attempt_data(kept: Attempt, position: dict[str, int], keys: dict[str, str],
                      process_index: dict[str, int], computation_index: dict[str, int],
                      relative: Any) -> dict[str, Any]:
        inputs = list(kept.inputs)
        inputs.extend(keys.get(span, local) for span, local in kept.input_spans)
        previous = ids.span_of(kept.previous) if kept.previous else None
        return {
            "id": kept.identifier, "key": kept.key, "group": kept.group,
            "attempt": kept.attempt, "outcome": kept.outcome,
            "start": relative(kept.start), "end": relative(kept.end),
            "worker": process_index.get(kept.worker or ""), "thread": kept.thread,
            "computation": computation_index.get(kept.computation or ""),
            "phases": kept.phases, "io": kept.io, "result": kept.result,
            "exception": kept.exception, "blame": kept.blame,
            "rerun_reason": kept.rerun_reason,
            "previous": position.get(previous) if previous else None,
            "inputs": inputs, "files": kept.files, "arguments": kept.arguments,
        }

    def _group_edges(self) -> list[list[int]]:
        """``[producer group, consumer group, edges]``, every producer found by its span."""
        edges = Counter(self.known_edges)
        if len(self.edge_producers):
            import numpy  # only here: the converter does not need it otherwise

            spans = numpy.frombuffer(self.task_spans, dtype=numpy.uint64)
            groups = numpy.frombuffer(self.task_groups, dtype=numpy.uint32)
            order = numpy.argsort(spans, kind="stable")
            spans, groups = spans[order], groups[order]
            producers = numpy.frombuffer(self.edge_producers, dtype=numpy.uint64)
            consumers = numpy.frombuffer(self.edge_consumers, dtype=numpy.uint32)
            found = numpy.searchsorted(spans, producers).clip(0, max(len(spans) - 1, 0))
            if len(spans):
                known = spans[found] == producers
                pairs = (groups[found[known]].astype(numpy.uint64) << numpy.uint64(32)) | \
                    consumers[known].astype(numpy.uint64)
                values, counts = numpy.unique(pairs, return_counts=True)
                for value, count in zip(values.tolist(), counts.tolist(), strict=True):
                    edges[(value >> 32, value & 0xFFFFFFFF)] += count
        return [[producer, consumer, count]
                for (producer, consumer), count in sorted(edges.items())]


@dataclass(frozen=True)
class SummaryParts:
    """Makes the summaries of parts of a run (picklable: they are made on the workers)."""

    attempts_kept: int
    failures_kept: int

    def __call__(self, number: int) -> RunSummaryWriter:
        summary = RunSummaryWriter(self.attempts_kept, self.failures_kept)
        summary.random = random.Random(number + 1)
        return summary


def _add_group(group: Group, other: Group) -> None:
    group.tasks += other.tasks
    group.attempts += other.attempts
    group.time += other.time
    group.start, group.end = min(group.start, other.start), max(group.end, other.end)
    group.outcomes.update(other.outcomes)
    group.read_bytes += other.read_bytes
    group.write_bytes += other.write_bytes
    group.result_bytes += other.result_bytes
    for name, value in other.code.items():
        group.code.setdefault(name, value)


def _add_file_use(use: FileUse, other: FileUse) -> None:
    use.reads += other.reads
    use.writes += other.writes
    use.read_by.extend(other.read_by[:TASKS_PER_FILE - len(use.read_by)])
    use.written_by.extend(other.written_by[:TASKS_PER_FILE - len(use.written_by)])
    for name, value in other.darshan.items():
        use.darshan[name] = use.darshan.get(name, 0) + value


def _iso(moment: float) -> str | None:
    if not math.isfinite(moment):
        return None
    return datetime.fromtimestamp(moment, tz=timezone.utc).isoformat(timespec="milliseconds")


class TraceSummary(RecordRouter):
    """The records of one trace (or the document's top container)."""

    def __init__(self, summary: RunSummaryWriter, bundle: str | None) -> None:
        super().__init__()
        self.summary = summary
        self.bundle = bundle
        self.current: Attempt | None = None
        self.current_id: str | None = None
        self.current_group = 0
        self.current_outcome = ""
        self.kept: dict[str, Attempt] = {}
        self.entities: dict[str, tuple[tuple[str, Any], ...]] = {}
        """Entities waiting for the relation that says whose they are (values, errors,
        arguments, written versions), and the paths and data of this container."""
        self.computation: Computation | None = None
        self.plans: dict[str, int] = {}
        self.handlers = {
            "activity": self._activity, "entity": self._entity, "agent": self._agent,
            "used": self._used, "wasGeneratedBy": self._generated,
            "wasAssociatedWith": self._associated, "wasInfluencedBy": self._influenced,
            "specializationOf": self._specialization,
        }

    # -- elements -------------------------------------------------------------------
    def _activity(self, record: Record) -> None:
        identifier = record.identifier or ""
        types = [value for name, value in record.attributes if name == PROV_TYPE]
        start, end = _seconds(record.formal[0]), _seconds(record.formal[1])
        summary = self.summary
        if start is not None:
            summary.first = min(summary.first, start)
            summary.last = max(summary.last, end if end is not None else start)
        if vocabulary.COMPUTATION in types:
            self._computation(identifier, dict(record.attributes), start, end)
        elif _TASK_EXECUTION in types or _UNEXECUTED in types:
            self._task(identifier, dict(record.attributes), start, end,
                       executed=_TASK_EXECUTION in types)

    def _computation(self, identifier: str, pairs: dict[str, Any], start: float | None,
                     end: float | None) -> None:
        summary = self.summary
        summary.computation_count += 1
        computation = Computation(identifier, start, end, pairs.get(vocabulary.OUTCOME),
                                  pairs.get(vocabulary.TASK_COUNT),
                                  pairs.get(vocabulary.ERRED_TASKS))
        if len(summary.computations) < COMPUTATIONS_KEPT:
            summary.computations.append(computation)
            self.computation = computation
            for kept in self.kept.values():
                kept.computation = identifier

    def _task(self, identifier: str, pairs: dict[str, Any], start: float | None,
              end: float | None, executed: bool) -> None:
        summary = self.summary
        key = str(pairs.get(vocabulary.KEY, ""))
        prefix = str(pairs.get(vocabulary.PREFIX, ""))
        name = str(pairs.get(vocabulary.GROUP) or prefix)
        group_index = summary.group_index(name, prefix)
        group = summary.group_list[group_index]
        outcome = str(pairs.get(vocabulary.OUTCOME) or "")
        number = pairs.get(vocabulary.ATTEMPT)
        group.attempts += 1
        group.outcomes[outcome] += 1
        summary.outcomes[outcome] += 1
        if number in (None, 1):
            group.tasks += 1
            summary.tasks += 1
        elif number == 2:
            summary.retried_tasks += 1
        if start is not None:
            group.start = min(group.start, start)
            group.end = max(group.end, end if end is not None else start)
            if executed and end is not None:
                group.time += end - start
        group.read_bytes += int(pairs.get(vocabulary.IO_READ_BYTES) or 0)
        group.write_bytes += int(pairs.get(vocabulary.IO_WRITE_BYTES) or 0)
        span = ids.span_of(identifier)
        summary.task_spans.append(_span_number(span))
        summary.task_groups.append(group_index)
        self.current_id = identifier
        self.current_group = group_index
        self.current_outcome = outcome
        self.current = None
        slot = summary.keep(outcome)
        if slot is None:
            return
        kept = Attempt(identifier, key, group_index, pairs, start, end)
        if self.computation is not None:
            kept.computation = self.computation.identifier
        target = summary.failed if outcome in FAILED else summary.sampled
        if slot < 0:
            target.append(kept)
        else:
            self.kept.pop(target[slot].identifier, None)
            target[slot] = kept
        self.current = kept
        self.kept[identifier] = kept

    def _entity(self, record: Record) -> None:
        identifier = record.identifier or ""
        if identifier.startswith(_HELD) or any(
                name == PROV_TYPE and value == vocabulary.DARSHAN_FILE_RECORD
                for name, value in record.attributes):
            self.entities[identifier] = record.attributes
        elif any(name == PROV_TYPE and value == vocabulary.GRAPH
                 for name, value in record.attributes):
            if self.computation is not None:
                pairs = dict(record.attributes)
                self.computation.code = {
                    "code": pairs.get(vocabulary.CODE),
                    "file": pairs.get(vocabulary.CODE_FILENAME),
                    "line": pairs.get(vocabulary.CODE_LINENO),
                    "cell": pairs.get(vocabulary.NOTEBOOK_CELL)}
        elif any(name == PROV_TYPE and value == vocabulary.TASK_PLAN
                 for name, value in record.attributes):
            group = self.plans.get(identifier)
            if group is not None:
                code = self.summary.group_list[group].code
                pairs = dict(record.attributes)
                for field_name, prov_name in (
                        ("function", vocabulary.FUNCTION), ("file", vocabulary.CODE_FILENAME),
                        ("line", vocabulary.CODE_LINENO), ("cell", vocabulary.NOTEBOOK_CELL)):
                    if pairs.get(prov_name) is not None:
                        code.setdefault(field_name, pairs[prov_name])

    def _agent(self, record: Record) -> None:
        self.summary.process(record)

    # -- relations ----------------------------------------------------------------
    def _attempt(self, task: str) -> Attempt | None:
        if task == self.current_id:
            return self.current
        return self.kept.get(task)

    def _used(self, record: Record) -> None:
        task, used = str(record.formal[0]), str(record.formal[1])
        if not task.startswith(ids.TASK):
            return
        kept = self._attempt(task)
        summary = self.summary
        if used.startswith(ids.VALUE):
            group = self.current_group if task == self.current_id else None
            if group is not None:
                summary.edge_consumers.append(group)
                summary.edge_producers.append(_span_number(ids.span_of(used)))
            if kept is not None:
                local = used[len(ids.VALUE):].rpartition(".")[0]
                kept.input_spans.append((ids.span_of(used), local))
        elif used.startswith(ids.DATA):
            key = str(dict(self.entities.get(used, ())).get(vocabulary.KEY, used[len(ids.DATA):]))
            if task == self.current_id:
                producer = summary.group_index(key_group(key), key_group(key))
                summary.known_edges[(producer, self.current_group)] += 1
            if kept is not None:
                kept.inputs.append(key)
        elif used.startswith(ids.PATH):
            path = self._path(used)
            mode = str(dict(record.attributes).get(vocabulary.FILE_MODE, "r"))
            use = summary.file(path) if path else None
            if use is not None:
                use.reads += 1
                if len(use.read_by) < TASKS_PER_FILE and kept is not None:
                    use.read_by.append(task)
            if kept is not None and path:
                kept.files.append({"path": path, "mode": mode})
        elif used.startswith(ids.ARGUMENT) and kept is not None:
            pairs = dict(self.entities.pop(used, ()))
            role = dict(record.attributes).get(PROV_ROLE)
            kept.arguments.append({"role": role, "type": pairs.get(vocabulary.TYPE),
                                   "value": pairs.get(vocabulary.VALUE)})

    def _path(self, identifier: str) -> str | None:
        general = ids.general_path_id(identifier)
        location = dict(self.entities.get(identifier, ()) or self.entities.get(general, ())).get(
            PROV_LOCATION)
        return str(location) if location is not None else None

    def _generated(self, record: Record) -> None:
        entity, task = str(record.formal[0]), str(record.formal[1])
        if not task.startswith(ids.TASK):
            return
        kept = self._attempt(task)
        pairs = dict(self.entities.pop(entity, ()))
        if entity.startswith(ids.VALUE):
            nbytes = pairs.get(vocabulary.NBYTES)
            if isinstance(nbytes, int) and task == self.current_id:
                self.summary.group_list[self.current_group].result_bytes += nbytes
            if kept is not None:
                kept.result = {"type": pairs.get(vocabulary.TYPE), "nbytes": nbytes,
                               "hash": pairs.get(vocabulary.HASH)}
        elif entity.startswith(ids.ERROR):
            if kept is not None:
                kept.exception = {"type": pairs.get(vocabulary.EXCEPTION_TYPE),
                                  "message": pairs.get(vocabulary.EXCEPTION_MESSAGE),
                                  "traceback": pairs.get(vocabulary.EXCEPTION_STACKTRACE)}
        elif entity.startswith(ids.PATH):
            path = pairs.get(PROV_LOCATION)
            if path is None:
                return
            mode = str(dict(record.attributes).get(vocabulary.FILE_MODE, "w"))
            use = self.summary.file(str(path))
            if use is not None:
                use.writes += 1
                if len(use.written_by) < TASKS_PER_FILE and kept is not None:
                    use.written_by.append(task)
            if kept is not None:
                kept.files.append({"path": str(path), "mode": mode})

    def _associated(self, record: Record) -> None:
        activity, agent = str(record.formal[0]), str(record.formal[1])
        plan = record.formal[2]
        if activity.startswith(ids.TASK):
            if plan is not None:
                self.plans.setdefault(str(plan), self.current_group)
            if not agent.startswith(ids.WORKER):
                return
            if activity == self.current_id and self.current_outcome == attr.OUTCOME_WORKER_LOST:
                self.summary.lost_workers.add(agent)
            kept = self._attempt(activity)
            if kept is not None:
                kept.worker = agent
                if kept.thread_name is not None:
                    kept.thread = self.summary.thread_index(agent, str(kept.thread_name))
        elif self.computation is not None and activity == self.computation.identifier:
            if agent.startswith(ids.CLIENT):
                self.computation.client = agent
            elif agent.startswith(ids.SCHEDULER):
                self.computation.scheduler = agent

    def _influenced(self, record: Record) -> None:
        task, previous = str(record.formal[0]), str(record.formal[1])
        kept = self._attempt(task)
        if kept is not None and previous.startswith(ids.TASK):
            kept.previous = previous

    def _specialization(self, record: Record) -> None:
        specific, general = str(record.formal[0]), str(record.formal[1])
        pairs = self.entities.pop(specific, None) if not specific.startswith(ids.PATH) else None
        if pairs is None or not any(name == PROV_TYPE and value == vocabulary.DARSHAN_FILE_RECORD
                                    for name, value in pairs):
            return
        path = self._path(general)
        use = self.summary.file(path) if path else None
        if use is None:
            return
        for name, value in pairs:  # Darshan's counters keep their own upper-case names
            counter = name.partition(":")[2]
            if counter.isupper() and isinstance(value, (int, float)) and \
                    not isinstance(value, bool):
                use.darshan[counter] = use.darshan.get(counter, 0) + value

    def close(self) -> None:
        """The trace is complete: agents are described, plans known; let go of its state."""
        self.kept.clear()
        self.entities.clear()
        self.plans.clear()
        self.current = None
        self.current_id = None
