"""The OpenLineage run events of Dask computations: one format for live and file output.

One OpenLineage *run* per computation (one graph submission), never per task:
a ``START`` event when it was submitted and a ``COMPLETE``, ``FAIL`` (a task
failed) or ``ABORT`` (the scheduler stopped before it ended) event when it
ended; a computation the client cancelled (released a task of it before it ended)
is an ``ABORT`` too. The scheduler plugin's live emitter
(:mod:`~otel_dask_prov.export.openlineage_emitter`) and ``otel-prov convert -f
openlineage`` (:mod:`otel_dask_prov.publish.openlineage_events`, from the
exported dataset) build them with these functions, so both say the same:

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
* the end event's ``inputs`` and ``outputs`` are the files the computation's
  tasks read and wrote (namespace ``file``, name the path), when they were
  recorded (``record-files``) and known: the file export has them, live events
  do not (the scheduler does not see the workers' file records).

Facet ``_schemaURL``s are the versions ``openlineage-python`` 1.54 writes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from ..version import __version__

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
    """``success``, ``error`` (a task failed), ``cancelled`` (a task was released by the
    client before it ended) or ``unfinished`` (the scheduler stopped first); None while
    it runs."""
    error_type: str | None = None
    error_message: str | None = None
    error_stacktrace: str | None = None
    shared_trace: bool = False
    distributed_version: str | None = None
    inputs: Sequence[str] = field(default_factory=tuple)
    outputs: Sequence[str] = field(default_factory=tuple)


_END_TYPES: Final = {"success": "COMPLETE", "error": "FAIL", "unfinished": "ABORT",
                     "cancelled": "ABORT"}


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
