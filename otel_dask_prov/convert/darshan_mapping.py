"""PROV records of a worker's Darshan log and of the DXT I/O of its task executions.

The worker's ``darshan`` span (in a trace of its own) becomes:

* the log, entity ``run:darshan-log.<digest>`` (``dask:DarshanLog``,
  ``prov:Collection``, ``prov:location`` = the log's path), with the Darshan job
  (``dask:darshanJobId``, ``dask:darshanVersion``, ``dask:startTime``,
  ``dask:endTime``), the counts and the worker's counter totals under Darshan's
  own names (``dask:POSIX_BYTES_READ``, ...); ``wasAttributedTo`` the worker agent;
* per ``darshan.file`` event, entity ``run:darshan-file.<digest>.<module>.<rank>.<path
  digest>`` (``dask:DarshanFileRecord``: the file as the worker, or an MPI rank,
  used it through one interface, with that interface's counters), a
  ``specializationOf`` the file ``run:path.<path digest>`` (``dask:File``, as
  :mod:`.taskdata` names it) and a member of the log (``hadMember``).

A ``darshan-io <prefix>`` span under an execution (in the computation's trace)
becomes, for the task activity ``run:task.<key>.<attempt span>``:

* per ``darshan.segment`` event, a read as ``used(task, run:path.<path digest>,
  start)``, a write as the version it made, ``run:path.<path digest>.<attempt
  span>.write-<n>`` (the *n*-th write of that file by the attempt),
  ``wasGeneratedBy(version, task, end)`` and ``specializationOf`` the file;
  both with ``dask:darshanModule``, ``dask:offset``, ``dask:length`` and the
  segment's other end (``dask:endTime`` of a read, ``dask:startTime`` of a write);
* entity ``run:darshan-io.<key>.<attempt span>`` (``dask:DarshanTaskIO``) with
  the totals of the attempt's segments and how many had no event (the
  recording's cap), ``wasDerivedFrom`` the log and ``wasInfluencedBy`` the task.

``<digest>`` is of the worker process's resource key and the log's path, so the
log has one id in every bundle that mentions it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from .. import attributes as attr
from .. import prov_vocabulary as vocabulary
from ..prov_vocabulary import PROV_COLLECTION, PROV_LOCATION, PROV_TYPE
from . import identifiers as ids
from .attribute_pairs import prov_names, prov_pairs, prov_value
from .model import DARSHAN_TASK_IO, WORKER_SPAN, Span
from .prov_records import QName, Record, utc
from .taskdata import path_id, path_version_id

DARSHAN_KINDS: Final = frozenset({WORKER_SPAN, DARSHAN_TASK_IO})
"""Span kinds this module maps."""

_LOG = QName(vocabulary.DARSHAN_LOG)
_FILE_RECORD = QName(vocabulary.DARSHAN_FILE_RECORD)
_TASK_IO = QName(vocabulary.DARSHAN_TASK_IO)
_FILE = QName(vocabulary.FILE)
_COLLECTION = QName(PROV_COLLECTION)

_LOG_ATTRIBUTES: Final = prov_names(
    attr.DARSHAN_JOB_ID, attr.DARSHAN_RUNTIME_VERSION, attr.DARSHAN_FILE_COUNT,
    attr.DARSHAN_SEGMENTS, attr.DARSHAN_UNATTRIBUTED_SEGMENTS)
_TASK_IO_ATTRIBUTES: Final = prov_names(
    attr.DARSHAN_SEGMENTS, attr.DARSHAN_SEGMENTS_OMITTED, attr.IO_READ_BYTES,
    attr.IO_WRITE_BYTES, attr.IO_READ_CALLS, attr.IO_WRITE_CALLS)
_SEGMENT_ATTRIBUTES: Final = prov_names(attr.DARSHAN_MODULE, attr.DARSHAN_OFFSET, attr.DARSHAN_LENGTH)


def darshan_records(span: Span, worker: str, once: Callable[[str], bool]) -> list[Record]:
    """The records of a ``darshan`` span or a ``darshan-io`` span.

    *worker* is the id of the worker agent that wrote the span; *once* answers
    whether an id shared by several spans (a file) is new in the container.
    """
    if span.kind == DARSHAN_TASK_IO:
        return task_io_records(span, once)
    if attr.DARSHAN_LOG in span.attributes:
        return log_records(span, worker, once)
    return []


def log_id(span: Span) -> str:
    """The id of the Darshan log a span names, the same for every span of its process."""
    text = f"{span.resource.key}\n{span.attributes.get(attr.DARSHAN_LOG, '')}"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{ids.RUN_PREFIX}:darshan-log.{digest}"


def _counters(source: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(dask:<COUNTER>, value)`` for each Darshan counter in *source*; Darshan's
    ``-1`` (not applicable) is left out, and so is an array (no counter is one)."""
    pairs = []
    for name, value in source.items():
        counter = attr.darshan_counter(name)
        if counter is None or isinstance(value, tuple):
            continue
        value = prov_value(value)
        if value is not None and value >= 0:
            pairs.append((vocabulary.darshan_counter(counter), value))
    return pairs


