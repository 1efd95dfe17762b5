"""The tables of an exported run: their names, columns and Arrow types (``docs/queries.md``).

Every table starts with ``run`` (the partition the rows belong to) and, for the
rows of a trace, ``trace_id``; times are ``timestamp[us, tz=UTC]``, counts and
sizes ``int64``, durations in seconds ``float64``. A column the traces do not
give for a row is null.

:data:`PHASE_COLUMNS` are the ``executions`` columns of Dask's worker phases, one
per :data:`otel_dask_prov.attributes.PHASE_ACTIONS` (``compute_s``, ``transfer_s``, ...).
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from .. import attributes as attr

TIME: Final = pa.timestamp("us", tz="UTC")
TEXT: Final = pa.string()
INT: Final = pa.int64()
SECONDS: Final = pa.float64()

PHASE_COLUMNS: Final = {action: action.replace("-", "_") + "_s" for action in attr.PHASE_ACTIONS}
"""Worker phase (``disk-read``) -> its column in ``executions`` (``disk_read_s``)."""


def _schema(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, kind) for name, kind in fields])


COMPUTATIONS: Final = _schema(
    ("run", TEXT), ("trace_id", TEXT), ("span_id", TEXT),
    ("start_time", TIME), ("end_time", TIME), ("outcome", TEXT),
    ("task_count", INT), ("erred_tasks", INT),
    ("code", TEXT), ("code_file", TEXT), ("code_line", INT), ("notebook_cell", TEXT),
    ("client", TEXT), ("scheduler", TEXT))

ATTEMPTS: Final = _schema(
    ("run", TEXT), ("trace_id", TEXT), ("span_id", TEXT), ("computation_span_id", TEXT),
    ("key", TEXT), ("prefix", TEXT), ("group", TEXT), ("attempt", INT), ("outcome", TEXT),
    ("executed", pa.bool_()),
    ("worker", TEXT), ("worker_name", TEXT), ("worker_process", TEXT),
    ("thread", TEXT), ("thread_id", INT),
    ("start_time", TIME), ("end_time", TIME), ("duration_s", SECONDS),
    ("rerun_reason", TEXT), ("previous_span_id", TEXT),
    ("exception_type", TEXT), ("exception_message", TEXT), ("blame", TEXT),
    ("arguments", TEXT), ("profile", TEXT), ("profile_clock", TEXT),
    ("result_type", TEXT), ("result_nbytes", INT), ("result_hash", TEXT),
    ("function", TEXT), ("function_digest", TEXT), ("code_file", TEXT), ("code_line", INT))

ATTEMPTS_STAGED: Final = _schema(
    *((field.name, field.type) for field in ATTEMPTS
      if field.name not in ("worker", "worker_name", "function", "function_digest",
                            "code_file", "code_line", "duration_s")),
    ("plan", TEXT))
"""What the export writes of ``attempts`` while converting: the worker and the plan as
their PROV ids, which the agents and plans at the end of each trace describe; the
address, name and code are filled in when the run is complete."""

EXECUTIONS: Final = _schema(
    ("run", TEXT), ("trace_id", TEXT), ("span_id", TEXT),
    ("worker_start_time", TIME), ("worker_end_time", TIME),
    *((column, SECONDS) for column in PHASE_COLUMNS.values()),
    ("io_read_bytes", INT), ("io_write_bytes", INT), ("io_read_calls", INT),
    ("io_write_calls", INT), ("io_storage_read_bytes", INT), ("io_storage_write_bytes", INT))

DEPENDENCIES: Final = _schema(
    ("run", TEXT), ("trace_id", TEXT), ("span_id", TEXT), ("key", TEXT),
    ("dependency_key", TEXT), ("dependency_span_id", TEXT))

FILES: Final = _schema(
    ("run", TEXT), ("trace_id", TEXT), ("span_id", TEXT), ("key", TEXT),
    ("path", TEXT), ("mode", TEXT), ("operation", TEXT), ("source", TEXT),
    ("offset", INT), ("length", INT))

WORKERS: Final = _schema(
    ("run", TEXT), ("process", TEXT), ("role", TEXT), ("name", TEXT), ("address", TEXT),
    ("host", TEXT), ("pid", INT), ("python", TEXT), ("dask", TEXT), ("distributed", TEXT),
    ("os", TEXT), ("packages", pa.list_(TEXT)), ("packages_digest", TEXT))

TABLES: Final[dict[str, pa.Schema]] = {
    "computations": COMPUTATIONS,
    "attempts": ATTEMPTS,
    "executions": EXECUTIONS,
    "dependencies": DEPENDENCIES,
    "files": FILES,
    "workers": WORKERS,
}
"""Every table of a dataset, by name: the folder under the dataset and the SQL view."""

VIEWS: Final[dict[str, str]] = {
    "dependency_edges": """
        SELECT d.*, p.trace_id AS producer_trace_id,
               coalesce(p.key, d.dependency_key) AS producer_key
        FROM dependencies AS d
        LEFT JOIN attempts AS p
          ON p.run = d.run AND p.span_id = d.dependency_span_id""",
}
"""Views over the tables that ``otel-prov sql`` adds: each dependency with its producer."""
