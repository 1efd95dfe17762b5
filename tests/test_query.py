"""``otel-prov export`` and ``otel-prov sql`` on recorded real runs and on a fresh one.

The fixtures under ``tests/fixtures/traces`` were recorded from real ``dask
scheduler`` and ``dask worker`` processes; the tables must hold exactly what
their spans say: one attempt row per attempt span, one execution row per
execution span, one dependency row per dependency of an attempt that ran.
Every ``sql`` block of ``docs/queries.md`` runs here, its result checked
against the spans.
"""

# ruff: noqa: S608 - the SQL here is built from the tests' own table and run names

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from otel_dask_prov import attributes as attr
from otel_dask_prov import query
from otel_dask_prov.cli import main
from otel_dask_prov.convert.pipeline import run as convert_run
from otel_dask_prov.query.dataset_writer import DatasetWriter, run_id
from otel_dask_prov.query.schemas import TABLES
from tests.support.cluster import REPO_ROOT, DaskProcesses
from tests.support.traces import Span, read_spans
from tests.support.workloads import fail_once

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
RUNS = ("retry", "erred", "worker-killed", "plain", "provenance")
QUERIES = REPO_ROOT / "docs" / "queries.md"
RAN = {attr.OUTCOME_SUCCESS, attr.OUTCOME_ERROR, attr.OUTCOME_RETRIED}
FAILED = {attr.OUTCOME_ERROR, attr.OUTCOME_RETRIED, attr.OUTCOME_DEPENDENCY_ERROR}


# --------------------------------------------------------------------------
# What the traces say
# --------------------------------------------------------------------------
@dataclass
class Expected:
    """Counts and facts read from the spans of one run, to compare the tables with."""

    spans: list[Span]
    attempts: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Attempt span id -> its attributes (the scheduler's, with the worker's added)."""
    executions: dict[str, Span] = field(default_factory=dict)
    computations: int = 0
    files: int = 0

    @classmethod
    def of(cls, *paths: Path) -> Expected:
        spans = read_spans(list(paths))
        expected = cls(spans)
        for span in spans:
            if span.kind == attr.RECORD_TASK_ATTEMPT:
                expected.attempts.setdefault(span.span_id, {}).update(span.attributes)
            elif span.kind == attr.RECORD_COMPUTATION:
                expected.computations += 1
        for span in spans:
            if span.kind == attr.RECORD_TASK_EXECUTION:
                attempt = span.parent_span_id or span.span_id
                expected.executions[attempt] = span
                known = expected.attempts.setdefault(attempt, {})
                for name, value in span.attributes.items():
                    known.setdefault(name, value)
                modes = span.attributes.get(attr.IO_FILE_MODES) or []
                uses = {(path, operation) for path, mode in zip(
                    span.attributes.get(attr.IO_FILES) or [], modes, strict=False)
                    for operation, letters in (("read", "r+"), ("write", "wax+"))
                    if set(letters) & set(mode)}
                expected.files += len(uses)
        return expected

    def outcomes(self, *wanted: str) -> list[dict[str, Any]]:
        return [a for a in self.attempts.values() if a.get(attr.TASK_OUTCOME) in wanted]

    def dependencies(self) -> list[tuple[str, str]]:
        """``(consumer key, producer key)`` of every dependency of an attempt that ran."""
        return sorted((a[attr.TASK_KEY], str(key)) for span_id, a in self.attempts.items()
                      if a.get(attr.TASK_OUTCOME) in RAN or span_id in self.executions
                      for key in a.get(attr.TASK_DEPENDENCIES) or ())

    def executed(self) -> int:
        return sum(1 for span_id, a in self.attempts.items()
                   if span_id in self.executions or a.get(attr.WORKER_ADDRESS))

    def io(self, name: str) -> int:
        return sum(int(span.attributes.get(name) or 0) for span in self.executions.values())

    def processes(self) -> int:
        instances = {span.resource.get(attr.SERVICE_INSTANCE_ID) for span in self.spans}
        clients = {span.attributes.get(attr.CLIENT_ID) for span in self.spans
                   if span.kind == attr.RECORD_COMPUTATION}
        return len(instances - {None}) + len(clients - {None})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five recorded runs in one dataset, each its own partition."""
    directory = tmp_path_factory.mktemp("dataset")
    for name in RUNS:
        result = query.export([FIXTURES / name], directory, run=name)
        assert result.run == name
    return directory


@pytest.fixture(scope="module")
def expected() -> dict[str, Expected]:
    return {name: Expected.of(FIXTURES / name) for name in RUNS}