def _file(path: str, once: Callable[[str], bool]) -> list[Record]:
    """The file entity of *path*, if the container does not have it yet."""
    general = path_id(path)
    if not once(general):
        return []
    return [Record("entity", general, (), ((PROV_TYPE, _FILE), (PROV_LOCATION, path)))]


# --------------------------------------------------------------------------
# The worker's log
# --------------------------------------------------------------------------
def log_records(span: Span, worker: str, once: Callable[[str], bool]) -> list[Record]:
    """The log of a ``darshan`` span, its per-file records, and the files."""
    a = span.attributes
    log = log_id(span)
    records = [
        Record("entity", log, (), (
            (PROV_TYPE, _LOG), (PROV_TYPE, _COLLECTION),
            (PROV_LOCATION, str(a[attr.DARSHAN_LOG])),
            *prov_pairs(_LOG_ATTRIBUTES, a),
            (vocabulary.START_TIME, utc(span.start)), (vocabulary.END_TIME, utc(span.end)),
            *_counters(a))),
        Record("wasAttributedTo", None, (log, worker), ()),
    ]
    log_digest = log.rpartition(".")[2]
    for name, _, values in span.events:
        if name != attr.DARSHAN_FILE_EVENT:
            continue
        path = str(values.get(attr.FILE_PATH, ""))
        module = str(values.get(attr.DARSHAN_MODULE, ""))
        if not path or not module:
            continue
        rank = values.get(attr.DARSHAN_RANK)
        rank = rank if isinstance(rank, int) else 0
        general = path_id(path)
        record = (f"{ids.RUN_PREFIX}:darshan-file.{log_digest}.{ids.safe_name(module)}."
                  f"{rank}.{general.rpartition('.')[2]}")
        records.extend(_file(path, once))
        records.append(Record("entity", record, (), (
            (PROV_TYPE, _FILE_RECORD), (PROV_LOCATION, path), (vocabulary.DARSHAN_MODULE, module),
            (vocabulary.DARSHAN_RANK, rank), *_counters(values))))
        records.append(Record("specializationOf", None, (record, general), ()))
        records.append(Record("hadMember", None, (log, record), ()))
    return records


# --------------------------------------------------------------------------
# The DXT segments of one execution
# --------------------------------------------------------------------------
def task_io_records(span: Span, once: Callable[[str], bool]) -> list[Record]:
    """Usages and generations of files by the task, from a ``darshan-io`` span."""
    a = span.attributes
    attempt = a.get(attr.TASK_ATTEMPT_SPAN_ID)
    key = a.get(attr.TASK_KEY)
    if not attempt or key is None:
        return []  # recorded before the attempt span id was: the task cannot be named
    key, attempt = str(key), str(attempt)
    task = ids.task_id(key, attempt)
    summary = f"{ids.RUN_PREFIX}:darshan-io.{ids.safe_name(key)}.{attempt}"
    records = [
        Record("entity", summary, (), ((PROV_TYPE, _TASK_IO), *prov_pairs(_TASK_IO_ATTRIBUTES, a))),
        Record("wasDerivedFrom", None, (summary, log_id(span), None, None, None), ()),
        Record("wasInfluencedBy", None, (summary, task), ()),
    ]
    writes: dict[str, int] = {}
    for name, start, values in span.events:
        if name != attr.DARSHAN_SEGMENT_EVENT:
            continue
        path = str(values.get(attr.FILE_PATH, ""))
        if not path:
            continue
        records.extend(_file(path, once))
        end = values.get(attr.DARSHAN_END_TIME)
        described = prov_pairs(_SEGMENT_ATTRIBUTES, values)
        if values.get(attr.DARSHAN_OPERATION) == "write":
            number = writes[path] = writes.get(path, 0) + 1
            version = f"{path_version_id(path, attempt)}.write-{number}"
            finished = utc(end) if isinstance(end, int) else utc(start)
            records.append(Record("entity", version, (), (
                (PROV_TYPE, _FILE), (PROV_LOCATION, path))))
            records.append(Record("wasGeneratedBy", None, (version, task, finished), (
                *described, (vocabulary.START_TIME, utc(start)))))
            records.append(Record("specializationOf", None, (version, path_id(path)), ()))
        else:
            ended: tuple[tuple[str, datetime], ...] = (
                ((vocabulary.END_TIME, utc(end)),) if isinstance(end, int) else ())
            records.append(Record("used", None, (task, path_id(path), utc(start)),
                                  (*described, *ended)))
    return records
