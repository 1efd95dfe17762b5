"""Darshan I/O in the PROV document: the worker's log, its per-file counters, and the
DXT reads and writes of each task execution.

The spans come from the worker-side code reading ``dxt.darshan``, a real log
shipped by the ``darshan`` package (a Java application's POSIX counters and DXT
segments): the plugins' own records give a computation of two tasks whose
executions ran while the log's process did I/O, ``read_log`` and ``log_spans``
attribute the segments to them as the Darshan pick-up does after the worker
exited, and the plugins' OTLP JSON encoder writes the scheduler's and the
worker's trace files. The converted document is checked for values known from
the log, against ``otel-prov validate``, and streamed PROV-JSON and PROV-N
against the document ``prov`` builds. ``test_darshan_runtime`` does the same with
a worker under the real runtime.
"""

from __future__ import annotations

import importlib.resources
import io
import json
import warnings
from pathlib import Path
from typing import Any

import prov
import pytest

from otel_dask_prov import attributes as attr
from otel_dask_prov import prov_vocabulary as vocabulary
from otel_dask_prov.capture.probes.darshan_logs import (
    DarshanLog,
    TaskWindow,
    log_spans,
    read_log,
)
from otel_dask_prov.capture.records import AttemptRecord, ComputationRecord, ExecutionRecord
from otel_dask_prov.capture.resource import build_resource
from otel_dask_prov.capture.span_ids import attempt_span_id, execution_span_id
from otel_dask_prov.convert import convert, to_document
from otel_dask_prov.convert.pipeline import run
from otel_dask_prov.convert.prov_records import utc
from otel_dask_prov.convert.run_summary import RunSummaryWriter
from otel_dask_prov.convert.taskdata import path_id
from otel_dask_prov.export.otlp_json import encode_line, resource_prefix
from otel_dask_prov.settings import Settings
from otel_dask_prov.validate import validate
from tests.support.prov_diff import difference

pytest.importorskip("darshan", reason="needs the darshan package (pip install darshan)")

WORKER = "tcp://10.0.0.2:40000"
SCHEDULER = "tcp://10.0.0.1:8786"
TRACE = 0x5EED_0000_0000_0000_0000_0000_0000_0001
COMPUTATION_SPAN = 0xC0FFEE
CLOCK_SHIFT = 0.0002
"""The worker's ``scheduler_delay``: its segments move by this much to the scheduler's clock."""
JRE = ("/blues/gpfs/home/luettgau/darshan-decaf/testbed/spack/opt/spack/linux-centos7-broadwell/"
       "gcc-8.2.0/openjdk-1.8.0_202-b08-fqnnpgtjyfnarl6frohnhtv3nygn2uft/jre/lib/")
CLASSLIB = JRE + "classlib.properties"
WORK = "/home/luettgau/tmp/COMPSsWorker/84894e8e-755b-43b1-b019-c8f9312f2d95/localhost/"
DATA_FILE = WORK + "d8v1_1587455014927.IT"
TASKS = {  # key: the window of its task function, seconds after the log's start (worker clock)
    "read-config": (0.005, 0.006),  # 9 reads of classlib.properties
    "write-output": (948.9100, 948.9125),  # 3 writes of 10240 bytes to d8v1_...IT
}
MPI_OUTPUT = "/yellow/usr/projects/eap/users/treddy/simple_dxt_mpi_io_darshan/test.out"
MPI_TASKS = {"write-mpi": (0.1, 0.11)}  # sample-dxt-simple.darshan: its 3 DXT segments


def example_log(package: str = "darshan.examples.example_logs", name: str = "dxt.darshan") -> Path:
    return Path(str(importlib.resources.files(package) / name))


def _task_records(key: str, run_id: int, window: tuple[float, float],
                  t0: float) -> tuple[AttemptRecord, ExecutionRecord, TaskWindow]:
    """The scheduler's attempt, the worker's execution and its Darshan window, for one task."""
    begin, end = (t0 + offset for offset in window)
    attempt = AttemptRecord(TRACE, COMPUTATION_SPAN, key, key.split("-")[0], key, 1, begin - 0.002)
    attempt.run_id = run_id
    attempt.span_id = attempt_span_id(TRACE, key, run_id, 1)
    attempt.transitions = [(begin - 0.002, "released", "waiting", None),
                           (begin - 0.001, "waiting", "processing", None),
                           (end + 0.002, "processing", "memory", None)]
    attempt.end = end + 0.002
    attempt.state, attempt.outcome = "memory", attr.OUTCOME_SUCCESS
    attempt.worker, attempt.worker_name = WORKER, "worker-0"
    attempt.nbytes, attempt.result_type = 28, "int"
    startstops = [{"action": "compute", "start": begin - 0.0001 + CLOCK_SHIFT,
                   "stop": end + 0.0001 + CLOCK_SHIFT}]
    execution = ExecutionRecord(TRACE, key, attempt.prefix, run_id, WORKER, "worker-0",
                                attr.OUTCOME_SUCCESS, startstops, startstops[0]["start"],
                                startstops[0]["stop"])
    window = TaskWindow(begin, end, 4242, TRACE, execution_span_id(TRACE, key, run_id), key,
                        attempt.prefix, run_id)
    return attempt, execution, window