def count(directory: Path, table: str, run: str) -> int:
    return int(query.sql(directory, f"SELECT count(*) AS n FROM {table} WHERE run = '{run}'")
               ["n"][0])


# --------------------------------------------------------------------------
# The tables
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", RUNS)
def test_rows_are_the_spans_of_the_traces(dataset: Path, expected: dict[str, Expected],
                                          name: str) -> None:
    spans = expected[name]
    assert count(dataset, "attempts", name) == len(spans.attempts)
    assert count(dataset, "executions", name) == len(spans.executions)
    assert count(dataset, "computations", name) == spans.computations
    assert count(dataset, "dependencies", name) == len(spans.dependencies())
    assert count(dataset, "files", name) == spans.files
    assert count(dataset, "workers", name) == spans.processes()
    compute = query.sql(dataset, f"SELECT coalesce(sum(compute_s), 0) AS s FROM executions "
                                 f"WHERE run = '{name}'")["s"][0]
    assert compute == pytest.approx(sum(
        float(spans.attempts[span_id].get(attr.TASK_DURATION_PREFIX + "compute") or 0)
        for span_id in spans.executions))
    keys = query.sql(dataset, f"SELECT span_id, key, outcome, attempt FROM attempts "
                              f"WHERE run = '{name}'")
    assert {row.span_id: (row.key, row.outcome, row.attempt) for row in keys.itertuples()} == {
        span_id: (a[attr.TASK_KEY], a[attr.TASK_OUTCOME], a.get(attr.TASK_ATTEMPT, 1))
        for span_id, a in spans.attempts.items()}


def test_the_partitions_are_hive_style_with_real_types(dataset: Path) -> None:
    for table, schema in TABLES.items():
        parts = sorted((dataset / table).glob("*/*.parquet"))
        assert [part.parent.name for part in parts] == sorted(f"run={name}" for name in RUNS)
        for part in parts:
            assert pq.read_schema(part).remove_metadata() == schema
    attempts = pq.read_schema(dataset / "attempts" / "run=retry" / "part-0.parquet")
    assert attempts.field("start_time").type == pa.timestamp("us", tz="UTC")
    assert attempts.field("attempt").type == pa.int64()
    assert attempts.field("result_nbytes").type == pa.int64()
    workers = pq.read_schema(dataset / "workers" / "run=retry" / "part-0.parquet")
    assert workers.field("packages").type == pa.list_(pa.string())
    import duckdb

    found = duckdb.sql(f"SELECT run, count(*) FROM read_parquet("
                       f"'{dataset}/attempts/*/*.parquet', hive_partitioning=true) "
                       f"GROUP BY run ORDER BY run").fetchall()
    assert dict(found) == {name: count(dataset, "attempts", name) for name in RUNS}
    types = {row[0]: row[1] for row in duckdb.sql(
        f"DESCRIBE SELECT * FROM '{dataset}/attempts/*/*.parquet'").fetchall()}
    assert types["start_time"] == "TIMESTAMP WITH TIME ZONE"
    assert types["attempt"] == types["code_line"] == "BIGINT"


def test_the_plain_run_has_four_inc_to_total_edges(dataset: Path) -> None:
    edges = query.sql(dataset, "SELECT producer_key, key FROM dependency_edges "
                               "WHERE run = 'plain' ORDER BY producer_key")
    incs = query.sql(dataset, "SELECT key FROM attempts WHERE run = 'plain' AND prefix = 'inc' "
                              "ORDER BY key")
    assert list(edges["producer_key"]) == list(incs["key"])
    assert len(edges) == 4
    assert {key.split("-")[0] for key in edges["key"]} == {"total"}


def test_attempts_say_who_ran_what_with_which_code(dataset: Path) -> None:
    retry = query.sql(dataset, "SELECT * FROM attempts WHERE run = 'retry' "
                               "AND prefix = 'fail_once' ORDER BY attempt")
    first, second = retry.to_dict("records")
    assert first["outcome"] == "error-retried" and first["exception_type"] == "RuntimeError"
    assert second["previous_span_id"] == first["span_id"]
    assert second["rerun_reason"] == "retry"
    assert first["worker"].startswith("tcp://") and first["worker_name"].startswith("worker-")
    assert first["duration_s"] > 0
    total = query.sql(dataset, "SELECT function, code_line FROM attempts "
                               "WHERE run = 'plain' AND prefix = 'total'")
    assert total.to_dict("records") == [{"function": "tests.support.workloads.total",
                                         "code_line": 17}]
    erred = query.sql(dataset, "SELECT prefix, outcome, executed, worker, blame FROM attempts "
                               "WHERE run = 'erred' ORDER BY prefix")
    div, inc = erred.to_dict("records")
    assert div["outcome"] == "error" and div["executed"]
    assert inc["outcome"] == "dependency-error" and not inc["executed"]
    assert pd.isna(inc["worker"]) and inc["blame"].startswith("div-")


