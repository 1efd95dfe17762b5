"""OpenLineage run events of Dask computations (``otel-prov convert -f openlineage``).

One OpenLineage *run* per computation (one graph submission), never per task:
a ``START`` event when it was submitted and a ``COMPLETE``, ``FAIL`` (a task
failed) or ``ABORT`` (the scheduler stopped before it ended) event when it
ended. The same functions build the events that the scheduler plugin sends live
(:mod:`otel_dask_prov.export.openlineage_emitter`), so both say the same:

* ``run.runId`` is the computation's trace id read as a UUID (the trace in
  Jaeger and the run in Marquez have the same 128 bits); a computation that
  joined its caller's trace, so shares it with others, gets a UUID derived from
  the trace id and its own span id (:func:`run_id`);
* ``job.name`` is named after the computation's graph: its task prefixes,
  sorted and joined with ``+`` (``inc+sum``; :func:`job_name`), so every
  submission of the same graph is a run of the same job; ``job.namespace`` is
  the ``openlineage-namespace`` setting (default ``dask``);
* the ``parent`` run facet links the computations of one client session: the
  parent run's id is the UUID in the Dask client's id (``Client-<uuid>``), its
  job ``dask-client-session``;
* ``processing_engine`` names Dask's ``distributed`` version, ``jobType`` says
  ``BATCH``/``DASK``/``COMPUTATION``, ``errorMessage`` carries the first task
  error of a failed computation (type and message; the stack trace only when
  tracebacks are recorded);
* with file recording on (``record-files``), the end event's ``inputs`` and
  ``outputs`` are the files the computation's tasks read and wrote (namespace
  ``file``, name the path). Live events have none: the scheduler does not see the
  workers' file records.

The file export reads the Parquet dataset of :func:`otel_dask_prov.query.export`
(written to a temporary directory), so the PROV records of a run are interpreted
once, by the export. Events are deterministic: the same traces give the same
bytes (times from the records, ids from the trace and span ids, keys sorted).
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING, Any, Final

from ..version import __version__

if TYPE_CHECKING:
    from ..convert.pipeline import ConversionReport

PathLike = str | os.PathLike[str]

PRODUCER: Final = f"urn:otel-dask-prov:{__version__}"
"""``producer`` of every event and ``_producer`` of every facet (a URI, as the spec asks)."""
SPEC: Final = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
EVENT_SCHEMA: Final = SPEC + "#/$defs/RunEvent"
FACET_SCHEMAS: Final = {
    "parent": "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json"
              "#/$defs/ParentRunFacet",
    "errorMessage": "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json"
                    "#/$defs/ErrorMessageRunFacet",
    "processing_engine": "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json"
                         "#/$defs/ProcessingEngineRunFacet",
    "jobType": "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json"
               "#/$defs/JobTypeJobFacet",
}
"""The ``_schemaURL`` of each facet we write, by facet name (the spec version it follows)."""
DEFAULT_NAMESPACE: Final = "dask"
SESSION_JOB: Final = "dask-client-session"
"""Job name of the parent run that stands for a client session."""
FILE_NAMESPACE: Final = "file"
MAX_JOB_PREFIXES: Final = 8
"""Prefixes named in a job name; a graph with more is ``a+b+...+h+<n>-more``."""
_ID_NAMESPACE: Final = uuid.UUID("6f1b6c1e-9c43-5d1f-8f0e-0d45a5c0ffee")
"""Namespace of the UUIDs derived by :func:`run_id` and :func:`session_run_id`."""
_CLIENT_AGENT: Final = "run:client."
MISSING: Final = ('OpenLineage output needs pyarrow and duckdb; install them with: '
                  'pip install "otel-dask-prov[query]"')


def run_id(trace_id: str, span_id: str | None, shared_trace: bool) -> str:
    """The ``runId`` of a computation: its trace id as a UUID.

    A computation whose trace holds other computations too (*shared_trace*: it
    joined its client's OpenTelemetry context) gets a name-based UUID of the trace
    id and its span id, so runs stay distinct.

    >>> run_id("f353a30de723fe14461342c18d4cbd71", "f8903ff03e9f4cdf", False)
    'f353a30d-e723-fe14-4613-42c18d4cbd71'
    """
    if shared_trace and span_id:
        return str(uuid.uuid5(_ID_NAMESPACE, f"{trace_id}/{span_id}"))
    return str(uuid.UUID(hex=trace_id))


def session_run_id(client_id: str) -> str:
    """The parent run of a client session: the UUID in ``Client-<uuid>``, else one derived
    from the client id.

    >>> session_run_id("Client-170fad61-f000-11f1-ba52-02fc00000001")
    '170fad61-f000-11f1-ba52-02fc00000001'
    """
    _, _, tail = client_id.partition("-")
    try:
        return str(uuid.UUID(tail))
    except ValueError:
        return str(uuid.uuid5(_ID_NAMESPACE, f"client/{client_id}"))


def job_name(prefixes: Iterable[str]) -> str:
    """The job of a computation, named after its graph: its task prefixes, sorted.

    >>> job_name(["sum", "inc", "inc"])
    'inc+sum'
    """
    names = sorted(set(prefixes))
    if not names:
        return "empty-graph"
    if len(names) > MAX_JOB_PREFIXES:
        return "+".join(names[:MAX_JOB_PREFIXES]) + f"+{len(names) - MAX_JOB_PREFIXES}-more"
    return "+".join(names)


def event_time(seconds: float | datetime) -> str:
    """An ``eventTime``: ISO 8601 in UTC with microseconds, from epoch seconds or a datetime."""
    if isinstance(seconds, datetime):
        moment = seconds if seconds.tzinfo else seconds.replace(tzinfo=timezone.utc)
        moment = moment.astimezone(timezone.utc)
    else:
        moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.isoformat(timespec="microseconds")


def _facet(facet: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": FACET_SCHEMAS[facet], **fields}


@dataclass
class Computation:
    """What an event says of one computation, from the records or from the live plugin."""

    trace_id: str
    span_id: str | None
    start: float | datetime
    prefixes: Sequence[str]
    client: str | None = None
    end: float | datetime | None = None
    outcome: str | None = None
    """``success``, ``error`` (a task failed) or ``unfinished``; None while it runs."""
    error_type: str | None = None
    error_message: str | None = None
    error_stacktrace: str | None = None
    shared_trace: bool = False
    distributed_version: str | None = None
    inputs: Sequence[str] = field(default_factory=tuple)
    outputs: Sequence[str] = field(default_factory=tuple)


_END_TYPES: Final = {"success": "COMPLETE", "error": "FAIL", "unfinished": "ABORT"}


def _run_facets(computation: Computation, namespace: str) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if computation.client:
        facets["parent"] = _facet(
            "parent", run={"runId": session_run_id(computation.client)},
            job={"namespace": namespace, "name": SESSION_JOB})
    engine = {"name": "Dask", "openlineageAdapterVersion": __version__}
    facets["processing_engine"] = _facet(
        "processing_engine", version=computation.distributed_version or "unknown", **engine)
    return facets


def _event(event_type: str, when: float | datetime, computation: Computation,
           namespace: str, run_facets: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "eventTime": event_time(when),
        "producer": PRODUCER,
        "schemaURL": EVENT_SCHEMA,
        "run": {"runId": run_id(computation.trace_id, computation.span_id,
                                computation.shared_trace),
                "facets": run_facets},
        "job": {"namespace": namespace, "name": job_name(computation.prefixes),
                "facets": {"jobType": _facet("jobType", processingType="BATCH",
                                             integration="DASK", jobType="COMPUTATION")}},
        "inputs": [],
        "outputs": [],
    }


def start_event(computation: Computation, namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
    """The ``START`` event of *computation*."""
    return _event("START", computation.start, computation, namespace,
                  _run_facets(computation, namespace))


def end_event(computation: Computation, namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
    """The ``COMPLETE``, ``FAIL`` or ``ABORT`` event of an ended *computation*."""
    facets = _run_facets(computation, namespace)
    event_type = _END_TYPES.get(computation.outcome or "", "COMPLETE")
    if event_type == "FAIL":
        message = computation.error_message or "a task of the computation failed"
        if computation.error_type:
            message = f"{computation.error_type}: {message}"
        error: dict[str, Any] = {"message": message, "programmingLanguage": "python"}
        if computation.error_stacktrace:
            error["stackTrace"] = computation.error_stacktrace
        facets["errorMessage"] = _facet("errorMessage", **error)
    event = _event(event_type, computation.end if computation.end is not None
                   else computation.start, computation, namespace, facets)
    event["inputs"] = [{"namespace": FILE_NAMESPACE, "name": path}
                       for path in sorted(set(computation.inputs))]
    event["outputs"] = [{"namespace": FILE_NAMESPACE, "name": path}
                        for path in sorted(set(computation.outputs))]
    return event


def dumps(event: Mapping[str, Any]) -> str:
    """One event as one JSON line, keys sorted (the same event, the same bytes)."""
    return json.dumps(event, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------
# From an exported dataset
# ---------------------------------------------------------------------------
_COMPUTATIONS_SQL: Final = """
    SELECT c.trace_id, c.span_id, c.start_time, c.end_time, c.outcome, c.client,
           count(*) OVER (PARTITION BY c.trace_id) > 1 AS shared_trace,
           (SELECT w.distributed FROM workers AS w
             WHERE w.run = c.run AND w.process = c.scheduler LIMIT 1) AS distributed
    FROM computations AS c
    ORDER BY c.start_time, c.trace_id, c.span_id"""
_PREFIXES_SQL: Final = """
    SELECT DISTINCT trace_id, computation_span_id, prefix FROM attempts
    WHERE prefix IS NOT NULL ORDER BY ALL"""
_ERRORS_SQL: Final = """
    SELECT trace_id, computation_span_id, exception_type, exception_message FROM attempts
    WHERE outcome = 'error' ORDER BY trace_id, computation_span_id, end_time, key"""
_FILES_SQL: Final = """
    SELECT DISTINCT trace_id, path, operation FROM files WHERE path IS NOT NULL ORDER BY ALL"""


def computations_of_dataset(directory: PathLike) -> list[Computation]:
    """Every computation of the dataset *directory* (``otel-prov export``), oldest first."""
    from ..query.sql import connect

    connection = connect(directory)
    prefixes: dict[tuple[str, str], list[str]] = {}
    for trace_id, span_id, prefix in connection.execute(_PREFIXES_SQL).fetchall():
        prefixes.setdefault((trace_id, span_id), []).append(prefix)
    errors: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for trace_id, span_id, kind, message in connection.execute(_ERRORS_SQL).fetchall():
        errors.setdefault((trace_id, span_id), (kind, message))
    files: dict[str, tuple[list[str], list[str]]] = {}
    for trace_id, path, operation in connection.execute(_FILES_SQL).fetchall():
        read, written = files.setdefault(trace_id, ([], []))
        (written if operation == "write" else read).append(path)
    computations = []
    for (trace_id, span_id, start, end, outcome, client, shared,
         distributed) in connection.execute(_COMPUTATIONS_SQL).fetchall():
        kind, message = errors.get((trace_id, span_id), (None, None))
        read, written = files.get(trace_id, ([], []))
        client_id = client[len(_CLIENT_AGENT):] if client and client.startswith(
            _CLIENT_AGENT) else client
        computations.append(Computation(
            trace_id=trace_id, span_id=span_id, start=start, end=end, outcome=outcome,
            prefixes=prefixes.get((trace_id, span_id), ()), client=client_id,
            error_type=kind, error_message=message, shared_trace=bool(shared),
            distributed_version=distributed, inputs=read, outputs=written))
    connection.close()
    return computations


def dataset_events(directory: PathLike, namespace: str = DEFAULT_NAMESPACE) -> list[dict[str, Any]]:
    """The run events of the dataset *directory*, in time order (START before its end)."""
    events: list[tuple[str, int, str, dict[str, Any]]] = []
    for computation in computations_of_dataset(directory):
        start = start_event(computation, namespace)
        events.append((start["eventTime"], 0, computation.trace_id, start))
        if computation.outcome is not None:
            end = end_event(computation, namespace)
            events.append((end["eventTime"], 1, computation.trace_id, end))
    events.sort(key=lambda item: item[:3])
    return [event for *_, event in events]


def write_events(paths: Sequence[PathLike], out: IO[str], *, namespace: str | None = None,
                 skip_invalid: bool = False, progress: bool = False,
                 parallel: bool | None = None) -> ConversionReport:
    """Write the OpenLineage events of the trace files *paths* to *out*, one JSON line each.

    The traces are exported to a temporary dataset first (:func:`otel_dask_prov.query.export`);
    *namespace* defaults to the ``openlineage-namespace`` setting.
    """
    from ..errors import MissingPackageError
    from ..query import dataset

    try:
        dataset.require()
    except MissingPackageError:
        raise MissingPackageError(MISSING) from None
    if namespace is None:
        from ..settings import resolve_settings

        namespace = resolve_settings().openlineage_namespace
    with tempfile.TemporaryDirectory(prefix="otel-prov-openlineage-") as scratch:
        result = dataset.export(paths, scratch, run="openlineage", skip_invalid=skip_invalid,
                                progress=progress, parallel=parallel)
        for event in dataset_events(scratch, namespace):
            out.write(dumps(event) + "\n")
    return result.conversion