def record_traces(directory: Path, log: DarshanLog,
                  tasks: dict[str, tuple[float, float]] = TASKS) -> Path:
    """The trace files of a computation whose *tasks* ran while *log*'s process did I/O."""
    t0 = log.start
    computation = ComputationRecord(TRACE, COMPUTATION_SPAN, None, t0 - 0.001, "Client-darshan",
                                    len(tasks), list(tasks))
    computation.end = t0 + max(end for _, end in tasks.values()) + 0.01
    scheduler_spans, worker_spans, windows = [], [], []
    for run_id, (key, times) in enumerate(tasks.items(), start=1):
        attempt, execution, window = _task_records(key, run_id, times, t0)
        computation.prefixes[attempt.prefix] = None
        scheduler_spans += attempt.to_span_data()
        worker_spans += execution.to_span_data()
        windows.append(window)
    scheduler_spans += computation.to_span_data()
    worker = {attr.WORKER_ADDRESS: WORKER, attr.WORKER_NAME: "worker-0"}
    worker_spans += log_spans(log, windows, worker, clock_shift=CLOCK_SHIFT)

    settings = Settings()
    for role, spans, extra in (
        ("scheduler", scheduler_spans, {attr.SCHEDULER_ADDRESS: SCHEDULER}),
        ("worker", worker_spans, {**worker, attr.SCHEDULER_ADDRESS: SCHEDULER}),
    ):
        resource = build_resource(role, settings, extra)
        (directory / f"dask-{role}.jsonl").write_text(
            encode_line(resource_prefix(resource.attributes), spans))
    return directory