def test_files_are_read_and_written_by_their_tasks(dataset: Path) -> None:
    files = query.sql(dataset, "SELECT key, path, mode, operation FROM files "
                               "WHERE run = 'provenance' ORDER BY key, operation")
    copy = [(Path(row.path).name, row.mode, row.operation)
            for row in files.itertuples() if row.key == "copy"]
    assert copy == [("source.bin", "r", "read"), ("copied.bin", "w", "write")]
    written = files[files["path"].str.endswith("shared.bin")]
    assert sorted(written["key"]) == ["fails", "write-1", "write-2"]


def test_the_python_api_gives_tables_and_a_connection(dataset: Path) -> None:
    tables = query.tables(dataset)
    assert set(tables) == set(TABLES)
    for name, table in tables.items():
        assert table.schema.names == TABLES[name].names
    assert tables["attempts"].num_rows == sum(count(dataset, "attempts", name) for name in RUNS)
    connection = query.connect(dataset)
    try:
        assert connection.execute("SELECT count(*) FROM dependency_edges "
                                  "WHERE producer_key IS NULL").fetchall() == [(0,)]
    finally:
        connection.close()


def test_darshan_segments_are_file_rows_with_their_bytes(tmp_path: Path) -> None:
    from tests.test_convert_darshan import example_log, read_log, record_traces

    traces = tmp_path / "traces"
    traces.mkdir()
    record_traces(traces, read_log(example_log()))
    query.export([traces], tmp_path / "dataset", run="darshan")
    rows = query.sql(tmp_path / "dataset", "SELECT a.key, f.operation, f.source, f.length "
                                           "FROM files AS f JOIN attempts AS a USING (run, span_id)")
    assert set(rows["source"]) == {"darshan"} and rows["length"].notna().all()
    assert set(zip(rows["key"], rows["operation"], strict=True)) == {
        ("read-config", "read"), ("write-output", "write")}
    spans = Expected.of(traces)
    segments = [event for span in spans.spans for event in span.events
                if event.get("name") == attr.DARSHAN_SEGMENT_EVENT]
    assert len(rows) == len(segments)
    by_operation = Counter(str(event["attributes"].get(attr.DARSHAN_OPERATION)) for event in segments)
    assert dict(Counter(rows["operation"])) == {
        "write" if name == "write" else "read": n for name, n in by_operation.items()}


def test_attempts_carry_their_yappi_profile(dataset: Path) -> None:
    rows = query.sql(dataset, "SELECT key, profile, profile_clock FROM attempts "
                              "WHERE run = 'provenance' AND profile IS NOT NULL")
    spans = Expected.of(FIXTURES / "provenance")
    profiled = {span.attributes.get(attr.TASK_KEY): span.attributes[attr.PROFILE_YAPPI]
                for span in spans.spans if attr.PROFILE_YAPPI in span.attributes}
    assert profiled and dict(zip(rows["key"], rows["profile"], strict=True)) == profiled
    assert set(rows["profile_clock"]) == {"cpu"}
    assert json.loads(rows["profile"][0])[0]["total_s"] >= 0


def test_the_default_run_is_a_digest_of_the_input_files(tmp_path: Path) -> None:
    sha256s = [hashlib.sha256(path.read_bytes()).hexdigest()
               for path in sorted((FIXTURES / "plain").glob("*.jsonl"))]
    first = query.export(FIXTURES / "plain", tmp_path)
    assert first.run == run_id(sha256s)
    again = query.export(FIXTURES / "plain", tmp_path)  # replaces its partition
    assert again.run == first.run
    assert count(tmp_path, "attempts", first.run) == 5
    assert [path.name for path in tmp_path.iterdir()] != []
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_rows_are_flushed_in_groups(tmp_path: Path) -> None:
    """Small groups give the same table: what is buffered is written every few rows."""
    writer = DatasetWriter(tmp_path / "small", "plain", rows_per_flush=2)
    convert_run([FIXTURES / "plain"], lambda: writer, False)
    query.export(FIXTURES / "plain", tmp_path / "whole", run="plain")
    for table in TABLES:
        small = pq.ParquetFile(tmp_path / "small" / table / "run=plain" / "part-0.parquet")
        whole = pq.read_table(tmp_path / "whole" / table / "run=plain" / "part-0.parquet")
        assert small.read().equals(whole)
        if whole.num_rows > 2:
            assert small.metadata.num_row_groups > 1


