"""``otel-prov convert -f openlineage``: the OpenLineage run events of recorded traces.

The traces are exported to a temporary Parquet dataset first
(:func:`otel_dask_prov.query.export`) and the events are read from its tables with
DuckDB, so the PROV records of a run are interpreted once, by the export. The
events are those of :mod:`otel_dask_prov.export.openlineage_format` (the format the
scheduler's live emitter sends too), one JSON line each, deterministic: the same
traces give the same bytes (times from the records, ids from the trace and span
ids, keys sorted, events in time order).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, Final

from ..export.openlineage_format import (
    DEFAULT_NAMESPACE,
    Computation,
    dumps,
    end_event,
    start_event,
)

if TYPE_CHECKING:
    from ..convert.pipeline import ConversionReport

PathLike = str | os.PathLike[str]

_CLIENT_AGENT: Final = "run:client."
MISSING: Final = ('OpenLineage output needs pyarrow and duckdb; install them with: '
                  'pip install "otel-dask-prov[query]"')


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
_CANCELLED_SQL: Final = """
    SELECT DISTINCT trace_id, computation_span_id FROM attempts WHERE outcome = 'cancelled'"""
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
    cancelled = set(connection.execute(_CANCELLED_SQL).fetchall())
    files: dict[str, tuple[list[str], list[str]]] = {}
    for trace_id, path, operation in connection.execute(_FILES_SQL).fetchall():
        read, written = files.setdefault(trace_id, ([], []))
        (written if operation == "write" else read).append(path)
    computations = []
    for (trace_id, span_id, start, end, outcome, client, shared,
         distributed) in connection.execute(_COMPUTATIONS_SQL).fetchall():
        kind, message = errors.get((trace_id, span_id), (None, None))
        if outcome == "success" and (trace_id, span_id) in cancelled:
            outcome = "cancelled"  # the client released a task before it ended
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