def records(document: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    found = list(document.get(kind, {}).items())
    for bundle in document.get("bundle", {}).values():
        found.extend(bundle.get(kind, {}).items())
    return found


def plain(value: Any) -> Any:
    """A PROV-JSON value without its type (``{"$": "838", "type": "xsd:int"}`` -> 838)."""
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        text, kind = value["$"], value.get("type", "")
        if kind in ("xsd:int", "xsd:long"):
            return int(text)
        return float(text) if kind == "xsd:double" else text
    return value


class Converted:
    """The PROV-JSON of the traces, with lookups by record kind."""

    def __init__(self, traces: Path, output: Path) -> None:
        convert([traces], str(output))
        self.path = output
        self.document = json.loads(output.read_text())

    def entities(self, prov_type: str) -> dict[str, dict[str, Any]]:
        found = {}
        for identifier, record in records(self.document, "entity"):
            types = plain(record.get("prov:type"))
            if prov_type in (types if isinstance(types, list) else [types]):
                found[identifier] = {name: plain(value) for name, value in record.items()}
        return found

    def relations(self, kind: str) -> list[dict[str, Any]]:
        return [{name: plain(value) for name, value in record.items()}
                for _, record in records(self.document, kind)]

    def task(self, key: str) -> str:
        return next(identifier for identifier, record in records(self.document, "activity")
                    if plain(record.get(vocabulary.KEY)) == key)


@pytest.fixture(scope="module")
def log() -> DarshanLog:
    return read_log(example_log())


@pytest.fixture(scope="module")
def traces(log: DarshanLog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_traces(tmp_path_factory.mktemp("darshan-traces"), log)


@pytest.fixture(scope="module")
def converted(traces: Path, tmp_path_factory: pytest.TempPathFactory) -> Converted:
    return Converted(traces, tmp_path_factory.mktemp("darshan-prov") / "run.json")


def test_the_document_is_valid_prov(converted: Converted) -> None:
    assert [violation.line(str(converted.path)) for violation in validate(str(converted.path))] == []


def test_the_log_is_an_entity_attributed_to_the_worker(converted: Converted, log: DarshanLog) -> None:
    (identifier, entity), = converted.entities(vocabulary.DARSHAN_LOG).items()
    assert entity["prov:location"] == str(example_log())
    assert entity[vocabulary.DARSHAN_JOB_ID] == 1537455
    assert entity[vocabulary.DARSHAN_VERSION] == "3.2.0-pre1"
    assert entity[vocabulary.START_TIME] == "2020-04-21T07:45:33+00:00"
    assert entity[vocabulary.END_TIME] == "2020-04-21T08:10:01+00:00"
    assert entity[vocabulary.FILE_COUNT] == 215
    assert entity[vocabulary.DARSHAN_SEGMENTS] == 7623
    assert entity[vocabulary.DARSHAN_UNATTRIBUTED_SEGMENTS] == 7623 - 9 - 3
    assert entity[vocabulary.darshan_counter("POSIX_BYTES_READ")] == sum(
        c.counters["POSIX_BYTES_READ"] for c in log.files if c.module == "POSIX")
    attributed = [(r["prov:entity"], r["prov:agent"]) for r in converted.relations("wasAttributedTo")]
    workers = [agent for entity_id, agent in attributed if entity_id == identifier]
    assert len(workers) == 1 and workers[0].startswith("run:worker.")


def test_each_file_of_the_log_has_a_record_of_its_counters(converted: Converted) -> None:
    file_records = converted.entities(vocabulary.DARSHAN_FILE_RECORD)
    assert len(file_records) == 215
    classlib = next(entity for entity in file_records.values()
                    if entity["prov:location"] == CLASSLIB)
    assert (classlib[vocabulary.DARSHAN_MODULE], classlib[vocabulary.DARSHAN_RANK]) == ("POSIX", 0)
    assert classlib[vocabulary.darshan_counter("POSIX_OPENS")] == 2
    assert classlib[vocabulary.darshan_counter("POSIX_READS")] == 18
    assert classlib[vocabulary.darshan_counter("POSIX_SEEKS")] == 16
    assert classlib[vocabulary.darshan_counter("POSIX_BYTES_READ")] == 838
    assert classlib[vocabulary.darshan_counter("POSIX_BYTES_WRITTEN")] == 0
    assert classlib[vocabulary.darshan_counter("POSIX_F_READ_TIME")] == pytest.approx(7.844e-05, rel=1e-3)
    (log_id, _), = converted.entities(vocabulary.DARSHAN_LOG).items()
    record_id = next(identifier for identifier, entity in file_records.items()
                     if entity["prov:location"] == CLASSLIB)
    specializations = {(r["prov:specificEntity"], r["prov:generalEntity"])
                       for r in converted.relations("specializationOf")}
    assert (record_id, path_id(CLASSLIB)) in specializations
    members = {(r["prov:collection"], r["prov:entity"]) for r in converted.relations("hadMember")}
    assert (log_id, record_id) in members
    assert converted.entities(vocabulary.FILE)[path_id(CLASSLIB)]["prov:location"] == CLASSLIB


def test_dxt_reads_are_usages_by_the_task_with_offset_length_and_times(
        converted: Converted, log: DarshanLog) -> None:
    task = converted.task("read-config")
    reads = [usage for usage in converted.relations("used")
             if usage["prov:activity"] == task and usage["prov:entity"] == path_id(CLASSLIB)]
    assert [(r[vocabulary.OFFSET], r[vocabulary.LENGTH]) for r in reads] == [
        (0, 64), (40, 64), (41, 64), (96, 64), (114, 64), (174, 44), (175, 43), (206, 12), (218, 0)]
    assert {r[vocabulary.DARSHAN_MODULE] for r in reads} == {"DXT_POSIX"}
    first = log.segments[0]
    assert reads[0]["prov:time"] == _time(first.start + CLOCK_SHIFT)
    assert reads[0][vocabulary.END_TIME] == _time(first.end + CLOCK_SHIFT)


def test_dxt_writes_generate_one_version_of_the_file_each(converted: Converted) -> None:
    task = converted.task("write-output")
    attempt_span = task.rpartition(".")[2]
    generations = {g["prov:entity"]: g for g in converted.relations("wasGeneratedBy")
                   if g["prov:activity"] == task and g["prov:entity"] in converted.entities(vocabulary.FILE)}
    versions = [f"{path_id(DATA_FILE)}.{attempt_span}.write-{n}" for n in (1, 2, 3)]
    assert sorted(generations) == versions
    assert [(generations[v][vocabulary.OFFSET], generations[v][vocabulary.LENGTH]) for v in versions] == [
        (327664, 10240), (337904, 10240), (348144, 10240)]
    assert generations[versions[0]][vocabulary.START_TIME] < generations[versions[0]]["prov:time"]
    specializations = {(r["prov:specificEntity"], r["prov:generalEntity"])
                       for r in converted.relations("specializationOf")}
    assert {(version, path_id(DATA_FILE)) for version in versions} <= specializations


def test_the_darshan_io_of_a_task_is_derived_from_the_log(converted: Converted) -> None:
    summaries = converted.entities(vocabulary.DARSHAN_TASK_IO)
    task = converted.task("write-output")
    summary_id = next(r["prov:influencee"] for r in converted.relations("wasInfluencedBy")
                      if r["prov:influencer"] == task and r["prov:influencee"] in summaries)
    summary = summaries[summary_id]
    assert (summary[vocabulary.DARSHAN_SEGMENTS], summary[vocabulary.IO_WRITE_BYTES],
            summary[vocabulary.IO_WRITE_CALLS], summary[vocabulary.IO_READ_BYTES]) == (3, 30720, 3, 0)
    (log_id, _), = converted.entities(vocabulary.DARSHAN_LOG).items()
    derived = {(r["prov:generatedEntity"], r["prov:usedEntity"])
               for r in converted.relations("wasDerivedFrom")}
    assert (summary_id, log_id) in derived


def test_an_mpi_log_has_a_record_per_rank_and_its_mpi_io_segments_are_stated(
        tmp_path: Path) -> None:
    log = read_log(example_log("darshan.tests.input", "sample-dxt-simple.darshan"))
    run = Converted(record_traces(tmp_path, log, MPI_TASKS), tmp_path / "run.json")
    assert list(validate(str(run.path))) == []

    file_records = run.entities(vocabulary.DARSHAN_FILE_RECORD)
    assert len(file_records) == len(log.files) == 64
    mpi_io = {entity[vocabulary.DARSHAN_RANK]: entity for entity in file_records.values()
              if entity[vocabulary.DARSHAN_MODULE] == "MPI-IO"}
    assert sorted(mpi_io) == list(range(16))
    assert mpi_io[0][vocabulary.darshan_counter("MPIIO_COLL_OPENS")] == 1
    assert mpi_io[0][vocabulary.darshan_counter("MPIIO_BYTES_WRITTEN")] == 4000
    assert mpi_io[1][vocabulary.darshan_counter("MPIIO_BYTES_WRITTEN")] == 0

    task = run.task("write-mpi")
    writes = sorted((g[vocabulary.DARSHAN_MODULE], g[vocabulary.OFFSET], g[vocabulary.LENGTH])
                    for g in run.relations("wasGeneratedBy")
                    if g["prov:activity"] == task and vocabulary.DARSHAN_MODULE in g)
    assert writes == [("DXT_MPIIO", 0, 4000), ("DXT_POSIX", 0, 40), ("DXT_POSIX", 0, 4000)]
    versions = {g["prov:entity"] for g in run.relations("wasGeneratedBy")
                if g.get(vocabulary.DARSHAN_MODULE) == "DXT_MPIIO"}
    assert {run.entities(vocabulary.FILE)[v]["prov:location"] for v in versions} == {MPI_OUTPUT}


@pytest.mark.parametrize("flatten", [False, True])
@pytest.mark.parametrize("format_name", ["json", "provn"])
def test_streamed_output_reads_back_as_the_prov_document(
        traces: Path, format_name: str, flatten: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = to_document([traces], flatten=flatten)
        streamed = io.StringIO()
        convert([traces], streamed, format=format_name, flatten=flatten)
        actual = prov.read(io.StringIO(streamed.getvalue()), format=format_name)
    assert difference(actual, expected) == []
    assert actual == expected


def _time(seconds: float) -> str:
    """A time as the converter writes it: UTC, microseconds truncated."""
    return utc(int(seconds * 1e9)).isoformat()


def test_the_report_shows_each_files_darshan_counters_and_its_readers(traces: Path) -> None:
    summary = RunSummaryWriter()
    run([traces], lambda: summary, False)
    data = summary.data("darshan")
    files = {use["path"]: use for use in data["files"]}
    assert len(files) == 215
    classlib = files[CLASSLIB]
    assert classlib["darshan"]["POSIX_READS"] == 18
    assert classlib["darshan"]["POSIX_BYTES_READ"] == 838
    readers = {data["attempts"][index]["key"] for index in classlib["read_by"]}
    assert readers == {"read-config"}