# --------------------------------------------------------------------------
# The documented queries
# --------------------------------------------------------------------------
def documented_queries() -> dict[str, str]:
    blocks = re.findall(r"^```sql\n(.*?)^```", QUERIES.read_text(), re.S | re.M)
    found = {}
    for block in blocks:
        title = block.splitlines()[0]
        assert title.startswith("-- "), f"a documented query starts with a -- title: {block}"
        found[title[3:]] = block
    return found


def check_slowest_groups(result: Any, spans: Expected) -> None:
    assert int(result["attempts"].sum()) == spans.executed()
    groups = Counter(a.get(attr.TASK_GROUP) or a[attr.TASK_PREFIX]
                     for span_id, a in spans.attempts.items()
                     if span_id in spans.executions or a.get(attr.WORKER_ADDRESS))
    assert dict(zip(result["group"], result["attempts"], strict=True)) == groups
    assert list(result["total_s"]) == sorted(result["total_s"], reverse=True)


def check_retries(result: Any, spans: Expected) -> None:
    retried = [a for a in spans.attempts.values() if a.get(attr.TASK_PREVIOUS_ATTEMPT_SPAN_ID)]
    assert int(result["retried"].sum()) == len(retried)
    reasons = Counter(a.get(attr.TASK_RERUN_REASON) for a in retried)
    assert dict(Counter(dict(zip(result["rerun_reason"], result["retried"], strict=True)))) == \
        dict(reasons)


def check_bytes(result: Any, spans: Expected) -> None:
    assert int(result["executions"].sum()) == len(spans.executions)
    assert int(result["read_bytes"].sum()) == spans.io(attr.IO_READ_BYTES)
    assert int(result["written_bytes"].sum()) == spans.io(attr.IO_WRITE_BYTES)


def check_lost(result: Any, spans: Expected) -> None:
    lost = spans.outcomes(attr.OUTCOME_WORKER_LOST)
    assert sorted(result["key"]) == sorted(a[attr.TASK_KEY] for a in lost)
    assert all(worker.startswith("tcp://") for worker in result["worker"])


def check_failed(result: Any, spans: Expected) -> None:
    failed = spans.outcomes(*FAILED)
    assert sorted(zip(result["key"], result["outcome"], strict=True)) == sorted(
        (a[attr.TASK_KEY], a[attr.TASK_OUTCOME]) for a in failed)
    assert result["exception_type"].notna().all()


def check_producers(result: Any, spans: Expected) -> None:
    column = "producer_key" if "producer_key" in result else "producer"
    assert sorted(zip(result["consumer"], result[column], strict=True)) == spans.dependencies()


CHECKS = {
    "slowest task groups": check_slowest_groups,
    "retries by worker": check_retries,
    "bytes read per group": check_bytes,
    "running on a lost worker": check_lost,
    "failed tasks": check_failed,
    "producer of each dependency": check_producers,
    "the producer of each dependency, by hand": check_producers,
}


def test_every_documented_query_is_checked() -> None:
    assert set(documented_queries()) == set(CHECKS)


@pytest.mark.parametrize("name", RUNS)
@pytest.mark.parametrize("title", sorted(CHECKS))
def test_the_documented_queries_answer_from_the_traces(
        tmp_path: Path, expected: dict[str, Expected], name: str, title: str) -> None:
    directory = tmp_path / "one-run"
    query.export(FIXTURES / name, directory, run=name)
    result = query.sql(directory, documented_queries()[title])
    CHECKS[title](result, expected[name])


