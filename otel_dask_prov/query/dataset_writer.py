"""The export's writer: the PROV records of a conversion in, Parquet tables out, in bounded memory.

:class:`DatasetWriter` is a :class:`~otel_dask_prov.convert.streaming.DocumentWriter`,
driven by the conversion exactly like the PROV writers and
:class:`~otel_dask_prov.convert.run_summary.RunSummaryWriter`, so the tables say
what the PROV document says. It reads the records of the mapping
(:mod:`otel_dask_prov.convert.mapping`, :mod:`otel_dask_prov.convert.taskdata`):
the mapping emits the records of one attempt one after the other (its activity,
association, usages, value or exception, retry link), so a row is complete when
the next attempt's activity or the end of its trace arrives.

Rows are buffered per table and written to a ``pyarrow.parquet.ParquetWriter``
every :data:`ROWS_PER_FLUSH` rows. Two things about an attempt are only known
once its trace is complete: its worker's address and name (the agents close a
trace's records) and its code (the plans). The attempts are therefore written
with the worker's and plan's PROV ids first, and rewritten batch by batch when
the run is complete, with the address, name and code looked up among the few
processes and plans of the run. Memory grows with the number of processes and
task plans, and otherwise with one trace's file paths and pending computations.

Everything is written under a hidden folder of the dataset and moved into
place, ``<table>/run=<run>/part-0.parquet``, table by table when the run is
complete (replacing an earlier export of the same run).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .. import prov_vocabulary as vocabulary
from ..convert import identifiers as ids
from ..convert.prov_records import Record
from ..convert.streaming import RecordRouter
from ..errors import OutputError
from ..prov_vocabulary import PROV_LOCATION, PROV_TYPE, PROV_VALUE
from .schemas import (
    ATTEMPTS,
    ATTEMPTS_STAGED,
    COMPUTATIONS,
    DEPENDENCIES,
    EXECUTIONS,
    FILES,
    PHASE_COLUMNS,
    TABLES,
    WORKERS,
)

ROWS_PER_FLUSH: Final = 65_536
"""Rows of one table kept in memory before they are written (one Parquet row group)."""

ROWS_PER_BATCH: Final = 8_192
"""Rows of one table kept as Python tuples before they become an Arrow record batch."""


_PROFILE: Final = f"{ids.RUN_PREFIX}:profile."
"""The Yappi profile of an attempt (:mod:`otel_dask_prov.convert.taskdata`)."""
_HELD = (ids.VALUE, ids.ERROR, ids.PATH, ids.DATA, ids.ARGUMENT, _PROFILE)
"""Entities held until the relation that says whose they are (or, for paths and data,
for the rest of the trace)."""
_ROLES: Final = {vocabulary.WORKER: "worker", vocabulary.SCHEDULER: "scheduler",
                 vocabulary.CLIENT: "client"}
_EXECUTION_DURATIONS: Final = tuple(
    vocabulary.DURATION_PREFIX + "".join(word.title() for word in action.split("-"))
    for action in PHASE_COLUMNS)
"""``dask:durationTransfer``, ``dask:durationCompute``, ... in the order of the phase columns
of ``executions`` (the names :mod:`otel_dask_prov.convert.attribute_pairs` gives)."""
_IO: Final = (vocabulary.IO_READ_BYTES, vocabulary.IO_WRITE_BYTES, vocabulary.IO_READ_CALLS,
              vocabulary.IO_WRITE_CALLS, vocabulary.IO_STORAGE_READ_BYTES,
              vocabulary.IO_STORAGE_WRITE_BYTES)
_A: Final = {name: position for position, name in enumerate(ATTEMPTS_STAGED.names)}
"""Column positions of a staged attempt row."""


def run_id(sha256s: Iterable[str]) -> str:
    """The default name of a run: a short digest of its input files' SHA-256 digests.

    >>> run_id(["b" * 64, "a" * 64]) == run_id(["a" * 64, "b" * 64])
    True
    """
    return hashlib.sha256("\n".join(sorted(sha256s)).encode()).hexdigest()[:12]



# --------------------------------------------------------------------------
# One table's file
# --------------------------------------------------------------------------
def _column(values: tuple[Any, ...], kind: pa.DataType) -> pa.Array:
    """One column of buffered rows as an Arrow array of *kind*."""
    if pa.types.is_timestamp(kind):
        texts = [value.isoformat() if isinstance(value, datetime) else value for value in values]
        return pa.array(texts, pa.string()).cast(kind)
    try:
        return pa.array(values, kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if pa.types.is_integer(kind):
            return pa.array([_integer(value) for value in values], kind)
        if pa.types.is_floating(kind):
            return pa.array([_number(value) for value in values], kind)
        return pa.array([None if value is None else str(value) for value in values], kind)


def _integer(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class TableFile:
    """Rows of one table, buffered and appended to one Parquet file every *rows_per_flush*.

    Rows arrive as Python tuples, which take several times the memory of the same
    values in Arrow; every :data:`ROWS_PER_BATCH` of them become an Arrow record
    batch, and the batches are written as one row group every *rows_per_flush* rows.
    """

    def __init__(self, path: Path, schema: pa.Schema, rows_per_flush: int = ROWS_PER_FLUSH) -> None:
        self.path = path
        self.schema = schema
        self.rows_per_flush = rows_per_flush
        self.rows_per_batch = min(ROWS_PER_BATCH, rows_per_flush)
        self.rows: list[tuple[Any, ...] | list[Any]] = []
        self.batches: list[pa.RecordBatch] = []
        self.batched = 0
        self.count = 0
        self._writer: pq.ParquetWriter | None = None

    def append(self, row: tuple[Any, ...] | list[Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.rows_per_batch:
            self._batch()
            if self.batched >= self.rows_per_flush:
                self.flush()

    def _batch(self) -> None:
        columns = list(zip(*self.rows, strict=True)) if self.rows else [()] * len(self.schema)
        self.batches.append(pa.RecordBatch.from_arrays(
            [_column(values, field.type) for values, field in zip(columns, self.schema, strict=True)],
            schema=self.schema))
        self.batched += len(self.rows)
        self.rows.clear()

    def flush(self) -> None:
        """Write what is buffered as one row group."""
        if self.rows or not self.batches:
            self._batch()
        if not self.batched and self._writer is not None:
            self.batches.clear()
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self._writer.write_table(pa.Table.from_batches(self.batches, schema=self.schema),
                                 row_group_size=max(self.batched, 1))
        self.count += self.batched
        self.batched = 0
        self.batches.clear()

    def close(self) -> int:
        """Write what is buffered (an empty file for an empty table); the number of rows."""
        self.flush()
        assert self._writer is not None
        self._writer.close()
        return self.count


# --------------------------------------------------------------------------
# The writer
# --------------------------------------------------------------------------
class DatasetWriter:
    """A document writer that writes the tables of :mod:`.schemas` for one run.

    A *part* writer (numbered from 1) writes the rows of some of the run's traces,
    converted on another machine (:mod:`otel_dask_prov.convert.on_cluster`), to
    files of their own (``part-<n>.parquet``) in the whole writer's *staging*
    folder; the whole writer gathers what they found of the run's processes
    (:meth:`add_part`), writes ``workers`` and moves the tables into place.
    """

    def __init__(self, directory: Path, run: str | None = None,
                 rows_per_flush: int = ROWS_PER_FLUSH, part: int = 0,
                 staging: Path | None = None) -> None:
        self.directory = directory
        self.run = run
        self.rows_per_flush = rows_per_flush
        self.part = part
        self.staging = staging or directory / f".export-{os.getpid()}"
        self.tables: dict[str, TableFile] = {}
        self.processes: dict[str, dict[str, Any]] = {}
        self.packages: dict[str, list[str]] = {}
        self.roles: dict[str, str] = {}
        self.plan_hashes = array("q")
        """A 64-bit digest of each task plan's id: a run has two plans or more per
        computation, and a million computations would hold a million ids."""
        self.plan_codes = array("l")
        """The code of each plan, a position in :attr:`codes`."""
        self.codes: list[tuple[str | None, str | None, str | None, int | None]] = []
        """(function, function digest, code file, code line), each once."""
        self._code_numbers: dict[tuple[str | None, str | None, str | None, int | None], int] = {}
        self.rows: dict[str, int] = {}
        self._top: TraceRows | None = None

    # -- DocumentWriter --------------------------------------------------------
    def start(self, header: Iterable[Record]) -> None:
        sha256s = [str(value) for record in header if record.kind == "entity"
                   for name, value in record.attributes if name == vocabulary.SHA256]
        if self.run is None:
            self.run = run_id(sha256s)
        if not self.part:
            try:
                if self.staging.exists():
                    shutil.rmtree(self.staging)
                self.staging.mkdir(parents=True)
            except OSError as error:
                raise OutputError(str(self.directory), error.strerror or str(error)) from None
        for name, schema in (("computations", COMPUTATIONS), ("executions", EXECUTIONS),
                             ("dependencies", DEPENDENCIES), ("files", FILES)):
            self.tables[name] = TableFile(self.staging / name / self._file, schema,
                                          self.rows_per_flush)
        self.tables["attempts"] = TableFile(self._staged_attempts, ATTEMPTS_STAGED,
                                            self.rows_per_flush)
        self._top = TraceRows(self, None)

    @property
    def _file(self) -> str:
        return f"part-{self.part}.parquet"

    @property
    def _staged_attempts(self) -> Path:
        return self.staging / f"attempts.staged-{self.part}.parquet"

    def top(self) -> TraceRows:
        assert self._top is not None, "start() first"
        return self._top

    def open_bundle(self, identifier: str, direct: bool = False) -> TraceRows:
        return TraceRows(self, identifier[len(ids.TRACE):] if identifier.startswith(ids.TRACE)
                         else identifier)

    def close_bundle(self, bundle: TraceRows) -> None:
        bundle.close()

    def finish(self) -> None:
        self.top().close()
        for name, table in self.tables.items():
            self.rows[name] = self.rows.get(name, 0) + table.close()
        self._finish_attempts()  # the staged attempts, rewritten
        if self.part:
            return
        self.rows["workers"] = self._write_workers()
        self.rows = {name: self.rows[name] for name in TABLES}
        self._publish()

    # -- in parts ------------------------------------------------------------------
    def part_writers(self, work: Path) -> DatasetParts:
        """Writers of parts of this run, to the staging folder (*work* is not needed:
        the staging folder is in the dataset's folder, where the workers write too)."""
        assert self.run is not None, "start() first"
        return DatasetParts(self.directory, self.run, self.rows_per_flush, self.staging)

    def part_result(self) -> PartRows:
        """What this part wrote, and found of the run's processes."""
        return PartRows(self.rows, self.processes, self.packages, self.roles)

    def add_part(self, result: PartRows) -> None:
        """Count the rows of a part, and learn the processes it met."""
        for name, count in result.rows.items():
            self.rows[name] = self.rows.get(name, 0) + count
        for identifier, details in result.processes.items():
            known = self.processes.setdefault(identifier, {})
            for name, value in details.items():
                known.setdefault(name, value)
            packages = self.packages.setdefault(identifier, [])
            packages.extend(package for package in result.packages.get(identifier, ())
                            if package not in packages)
            self.roles.setdefault(identifier, result.roles[identifier])

    def abort(self) -> None:
        """Remove what was written: the conversion failed."""
        shutil.rmtree(self.staging, ignore_errors=True)

    # -- shared bookkeeping ------------------------------------------------------
    def process(self, record: Record) -> None:
        roles = [_ROLES[str(value)] for name, value in record.attributes
                 if name == PROV_TYPE and str(value) in _ROLES]
        identifier = record.identifier
        if not roles or identifier is None:
            return
        details = self.processes.setdefault(identifier, {})
        packages = self.packages.setdefault(identifier, [])
        self.roles.setdefault(identifier, roles[0])
        for name, value in record.attributes:
            if name == vocabulary.PACKAGE:
                if value not in packages:
                    packages.append(str(value))
            elif name != PROV_TYPE:
                details.setdefault(name, value)

    def plan(self, identifier: str, attributes: Iterable[tuple[str, Any]]) -> None:
        """Remember the code of the task plan *identifier* (a trace states it once)."""
        found: dict[str, Any] = {}
        for name, value in attributes:
            if name in (vocabulary.FUNCTION, vocabulary.FUNCTION_DIGEST, vocabulary.CODE_FILENAME,
                        vocabulary.CODE_LINENO):
                found.setdefault(name, value)
        code = (_text(found.get(vocabulary.FUNCTION)), _text(found.get(vocabulary.FUNCTION_DIGEST)),
                _text(found.get(vocabulary.CODE_FILENAME)),
                _integer(found.get(vocabulary.CODE_LINENO)))
        number = self._code_numbers.get(code)
        if number is None:
            number = self._code_numbers[code] = len(self.codes)
            self.codes.append(code)
        self.plan_hashes.append(_plan_hash(identifier))
        self.plan_codes.append(number)

    def _plan_code(self, plans: pa.Array) -> pa.Array:
        """For each plan id of *plans*, the position of its code in :attr:`codes` (or null)."""
        hashes = numpy.frombuffer(self.plan_hashes, dtype=numpy.int64)
        order = numpy.argsort(hashes, kind="stable")  # the first statement of a plan wins
        known = hashes[order]
        wanted = numpy.array([_plan_hash(plan) if plan is not None else 0
                              for plan in plans.to_pylist()], dtype=numpy.int64)
        at = numpy.minimum(numpy.searchsorted(known, wanted), max(len(known) - 1, 0))
        found = (numpy.array(plans.is_valid()) & (known[at] == wanted)) if len(known) else \
            numpy.zeros(len(wanted), dtype=bool)
        codes = numpy.frombuffer(self.plan_codes, dtype=numpy.int64)
        positions = codes[order[at]] if len(known) else numpy.zeros(len(wanted), dtype=numpy.int64)
        return pa.array(positions, pa.int64(), mask=~found)

    # -- the end -----------------------------------------------------------------
    def _finish_attempts(self) -> None:
        """Rewrite the staged attempts with their workers' addresses and names and their code."""
        staged = self._staged_attempts
        target = self.staging / "attempts" / self._file
        target.parent.mkdir(parents=True, exist_ok=True)
        workers = pa.array(list(self.processes), pa.string())
        addresses = pa.array([details.get(vocabulary.WORKER_ADDRESS)
                              for details in self.processes.values()], pa.string())
        names = pa.array([_text(details.get(vocabulary.WORKER_NAME))
                          for details in self.processes.values()], pa.string())
        functions = pa.array([code[0] for code in self.codes], pa.string())
        digests = pa.array([code[1] for code in self.codes], pa.string())
        files = pa.array([code[2] for code in self.codes], pa.string())
        lines = pa.array([code[3] for code in self.codes], pa.int64())
        with pq.ParquetWriter(target, ATTEMPTS, compression="zstd") as writer:
            for batch in pq.ParquetFile(staged).iter_batches(batch_size=self.rows_per_flush):
                worker = pc.index_in(batch.column("worker_process"), value_set=workers)
                plan = self._plan_code(batch.column("plan"))
                start, end = batch.column("start_time"), batch.column("end_time")
                microseconds = pc.cast(pc.subtract(end, start), pa.int64())
                computed = {
                    "worker": addresses.take(worker), "worker_name": names.take(worker),
                    "function": functions.take(plan), "function_digest": digests.take(plan),
                    "code_file": files.take(plan),
                    "code_line": lines.take(plan),
                    "duration_s": pc.divide(pc.cast(microseconds, pa.float64()), 1e6),
                }
                arrays = [computed[name] if name in computed else batch.column(name)
                          for name in ATTEMPTS.names]
                writer.write_table(pa.Table.from_arrays(arrays, schema=ATTEMPTS))
        staged.unlink()

    def _write_workers(self) -> int:
        table = TableFile(self.staging / "workers" / self._file, WORKERS, self.rows_per_flush)
        for identifier, details in self.processes.items():
            os_text = " ".join(str(details[name]) for name in (vocabulary.OS_TYPE,
                                                                vocabulary.OS_VERSION)
                               if details.get(name)) or None
            table.append((
                self.run, identifier, self.roles[identifier],
                _text(details.get(vocabulary.WORKER_NAME) or details.get(vocabulary.CLIENT_ID)),
                _text(details.get(vocabulary.WORKER_ADDRESS)
                      or details.get(vocabulary.SCHEDULER_ADDRESS)),
                _text(details.get(vocabulary.HOST)), _integer(details.get(vocabulary.PID)),
                _text(details.get(vocabulary.RUNTIME_VERSION)),
                _text(details.get(vocabulary.DASK_VERSION)),
                _text(details.get(vocabulary.DISTRIBUTED_VERSION)), os_text,
                sorted(self.packages.get(identifier, ())),
                _text(details.get(vocabulary.PACKAGES_DIGEST))))
        return table.close()

    def _publish(self) -> None:
        """Move each table's file into place, replacing an earlier export of the run."""
        try:
            for name in TABLES:
                partition = self.directory / name / f"run={self.run}"
                partition.parent.mkdir(parents=True, exist_ok=True)
                old = self.staging / f"replaced-{name}"
                if partition.exists():
                    partition.rename(old)
                (self.staging / name).rename(partition)
            shutil.rmtree(self.staging)
        except OSError as error:
            raise OutputError(str(self.directory), error.strerror or str(error)) from None


def _plan_hash(identifier: str) -> int:
    return int.from_bytes(hashlib.blake2b(identifier.encode(), digest_size=8).digest(), "little",
                          signed=True)


@dataclass(frozen=True)
class DatasetParts:
    """Makes the part writers of a run (picklable: they are made on the workers)."""

    directory: Path
    run: str
    rows_per_flush: int
    staging: Path

    def __call__(self, number: int) -> DatasetWriter:
        return DatasetWriter(self.directory, self.run, self.rows_per_flush, number + 1,
                             self.staging)


@dataclass
class PartRows:
    """What a part writer wrote (rows per table), and the processes it met."""

    rows: dict[str, int]
    processes: dict[str, dict[str, Any]]
    packages: dict[str, list[str]]
    roles: dict[str, str]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# --------------------------------------------------------------------------
# The records of one trace
# --------------------------------------------------------------------------
class TraceRows(RecordRouter):
    """The record sink of one trace (or the document's top container): rows out."""

    def __init__(self, writer: DatasetWriter, trace_id: str | None) -> None:
        super().__init__()
        self.writer = writer
        self.trace_id = trace_id
        self.run = writer.run
        self.current: list[Any] | None = None
        self.current_id: str | None = None
        self.entities: dict[str, dict[str, Any]] = {}
        self.computations: dict[str, list[Any]] = {}
        tables = writer.tables
        self._attempts = tables["attempts"]
        self._executions = tables["executions"]
        self._dependencies = tables["dependencies"]
        self._files = tables["files"]
        self.handlers = {
            "activity": self._activity, "entity": self._entity, "agent": writer.process,
            "used": self._used, "wasGeneratedBy": self._generated,
            "wasAssociatedWith": self._associated, "wasStartedBy": self._started,
            "wasInfluencedBy": self._influenced,
        }

    # -- elements -------------------------------------------------------------------
    def _activity(self, record: Record) -> None:
        identifier = record.identifier or ""
        if identifier.startswith(ids.TASK):
            self._end_attempt()
            self._attempt(identifier, record)
        elif identifier.startswith(ids.COMPUTATION):
            pairs = dict(record.attributes)
            start, end = record.formal[0], record.formal[1]
            self.computations[identifier] = [
                self.run, self.trace_id, pairs.get(vocabulary.SPAN_ID) or ids.span_of(identifier),
                start, end, pairs.get(vocabulary.OUTCOME), pairs.get(vocabulary.TASK_COUNT),
                pairs.get(vocabulary.ERRED_TASKS), None, None, None, None, None, None]

    def _attempt(self, identifier: str, record: Record) -> None:
        pairs = dict(record.attributes)
        executed = any(name == PROV_TYPE and value == vocabulary.TASK_EXECUTION
                       for name, value in record.attributes)
        span = str(pairs.get(vocabulary.SPAN_ID) or ids.span_of(identifier))
        prefix = pairs.get(vocabulary.PREFIX)
        thread_name = pairs.get(vocabulary.THREAD_NAME)
        row: list[Any] = [None] * len(_A)
        row[_A["run"]] = self.run
        row[_A["trace_id"]] = self.trace_id
        row[_A["span_id"]] = span
        row[_A["key"]] = pairs.get(vocabulary.KEY)
        row[_A["prefix"]] = prefix
        row[_A["group"]] = pairs.get(vocabulary.GROUP) or prefix
        row[_A["attempt"]] = pairs.get(vocabulary.ATTEMPT)
        row[_A["outcome"]] = pairs.get(vocabulary.OUTCOME)
        row[_A["executed"]] = executed
        row[_A["thread"]] = thread_name
        row[_A["thread_id"]] = pairs.get(vocabulary.THREAD)
        row[_A["start_time"]] = record.formal[0]
        row[_A["end_time"]] = record.formal[1]
        row[_A["rerun_reason"]] = pairs.get(vocabulary.RERUN_REASON)
        row[_A["exception_type"]] = pairs.get(vocabulary.EXCEPTION_TYPE)
        row[_A["exception_message"]] = pairs.get(vocabulary.EXCEPTION_MESSAGE)
        row[_A["blame"]] = pairs.get(vocabulary.EXCEPTION_BLAME)
        self.current = row
        self.current_id = identifier
        worker_start = pairs.get(vocabulary.WORKER_START_TIME)
        if worker_start is not None:
            self._executions.append((
                self.run, self.trace_id, span, worker_start,
                pairs.get(vocabulary.WORKER_END_TIME),
                *(pairs.get(name) for name in _EXECUTION_DURATIONS),
                *(pairs.get(name) for name in _IO)))

    def _end_attempt(self) -> None:
        if self.current is not None:
            arguments = self.current[_A["arguments"]]
            if arguments:
                self.current[_A["arguments"]] = json.dumps(arguments, ensure_ascii=False,
                                                            default=str)
            self._attempts.append(self.current)
            self.current = None
            self.current_id = None

    def _entity(self, record: Record) -> None:
        identifier = record.identifier or ""
        if identifier.startswith(_HELD):
            self.entities[identifier] = dict(record.attributes)
            return
        types = [value for name, value in record.attributes if name == PROV_TYPE]
        if vocabulary.GRAPH in types:
            computation = self.computations.get(
                ids.COMPUTATION + identifier[len(ids.GRAPH):])
            if computation is not None:
                pairs = dict(record.attributes)
                computation[8:12] = [pairs.get(vocabulary.CODE), pairs.get(vocabulary.CODE_FILENAME),
                                     pairs.get(vocabulary.CODE_LINENO),
                                     pairs.get(vocabulary.NOTEBOOK_CELL)]
        elif vocabulary.TASK_PLAN in types:
            self.writer.plan(identifier, record.attributes)

    # -- relations ----------------------------------------------------------------
    def _attempt_key(self, task: str) -> Any:
        return self.current[_A["key"]] if self.current is not None and \
            task == self.current_id else None

    def _used(self, record: Record) -> None:
        task, used = str(record.formal[0]), str(record.formal[1])
        if not task.startswith(ids.TASK):
            return
        if used.startswith(ids.VALUE):
            self._dependencies.append((self.run, self.trace_id, ids.span_of(task),
                                       self._attempt_key(task), None, ids.span_of(used)))
        elif used.startswith(ids.DATA):
            key = self.entities.get(used, {}).get(vocabulary.KEY, used[len(ids.DATA):])
            self._dependencies.append((self.run, self.trace_id, ids.span_of(task),
                                       self._attempt_key(task), key, None))
        elif used.startswith(ids.PATH):
            path = self._path(used)
            if path is not None:
                self._file(task, path, "read", record)
        elif used.startswith(ids.ARGUMENT):
            self._argument(task, self.entities.pop(used, {}))

    def _argument(self, task: str, pairs: dict[str, Any]) -> None:
        """One literal argument of the current attempt, as ``otel-prov`` recorded it
        (``dask.task.arguments``): its position or name, type and ``repr``."""
        if task != self.current_id or self.current is None:
            return
        item = {field: pairs[name] for field, name in (
            ("position", vocabulary.POSITION), ("name", vocabulary.NAME),
            ("type", vocabulary.TYPE), ("value", vocabulary.VALUE), ("keys", vocabulary.KEYS))
            if pairs.get(name) is not None}
        if self.current[_A["arguments"]] is None:
            self.current[_A["arguments"]] = []
        self.current[_A["arguments"]].append(item)

    def _path(self, identifier: str) -> Any:
        general = ids.general_path_id(identifier)
        pairs = self.entities.get(identifier) or self.entities.get(general) or {}
        return pairs.get(PROV_LOCATION)

    def _generated(self, record: Record) -> None:
        entity, task = str(record.formal[0]), str(record.formal[1])
        if not task.startswith(ids.TASK):
            return
        current = self.current if task == self.current_id else None
        if entity.startswith(ids.VALUE):
            pairs = self.entities.pop(entity, {})
            if current is not None:
                current[_A["result_type"]] = pairs.get(vocabulary.TYPE)
                current[_A["result_nbytes"]] = pairs.get(vocabulary.NBYTES)
                current[_A["result_hash"]] = pairs.get(vocabulary.HASH)
        elif entity.startswith(ids.ERROR):
            pairs = self.entities.pop(entity, {})
            if current is not None:
                current[_A["exception_type"]] = pairs.get(vocabulary.EXCEPTION_TYPE)
                current[_A["exception_message"]] = pairs.get(vocabulary.EXCEPTION_MESSAGE)
        elif entity.startswith(_PROFILE):
            pairs = self.entities.pop(entity, {})
            if current is not None:
                current[_A["profile"]] = _text(pairs.get(PROV_VALUE))
                current[_A["profile_clock"]] = _text(pairs.get(vocabulary.PROFILE_CLOCK))
        elif entity.startswith(ids.PATH):
            pairs = self.entities.pop(entity, {}) if entity.count(".") > 1 else {}
            path = pairs.get(PROV_LOCATION) or self._path(entity)
            if path is not None:
                self._file(task, path, "write", record)

    def _file(self, task: str, path: Any, operation: str, record: Record) -> None:
        """A row of ``files``: a path the task opened (the opt-in recording), or one
        read or write of a Darshan DXT segment attributed to it (with its offset and length)."""
        pairs = dict(record.attributes)
        darshan = vocabulary.DARSHAN_MODULE in pairs
        self._files.append((self.run, self.trace_id, ids.span_of(task), self._attempt_key(task),
                            path, pairs.get(vocabulary.FILE_MODE), operation,
                            "darshan" if darshan else "recorded",
                            pairs.get(vocabulary.OFFSET), pairs.get(vocabulary.LENGTH)))

    def _associated(self, record: Record) -> None:
        activity, agent, plan = (str(record.formal[0]), str(record.formal[1]),
                                 record.formal[2])
        if activity == self.current_id and self.current is not None:
            if agent.startswith(ids.WORKER):
                self.current[_A["worker_process"]] = agent
            if plan is not None:
                self.current[_A["plan"]] = str(plan)
            return
        computation = self.computations.get(activity)
        if computation is not None:
            if agent.startswith(ids.CLIENT):
                computation[12] = agent
            elif agent.startswith(ids.SCHEDULER):
                computation[13] = agent

    def _started(self, record: Record) -> None:
        if str(record.formal[0]) == self.current_id and self.current is not None:
            starter = record.formal[2]
            if starter is not None and str(starter).startswith(ids.COMPUTATION):
                self.current[_A["computation_span_id"]] = ids.span_of(str(starter))

    def _influenced(self, record: Record) -> None:
        task, previous = str(record.formal[0]), str(record.formal[1])
        if task == self.current_id and self.current is not None and previous.startswith(ids.TASK):
            self.current[_A["previous_span_id"]] = ids.span_of(previous)

    def close(self) -> None:
        """The trace is complete: write its last attempt and its computations."""
        self._end_attempt()
        computations = self.writer.tables["computations"]
        for row in self.computations.values():
            if row[5] is None:
                row[5] = "unfinished" if row[4] is None else "error" if row[7] else "success"
            computations.append(row)
        self.computations.clear()
        self.entities.clear()
