"""``otel-prov convert -f ro-crate -o DIR``: a Workflow Run RO-Crate of recorded traces.

The crate follows the Provenance Run Crate profile (WRROC 0.5), which builds on the
Workflow Run Crate and Process Run Crate profiles and on Workflow RO-Crate 1.0:

==========================  ===============================================================
RO-Crate entity             From the run
==========================  ===============================================================
root ``Dataset``            ``conformsTo`` the four profiles; ``mainEntity`` the workflow
``ComputationalWorkflow``   the submitting script or notebook cell (its code copied into
  (``mainEntity``)          the crate) when the traces recorded it, else ``dask-graph.json``,
                            the task groups and the edges between them
``SoftwareApplication``     one per task prefix (the tool), ``hasPart`` of the workflow
``HowToStep``               one per task group, ``step`` of the workflow, ``workExample``
                            its prefix
``CreateAction``            one per computation (the workflow run, ``instrument`` the
                            workflow) and one per task attempt (``instrument`` its prefix,
                            ``agent`` its worker, ``object`` the results of its
                            dependencies and the files it read, ``result`` its own result
                            and the files it wrote, ``FailedActionStatus`` and ``error``
                            when it failed)
``ControlAction``           one per task group and computation: ``instrument`` the step,
                            ``object`` the attempts of the group
``OrganizeAction``          Dask running the run: ``instrument`` Dask (its version), ``agent``
                            the scheduler, ``object`` the ControlActions, ``result`` the
                            computations
``PropertyValue``           ``resourceUsage`` of an attempt, ``unitCode`` a QUDT unit: worker
                            phases and duration in seconds, I/O bytes and calls, Darshan's
                            bytes read and written, the Yappi profile's functions (total
                            seconds each); each task's result (its type, size and hash)
==========================  ===============================================================

The traces are exported to a temporary Parquet dataset first
(:func:`otel_dask_prov.query.export`), and the crate is read from its tables with
DuckDB, so the PROV records are interpreted once, by the export. ``ro-crate-metadata.json``
is written entity by entity from batches of rows: memory stays bounded by the number of
task groups, prefixes, workers and files, never by the number of attempts; the file
grows linearly with the attempts (1.4 to 3.5 KB each with their resource usage).
DuckDB, which sorts and joins the attempts, is held to :data:`DUCKDB_MEMORY` and spills
to a temporary folder beyond it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final
from urllib.parse import quote

from .. import __version__
from ..query.schemas import PHASE_COLUMNS

if TYPE_CHECKING:
    from ..convert.pipeline import ConversionReport

PathLike = str | os.PathLike[str]

MISSING: Final = ('RO-Crate output needs pyarrow and duckdb; install them with: '
                  'pip install "otel-dask-prov[query]"')
METADATA: Final = "ro-crate-metadata.json"
CONTEXT: Final = "https://w3id.org/ro/crate/1.1/context"
WFRUN: Final = "https://w3id.org/ro/terms/workflow-run#"
CONTEXTS: Final = [CONTEXT, {"wfrun": WFRUN,
                             "resourceUsage": {"@id": "wfrun:resourceUsage", "@type": "@id"}}]
"""RO-Crate 1.1's context and the one Workflow Run Crate term the crate uses, defined here
(RO-Crate's ad hoc terms) rather than by the ``workflow-run`` context document, so that
the crate reads without fetching a second context."""
WRROC: Final = "0.5"
PROFILES: Final = {
    f"https://w3id.org/ro/wfrun/process/{WRROC}": "Process Run Crate",
    f"https://w3id.org/ro/wfrun/workflow/{WRROC}": "Workflow Run Crate",
    f"https://w3id.org/ro/wfrun/provenance/{WRROC}": "Provenance Run Crate",
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": "Workflow RO-Crate",
}
PYTHON: Final = "https://w3id.org/workflowhub/workflow-ro-crate#python"
DASK: Final = "#dask"
GRAPH_FILE: Final = "dask-graph.json"
README: Final = "README.md"
BATCH: Final = 10_000
DUCKDB_MEMORY: Final = "256MB"
"""The memory DuckDB may use for the crate's queries before it spills to a temporary folder."""

SECONDS_UNIT: Final = "http://qudt.org/vocab/unit/SEC"
BYTES_UNIT: Final = "http://qudt.org/vocab/unit/BYTE"
COUNT_UNIT: Final = "http://qudt.org/vocab/unit/NUM"
IO_COLUMNS: Final = {
    "io_read_bytes": BYTES_UNIT, "io_write_bytes": BYTES_UNIT,
    "io_read_calls": COUNT_UNIT, "io_write_calls": COUNT_UNIT,
    "io_storage_read_bytes": BYTES_UNIT, "io_storage_write_bytes": BYTES_UNIT,
}
USAGE_COLUMNS: Final = {**dict.fromkeys(PHASE_COLUMNS.values(), SECONDS_UNIT),
                        "duration_s": SECONDS_UNIT, **IO_COLUMNS,
                        "darshan_read_bytes": BYTES_UNIT, "darshan_write_bytes": BYTES_UNIT}
"""Each ``resourceUsage`` value: its column (also its ``propertyID``) and its QUDT unit."""
COMPLETED: Final = "http://schema.org/CompletedActionStatus"
"""``actionStatus`` is this IRI as a string, as the Process Run Crate profile writes it."""
FAILED: Final = "http://schema.org/FailedActionStatus"
STATUS: Final = {"success": COMPLETED, "error": FAILED}
"""A computation's outcome -> its ``actionStatus``."""
FAILURES: Final = {
    "error": None, "error-retried": "failed, then retried",
    "worker-lost": "its worker was lost", "dependency-error": "a dependency failed",
    "cancelled": "cancelled by the client", "released": "released before it ended",
}
"""An attempt's outcome that is a failure (``FailedActionStatus``) -> what ``error`` says
besides the exception; ``success`` is ``CompletedActionStatus``, ``unfinished`` has none."""


def _attempt_status(outcome: str | None, error_type: str | None,
                    error_message: str | None) -> tuple[str | None, str | None]:
    if outcome == "success":
        return COMPLETED, None
    if outcome not in FAILURES:
        return None, None
    exception = ": ".join(part for part in (error_type, error_message) if part)
    error = "; ".join(part for part in (FAILURES[outcome], exception) if part)
    return FAILED, error or outcome


def _ref(identifier: str) -> dict[str, str]:
    return {"@id": identifier}


def _refs(identifiers: Sequence[str]) -> list[dict[str, str]]:
    return [{"@id": identifier} for identifier in identifiers]


def _fragment(kind: str, name: str) -> str:
    """A local identifier ``#kind/name``, *name* percent-encoded so any Dask key fits."""
    return f"#{kind}/{quote(name, safe='')}"


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _clean(entity: dict[str, Any]) -> dict[str, Any]:
    """*entity* without empty values, a list of one value as that value (RO-Crate 1.1 §24)."""
    return {name: value[0] if isinstance(value, list) and len(value) == 1 else value
            for name, value in entity.items() if value is not None and value != []}


def _file_id(path: str) -> str:
    """A file outside the crate, as an absolute ``file://`` URI (RO-Crate's web-based data
    entities: the crate says where the run read and wrote, it does not carry the data)."""
    return "file://" + quote(path if path.startswith("/") else "/" + path)


class _Writer:
    """Writes ``ro-crate-metadata.json`` one entity at a time."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.first = True
        self.entities = 0
        out.write('{"@context": ' + json.dumps(CONTEXTS) + ', "@graph": [\n')

    def add(self, entity: dict[str, Any]) -> None:
        self.out.write(("" if self.first else ",\n") + json.dumps(_clean(entity), ensure_ascii=False))
        self.first = False
        self.entities += 1

    def add_with_list(self, entity: dict[str, Any], name: str, identifiers: Iterator[str]) -> None:
        """*entity* with the property *name* referring to every id of *identifiers*, which
        are written as they come (a step of a million tasks is never one list in memory)."""
        head = json.dumps(_clean(entity), ensure_ascii=False)
        first = next(identifiers, None)
        second = next(identifiers, None)
        if first is None:
            self.out.write(("" if self.first else ",\n") + head)
        elif second is None:
            self.out.write(("" if self.first else ",\n") + head[:-1]
                           + f', "{name}": {json.dumps(_ref(first))}}}')
        else:
            self.out.write(("" if self.first else ",\n") + head[:-1] + f', "{name}": ['
                           + json.dumps(_ref(first)) + ", " + json.dumps(_ref(second)))
            for identifier in identifiers:
                self.out.write(", " + json.dumps(_ref(identifier)))
            self.out.write("]}")
        self.first = False
        self.entities += 1

    def close(self) -> None:
        self.out.write("\n]}\n")


# ---------------------------------------------------------------------------
# Queries over the exported dataset
# ---------------------------------------------------------------------------
_COMPUTATIONS_SQL: Final = """
    SELECT trace_id, span_id, start_time, end_time, outcome, task_count, erred_tasks, code,
           code_file, code_line, notebook_cell, client
    FROM computations ORDER BY start_time, trace_id, span_id"""
_GROUPS_SQL: Final = """
    SELECT "group", min(prefix), count(*), min(start_time) AS first
    FROM attempts WHERE "group" IS NOT NULL GROUP BY "group" ORDER BY first, "group" """
_GROUP_EDGES_SQL: Final = """
    SELECT DISTINCT p."group", a."group"
    FROM dependencies AS d
    JOIN attempts AS a ON a.run = d.run AND a.span_id = d.span_id
    JOIN attempts AS p ON p.run = d.run AND p.span_id = d.dependency_span_id
    WHERE p."group" IS NOT NULL AND a."group" IS NOT NULL AND p."group" <> a."group"
    ORDER BY ALL"""
_PREFIXES_SQL: Final = """
    SELECT prefix, min(function), min(function_digest), min(code_file), count(*)
    FROM attempts WHERE prefix IS NOT NULL GROUP BY prefix ORDER BY prefix"""
_WORKERS_SQL: Final = """
    SELECT process, role, name, address, host, pid, python, dask, distributed, os,
           packages_digest
    FROM workers ORDER BY role, name, process"""
_FILES_SQL: Final = """
    SELECT path, bool_or(operation = 'read'), bool_or(operation = 'write')
    FROM files WHERE path IS NOT NULL GROUP BY path ORDER BY path"""
_ATTEMPTS_SQL: Final = f"""
    SELECT a.trace_id, a.span_id, a.computation_span_id, a.key, a.prefix, a."group", a.attempt,
           a.outcome, a.worker_process, a.start_time, a.end_time, a.exception_type,
           a.exception_message, a.result_type, a.result_nbytes, a.result_hash, a.duration_s,
           {", ".join("e." + column for column in USAGE_COLUMNS
                      if column != "duration_s" and not column.startswith("darshan_"))},
           (SELECT list(DISTINCT d.dependency_span_id ORDER BY d.dependency_span_id)
              FROM dependencies AS d
             WHERE d.run = a.run AND d.span_id = a.span_id
               AND d.dependency_span_id IS NOT NULL) AS inputs,
           (SELECT list(DISTINCT f.path ORDER BY f.path) FROM files AS f
             WHERE f.run = a.run AND f.span_id = a.span_id AND f.operation = 'read') AS read,
           (SELECT list(DISTINCT f.path ORDER BY f.path) FROM files AS f
             WHERE f.run = a.run AND f.span_id = a.span_id AND f.operation = 'write') AS written,
           (SELECT sum(f.length) FROM files AS f WHERE f.run = a.run AND f.span_id = a.span_id
               AND f.source = 'darshan' AND f.operation = 'read') AS darshan_read_bytes,
           (SELECT sum(f.length) FROM files AS f WHERE f.run = a.run AND f.span_id = a.span_id
               AND f.source = 'darshan' AND f.operation = 'write') AS darshan_write_bytes,
           a.profile, a.profile_clock
    FROM attempts AS a
    LEFT JOIN executions AS e ON e.run = a.run AND e.span_id = a.span_id
    ORDER BY a.start_time NULLS LAST, a.trace_id, a.span_id"""  # noqa: S608 (our own columns)
_ALL_ATTEMPTS_SQL: Final = """
    SELECT span_id FROM attempts ORDER BY start_time NULLS LAST, trace_id, span_id"""
_STEP_RUNS_SQL: Final = """
    SELECT DISTINCT computation_span_id, "group" FROM attempts
    WHERE "group" IS NOT NULL AND computation_span_id IS NOT NULL ORDER BY ALL"""
_STEP_ATTEMPTS_SQL: Final = """
    SELECT span_id FROM attempts WHERE computation_span_id = ? AND "group" = ?
    ORDER BY start_time NULLS LAST, span_id"""


def _rows(connection: Any, sql: str, *parameters: Any) -> Iterator[tuple[Any, ...]]:
    cursor = connection.execute(sql, list(parameters)) if parameters else connection.execute(sql)
    while batch := cursor.fetchmany(BATCH):
        yield from batch


def _process_id(process: str) -> str:
    return _fragment("process", process.removeprefix("run:"))


def _attempt_id(span_id: str) -> str:
    return f"#attempt/{span_id}"


def _result_id(span_id: str) -> str:
    return f"#result/{span_id}"


def _code_name(code_file: str | None, notebook_cell: str | None) -> str:
    base = Path(code_file).name if code_file else "submitted.py"
    name = re.sub(r"[^A-Za-z0-9._-]", "_", base) or "submitted.py"
    if notebook_cell or name.startswith("<"):
        name = "notebook-cell.py"
    return name if name.endswith(".py") else name + ".py"


# ---------------------------------------------------------------------------
# The crate
# ---------------------------------------------------------------------------
def write_crate_of_dataset(dataset: PathLike, directory: PathLike, *,
                           name: str | None = None) -> int:
    """Write the RO-Crate of the exported dataset *dataset* into *directory*.

    Returns the number of entities of ``ro-crate-metadata.json``.
    """
    from ..query.sql import connect

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    connection = connect(dataset)
    spill = tempfile.mkdtemp(prefix="otel-prov-ro-crate-duckdb-")
    # DuckDB sorts and joins the attempts: past this it spills to *spill*, not to memory
    connection.execute(f"SET memory_limit = '{DUCKDB_MEMORY}'")
    connection.execute("SET temp_directory = ?", [spill])
    try:
        computations = connection.execute(_COMPUTATIONS_SQL).fetchall()
        groups = connection.execute(_GROUPS_SQL).fetchall()
        prefixes = connection.execute(_PREFIXES_SQL).fetchall()
        workers = connection.execute(_WORKERS_SQL).fetchall()
        files = list(_rows(connection, _FILES_SQL))
        step_runs = connection.execute(_STEP_RUNS_SQL).fetchall()
        main, code_part = _main_entity(target, computations, connection, groups)
        with open(target / METADATA, "w", encoding="utf-8") as out:
            writer = _Writer(out)
            _write_head(writer, connection, computations, groups, prefixes, workers, files,
                        step_runs, main, code_part, name)
            _write_readme(target, computations, groups, files, name)
            _write_attempts(writer, connection)
            _write_steps(writer, connection, step_runs)
            writer.close()
        return writer.entities
    finally:
        connection.close()
        shutil.rmtree(spill, ignore_errors=True)


def _main_entity(target: Path, computations: list[tuple[Any, ...]], connection: Any,
                 groups: list[tuple[Any, ...]]) -> tuple[dict[str, Any], str]:
    """The workflow: the submitting code when recorded (copied in), else the group graph."""
    for (_, _, _, _, _, _, _, code, code_file, _, notebook_cell, _) in computations:
        if code:
            name = _code_name(code_file, notebook_cell)
            (target / name).write_text(code, encoding="utf-8")
            return {
                "@id": name, "name": f"Dask code submitted from {code_file or notebook_cell}",
                "description": "The code that submitted the run's computations, as recorded "
                               "by the client.",
                "encodingFormat": "text/x-python",
                "url": _file_id(code_file) if code_file and code_file.startswith("/") else None,
            }, name
    edges = connection.execute(_GROUP_EDGES_SQL).fetchall()
    graph = {"description": "The Dask task groups of the run and the edges between them "
                            "(the submitting code was not recorded).",
             "groups": [{"name": group, "prefix": prefix, "tasks": count}
                        for group, prefix, count, _ in groups],
             "edges": [list(edge) for edge in edges]}
    (target / GRAPH_FILE).write_text(json.dumps(graph, indent=1) + "\n", encoding="utf-8")
    return {"@id": GRAPH_FILE, "name": "Dask task graph of the run (task groups)",
            "encodingFormat": "application/json"}, GRAPH_FILE


def _write_head(writer: _Writer, connection: Any, computations: list[tuple[Any, ...]],
                groups: list[tuple[Any, ...]],
                prefixes: list[tuple[Any, ...]], workers: list[tuple[Any, ...]],
                files: list[tuple[Any, ...]], step_runs: list[tuple[Any, ...]],
                main: dict[str, Any], code_part: str,
                name: str | None) -> None:
    starts = [row[2] for row in computations if row[2] is not None]
    ends = [row[3] for row in computations if row[3] is not None]
    started = min(starts) if starts else None
    title = name or (f"Dask run of {started:%Y-%m-%d %H:%M:%S} UTC" if started else "Dask run")
    writer.add({
        "@id": METADATA, "@type": "CreativeWork",
        "conformsTo": _refs(["https://w3id.org/ro/crate/1.1",
                             "https://w3id.org/workflowhub/workflow-ro-crate/1.0"]),
        "about": _ref("./"),
    })
    run_ids = [_fragment("computation", row[1]) for row in computations]
    file_ids = [_file_id(row[0]) for row in files]
    writer.add_with_list({
        "@id": "./", "@type": "Dataset", "name": title,
        "description": f"Workflow Run RO-Crate (Provenance Run Crate) of a Dask run traced with "
                       f"OpenTelemetry: {len(computations)} computation(s), "
                       f"{sum(row[5] or 0 for row in computations)} task(s) in {len(groups)} "
                       f"task group(s). Written by otel-dask-prov {__version__}.",
        "datePublished": _time(max(ends)) if ends else None,
        "license": _ref("https://spdx.org/licenses/CC-BY-4.0"),
        "conformsTo": _refs(list(PROFILES)),
        "mainEntity": _ref(main["@id"]),
        "hasPart": _refs([code_part, README, *file_ids]),
    }, "mentions", chain(run_ids, (_attempt_id(span_id) for (span_id,) in
                                  _rows(connection.cursor(), _ALL_ATTEMPTS_SQL))))
    writer.add({"@id": README, "@type": "File", "name": "About this crate",
                "encodingFormat": "text/markdown", "about": _ref("./")})
    writer.add({"@id": "https://spdx.org/licenses/CC-BY-4.0", "@type": "CreativeWork",
                "name": "Creative Commons Attribution 4.0 International"})
    for identifier, title in PROFILES.items():
        writer.add({"@id": identifier, "@type": "CreativeWork", "name": title,
                    "version": identifier.rsplit("/", 1)[1]})
    step_ids = [_fragment("step", row[0]) for row in groups]
    tool_ids = [_fragment("prefix", row[0]) for row in prefixes]
    writer.add({
        **main, "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow", "HowTo"],
        "programmingLanguage": _ref(PYTHON), "hasPart": _refs(tool_ids), "step": _refs(step_ids),
    })
    python = next((row[6] for row in workers if row[6]), None)
    writer.add({"@id": PYTHON, "@type": "ComputerLanguage", "name": "Python",
                "identifier": _ref("https://www.python.org/"), "url": _ref("https://www.python.org/"),
                "version": python})
    for position, (group, prefix, count, _) in enumerate(groups):
        writer.add({"@id": step_ids[position], "@type": "HowToStep", "name": group,
                    "description": f"Dask task group {group}: {count} attempt(s)",
                    "position": str(position),
                    "workExample": _ref(_fragment("prefix", prefix)) if prefix else None})
    for prefix, function, digest, code_file, count in prefixes:
        writer.add({"@id": _fragment("prefix", prefix), "@type": "SoftwareApplication",
                    "name": prefix, "alternateName": function,
                    "description": f"Dask task prefix {prefix}: {count} attempt(s)"
                                   + (f" of {function}" if function else ""),
                    "identifier": digest,
                    "url": _file_id(code_file) if code_file and code_file.startswith("/") else None})
    scheduler = None
    dask_version = distributed = None
    for (process, role, wname, address, host, pid, _python, dask, dist, os_name,
         packages) in workers:
        if role == "scheduler":
            scheduler = process
        dask_version = dask_version or dask
        distributed = distributed or dist
        writer.add({"@id": _process_id(process), "@type": "SoftwareApplication",
                    "name": f"Dask {role} {wname or address or process}",
                    "description": f"Dask {role} process {pid} on {host}, {os_name}"
                                   if pid else f"Dask {role}",
                    "url": address, "identifier": packages,
                    "softwareRequirements": _ref(DASK)})
    writer.add({"@id": DASK, "@type": "SoftwareApplication", "name": "Dask distributed",
                "url": _ref("https://distributed.dask.org/"),
                "version": distributed or dask_version,
                "description": f"Dask {dask_version}, distributed {distributed}: the scheduler "
                               "that ran the task graph"})
    for path, read, written in files:
        writer.add({"@id": _file_id(path), "@type": "File", "name": Path(path).name,
                    "description": "read and written by the run" if read and written
                    else "written by the run" if written else "read by the run"})
    writer.add({
        "@id": "#organize", "@type": "OrganizeAction", "name": "Dask runs the computations",
        "instrument": _ref(DASK), "agent": _ref(_process_id(scheduler)) if scheduler else None,
        "startTime": _time(started), "endTime": _time(max(ends)) if ends else None,
        "object": _refs([_fragment("control", f"{row[0]}/{row[1]}")
                         for row in step_runs]),
        "result": _refs(run_ids),
    })
    for (trace_id, span_id, start, end, outcome, count, erred, _code, code_file, code_line,
         cell, client) in computations:
        writer.add({
            "@id": _fragment("computation", span_id), "@type": "CreateAction",
            "name": f"Dask computation {span_id} of trace {trace_id}",
            "description": f"{count} task(s), {erred or 0} erred"
                           + (f"; submitted from {code_file}:{code_line}" if code_file else "")
                           + (f"; notebook cell {cell}" if cell else ""),
            "instrument": _ref(main["@id"]), "startTime": _time(start), "endTime": _time(end),
            "actionStatus": STATUS.get(outcome, FAILED) if outcome else None,
            "agent": _ref(_process_id(client)) if client else None,
            "identifier": trace_id,
        })
    described = {row[0] for row in workers}
    for client in sorted({row[11] for row in computations if row[11]} - described):
        writer.add({"@id": _process_id(client), "@type": "SoftwareApplication",
                    "name": f"Dask client {client.removeprefix('run:client.')}"})


def _write_readme(target: Path, computations: list[tuple[Any, ...]],
                  groups: list[tuple[Any, ...]], files: list[tuple[Any, ...]],
                  name: str | None) -> None:
    tasks = sum(row[5] or 0 for row in computations)
    erred = sum(row[6] or 0 for row in computations)
    lines = [
        f"# {name or 'A Dask run'}", "",
        "A Workflow Run RO-Crate (Provenance Run Crate 0.5) written by otel-dask-prov "
        f"{__version__} from the OpenTelemetry traces of a Dask run.", "",
        f"- {len(computations)} computation(s), {tasks} task(s), {erred} erred, in "
        f"{len(groups)} task group(s)",
        f"- {len(files)} file(s) read or written, referred to by their paths (`file://`): "
        "the data is not in the crate",
        "", "`ro-crate-metadata.json` describes the run: one `CreateAction` per task attempt "
        "(inputs, outputs, worker, times, status, resource usage), one `HowToStep` per task "
        "group, one `SoftwareApplication` per task prefix, and Dask itself as the "
        "`OrganizeAction`'s instrument. See https://www.researchobject.org/workflow-run-crate/.",
        ""]
    (target / README).write_text("\n".join(lines), encoding="utf-8")


def _write_attempts(writer: _Writer, connection: Any) -> None:
    usage_names = [column for column in USAGE_COLUMNS
                   if column != "duration_s" and not column.startswith("darshan_")]
    for row in _rows(connection, _ATTEMPTS_SQL):
        (trace_id, span_id, _computation, key, prefix, group, attempt, outcome, worker, start,
         end, error_type, error_message, result_type, result_nbytes, result_hash,
         duration) = row[:17]
        usage = dict(zip(usage_names, row[17:17 + len(usage_names)], strict=True))
        usage["duration_s"] = duration
        (inputs, read, written, darshan_read, darshan_write, profile,
         clock) = row[17 + len(usage_names):]
        usage["darshan_read_bytes"] = None if darshan_read is None else int(darshan_read)
        usage["darshan_write_bytes"] = None if darshan_write is None else int(darshan_write)
        identifier = _attempt_id(span_id)
        status, error = _attempt_status(outcome, error_type, error_message)
        usage_ids = []
        for column, value in usage.items():
            if value is None:
                continue
            usage_id = f"{identifier}/{column}"
            usage_ids.append(usage_id)
            writer.add({"@id": usage_id, "@type": "PropertyValue", "name": column,
                        "propertyID": column, "value": value, "unitCode": USAGE_COLUMNS[column]})
        for number, function in enumerate(_profile(profile)):
            usage_id = f"{identifier}/yappi/{number}"
            usage_ids.append(usage_id)
            writer.add({
                "@id": usage_id, "@type": "PropertyValue", "propertyID": "yappi_total_s",
                "name": f"{function.get('name')} ({function.get('file')}:{function.get('line')})",
                "value": function.get("total_s"), "unitCode": SECONDS_UNIT,
                "description": f"Yappi, {clock or 'cpu'} clock: {function.get('calls')} call(s), "
                               f"{function.get('self_s')} s in the function itself"})
        has_result = outcome == "success" and (result_hash or result_type or result_nbytes)
        if has_result:
            writer.add({"@id": _result_id(span_id), "@type": "PropertyValue",
                        "name": f"result of {key}", "propertyID": "dask-task-result",
                        "value": result_hash or key, "description": result_type,
                        "additionalType": result_type, "contentSize": result_nbytes})
        writer.add({
            "@id": identifier, "@type": "CreateAction",
            "name": f"{key} (attempt {attempt})" if attempt else key,
            "identifier": key,
            "instrument": _ref(_fragment("prefix", prefix)) if prefix else None,
            "agent": _ref(_process_id(worker)) if worker else None,
            "startTime": _time(start), "endTime": _time(end),
            "actionStatus": status,
            "error": error,
            "object": _refs([_result_id(dependency) for dependency in inputs or ()]
                            + [_file_id(path) for path in read or ()]),
            "result": _refs(([_result_id(span_id)] if has_result else [])
                            + [_file_id(path) for path in written or ()]),
            "resourceUsage": _refs(usage_ids),
            "additionalProperty": None,
            "description": f"Dask task {key} of group {group}, trace {trace_id}: {outcome}",
        })


def _profile(text: str | None) -> list[dict[str, Any]]:
    """The functions of a Yappi profile (the ``profile`` column), or none if unreadable."""
    if not text:
        return []
    try:
        functions = json.loads(text)
    except ValueError:
        return []
    return [item for item in functions if isinstance(item, dict)] \
        if isinstance(functions, list) else []


def _write_steps(writer: _Writer, connection: Any, step_runs: list[tuple[Any, ...]]) -> None:
    for computation, group in step_runs:
        writer.add_with_list(
            {"@id": _fragment("control", f"{computation}/{group}"), "@type": "ControlAction",
             "name": f"task group {group} in computation {computation}",
             "instrument": _ref(_fragment("step", group))},
            "object", (_attempt_id(span_id) for (span_id,) in
                       _rows(connection.cursor(), _STEP_ATTEMPTS_SQL, computation, group)))


def _replaceable(target: Path) -> bool:
    """Whether *target* is an empty folder or holds only the files of a crate of ours."""
    if not target.is_dir():
        return False
    names = {path.name for path in target.iterdir()}
    if not names:
        return True
    ours = {METADATA, README, GRAPH_FILE}
    return METADATA in names and all(
        name in ours or (name.endswith(".py") and (target / name).is_file()) for name in names)


# ---------------------------------------------------------------------------
# From traces
# ---------------------------------------------------------------------------
def write_crate(paths: Sequence[PathLike], directory: PathLike, *, skip_invalid: bool = False,
                progress: bool = False, parallel: bool | None = None,
                name: str | None = None) -> ConversionReport:
    """Write the Workflow Run RO-Crate of the trace files *paths* into *directory*.

    The crate is written into a temporary folder beside *directory* and moved there when
    complete; a crate this function wrote there before is replaced, a folder with any
    other file in it is refused (nothing of it is deleted).
    """
    from ..errors import MissingPackageError, OutputError
    from ..query import dataset

    try:
        dataset.require()
    except MissingPackageError:
        raise MissingPackageError(MISSING) from None
    target = Path(directory)
    if target.exists() and not _replaceable(target):
        raise OutputError(str(target), "not an empty folder nor a crate of otel-prov's "
                                       "(it holds other files): not replaced")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="otel-prov-ro-crate-") as scratch:
        result = dataset.export(paths, scratch, run="ro-crate", skip_invalid=skip_invalid,
                                progress=progress, parallel=parallel)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            write_crate_of_dataset(scratch, staging, name=name)
            mask = os.umask(0)
            os.umask(mask)
            staging.chmod(0o777 & ~mask)  # mkdtemp's 0700 is not what a published folder wants
            if target.exists():
                shutil.rmtree(target)
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return result.conversion