# --------------------------------------------------------------------------
# The commands
# --------------------------------------------------------------------------
def test_the_sql_command_prints_text_csv_and_json(
        dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = ("SELECT run, count(*) AS attempts, min(start_time) AS first FROM attempts "
           "GROUP BY run ORDER BY run")
    assert main(["sql", str(dataset), sql]) == 0
    header, rule, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["run", "attempts", "first"]
    assert set(rule) == {"-", " "} and len(rows) == len(RUNS)
    assert rule.index(" ") == len("worker-killed")  # columns as wide as their longest value
    assert main(["sql", str(dataset), sql, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "run,attempts,first" and lines[1].startswith("erred,2,20")
    assert main(["sql", str(dataset), sql, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["run"] == "erred" and data[0]["attempts"] == 2
    assert data[0]["first"].endswith("+00:00")


def test_the_export_command_says_what_it_wrote(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(FIXTURES / "retry"), "-o", str(tmp_path), "--run", "r1"]) == 0
    err = capsys.readouterr().err
    assert "exported run r1 to" in err and "3 attempts" in err
    assert (tmp_path / "attempts" / "run=r1" / "part-0.parquet").exists()


def test_skip_invalid_exports_the_rest_and_says_what_it_skipped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(FIXTURES / "broken"), "--skip-invalid", "-o", str(tmp_path)]) == 0
    summary = capsys.readouterr().err.splitlines()[-1]
    assert "5 attempts" in summary
    assert summary.endswith("; skipped 2 invalid line(s)")  # as convert and report say


@pytest.mark.parametrize(("argv", "message"), [
    (["sql", "{tmp}/nothing", "SELECT 1"], "no exported dataset in"),
    (["sql", "{dataset}", "SELEC key FROM attempts"], "the query failed: Parser Error"),
    (["sql", "{dataset}", "SELECT nope FROM attempts"], "the query failed: Binder Error"),
    (["sql", "{dataset}", "SELECT * FROM tasks"], "the query failed: Catalog Error"),
    (["export", "{tmp}/missing.jsonl", "-o", "{tmp}/out"], "missing.jsonl"),
    (["export", str(FIXTURES / "plain"), "-o", "{tmp}/out", "--run", "../up"],
     "invalid run name"),
    (["export", str(FIXTURES / "plain"), "-o", "{tmp}/a-file/dataset"], "cannot write"),
])
def test_bad_input_is_one_line_and_exit_2(dataset: Path, tmp_path: Path, argv: list[str],
                                          message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    argv = [arg.format(tmp=tmp_path, dataset=dataset) for arg in argv]
    assert main(argv) == 2
    assert not (tmp_path / "out").exists()  # nothing is left of an export that failed
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("otel-prov: ") and message in err, err
    if "query failed" in message:
        assert "attempts" in err and "docs/queries.md" in err


@pytest.mark.parametrize("missing", ["duckdb", "pyarrow"])
def test_without_the_query_extra_the_commands_say_how_to_install_it(
        dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], missing: str) -> None:
    monkeypatch.setitem(sys.modules, missing, None)
    line = ("otel-prov: the query commands need pyarrow and duckdb; install them with: "
            "pip install 'otel-dask-prov[query]'\n")
    assert main(["sql", str(dataset), "SELECT 1"]) == 2
    assert capsys.readouterr().err == line
    assert main(["export", str(FIXTURES / "plain"), "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == line


# --------------------------------------------------------------------------
# A fresh real run
# --------------------------------------------------------------------------
def test_a_fresh_run_with_an_array_and_a_retry(tmp_path: Path) -> None:
    import dask.array as da

    cluster = DaskProcesses(tmp_path / "dask", n_workers=2)
    with cluster:
        with cluster.client() as client:
            array = da.arange(400, chunks=50).reshape(20, 20).rechunk((10, 10))
            assert int((array + 1).sum().compute()) == sum(range(1, 401))
            marker = tmp_path / "marker"
            assert client.submit(fail_once, str(marker), 7, retries=1).result() == 7
        cluster.stop()
    spans = Expected.of(cluster.trace_dir)
    directory = tmp_path / "dataset"
    result = query.export([cluster.trace_dir], directory)
    assert result.rows["attempts"] == len(spans.attempts) > 20
    assert result.rows["executions"] == len(spans.executions)
    assert result.rows["computations"] == spans.computations == 2
    assert result.rows["dependencies"] == len(spans.dependencies()) > 0
    edges = query.sql(directory, "SELECT key AS consumer, producer_key FROM dependency_edges")
    assert sorted(zip(edges["consumer"], edges["producer_key"], strict=True)) == \
        spans.dependencies()
    queries = documented_queries()
    retries = query.sql(directory, queries["retries by worker"])
    assert list(retries["rerun_reason"]) == ["retry"] and list(retries["retried"]) == [1]
    failed = query.sql(directory, queries["failed tasks"])
    assert list(failed["exception_type"]) == ["RuntimeError"]
    tuple_keys = query.sql(directory, "SELECT key FROM attempts WHERE key LIKE '(%'")
    assert len(tuple_keys) > 0  # dask.array's keys, as str(key)
    types = query.sql(directory, "SELECT typeof(start_time) AS t, typeof(attempt) AS a "
                                 "FROM attempts LIMIT 1")
    assert types.to_dict("records") == [{"t": "TIMESTAMP WITH TIME ZONE", "a": "BIGINT"}]
    for title, check in CHECKS.items():
        check(query.sql(directory, queries[title]), spans)
    clients = query.sql(directory, "SELECT c.client, w.role FROM computations AS c "
                                   "JOIN workers AS w ON w.process = c.client")
    assert list(clients["role"]) == ["client", "client"]
