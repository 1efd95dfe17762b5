"""The opt-in provenance of a real run, found in the PROV document the converter writes.

A real ``dask scheduler`` and ``dask worker`` record argument values, the files
each task opens, result hashes, Yappi profiles and stack traces; the converted
document has each of them as PROV: arguments and files as entities the task
executions used or generated, profiles as entities they generated, hashes on
the output entities, stack traces on the exception entities. The document
passes ``otel-prov validate``, and the streamed PROV-JSON and PROV-N read back
as the document ``prov`` builds from the same records.

The same run is kept as the fixture ``tests/fixtures/traces/provenance`` so
that the mapping is also checked without starting processes.
"""

from __future__ import annotations

import io
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import prov
import pytest
from dask.base import tokenize

from otel_dask_prov import prov_vocabulary as vocabulary
from otel_dask_prov.convert import convert, to_document
from otel_dask_prov.convert.taskdata import path_id, path_version_id
from otel_dask_prov.validate import validate
from tests.support.cluster import DaskProcesses
from tests.support.machine_paths import neutralize
from tests.support.prov_diff import difference
from tests.support.provenance_tasks import (
    arange,
    copy_file,
    measure_length,
    sum_of_squares,
    write_known_bytes,
    write_then_fail,
)
from tests.support.trace_files import otlp_lines, trace_files

FIXTURE = Path(__file__).parent / "fixtures" / "traces" / "provenance"
SETTINGS_ENV = {
    "DASK_OTEL_DASK_PROV__RECORD_ARGUMENTS": "True",
    "DASK_OTEL_DASK_PROV__RECORD_FILES": "True",
    "DASK_OTEL_DASK_PROV__RESULT_HASH": "True",
    "DASK_OTEL_DASK_PROV__YAPPI": "True",
    "DASK_OTEL_DASK_PROV__RECORD_TRACEBACKS": "True",
}
WORKDIR = "/tmp/otel-dask-prov-provenance-fixture"
"""Where the fixture's files were: the paths its traces name."""


def record_run(workdir: Path) -> Path:
    """Run the known tasks on a real cluster with the opt-in parts on; its trace directory."""
    source, copied, shared = workdir / "source.bin", workdir / "copied.bin", workdir / "shared.bin"
    source.write_bytes(b"s" * 1000)
    cluster = DaskProcesses(workdir, n_workers=1, nthreads=1, env=SETTINGS_ENV)
    with cluster:
        with cluster.client() as client:
            assert client.submit(copy_file, str(source), str(copied), key="copy").result() == 1000
            assert client.submit(write_known_bytes, str(shared), 10, key="write-1").result()
            assert client.submit(write_known_bytes, str(shared), 20, key="write-2").result()
            assert client.submit(measure_length, "hello", password="", key="args").result() == 5
            assert client.submit(arange, 100, key="hashed").result() == list(range(100))
            assert client.submit(sum_of_squares, 100, key="profiled").result()
            with pytest.raises(ValueError):
                client.submit(write_then_fail, str(shared), 1, "known failure",
                              key="fails").result()
        cluster.stop()
    return cluster.trace_dir


def records(document: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """``(id, record)`` of every record of *kind* in a PROV-JSON document, bundles included."""
    found = list(document.get(kind, {}).items())
    for bundle in document.get("bundle", {}).values():
        found.extend(bundle.get(kind, {}).items())
    return found


def value(record: dict[str, Any], name: str) -> Any:
    """The plain value of attribute *name* (PROV-JSON may type it as ``{"$": ...}``)."""
    found = record.get(name)
    return found["$"] if isinstance(found, dict) else found


class Converted:
    """The PROV-JSON of one recorded run, and the tasks' activity ids by key."""

    def __init__(self, traces: Path, output: Path) -> None:
        convert([traces], str(output))
        self.path = output
        self.document = json.loads(output.read_text())
        self.tasks = {value(record, vocabulary.KEY): identifier
                      for identifier, record in records(self.document, "activity")
                      if value(record, "prov:type") == vocabulary.TASK_EXECUTION}

    def entities(self, prov_type: str) -> dict[str, dict[str, Any]]:
        return {identifier: record for identifier, record in records(self.document, "entity")
                if prov_type in _types(record)}

    def related(self, kind: str, first: str, second: str) -> list[tuple[str, str, dict]]:
        return [(record.get(first), record.get(second), record)
                for _, record in records(self.document, kind)]


def _types(record: dict[str, Any]) -> list[str]:
    found = record.get("prov:type")
    found = found if isinstance(found, list) else [found]
    return [item["$"] if isinstance(item, dict) else item for item in found]


@pytest.fixture(scope="module")
def fixture_run(tmp_path_factory: pytest.TempPathFactory) -> Converted:
    return Converted(FIXTURE, tmp_path_factory.mktemp("provenance") / "run.json")


@pytest.mark.slow
def test_a_real_run_with_data_provenance_converts_to_valid_prov(tmp_path: Path) -> None:
    pytest.importorskip("yappi", reason="the yappi setting needs Yappi (pip install yappi)")
    run = Converted(record_run(tmp_path), tmp_path / "run.json")
    assert list(validate(str(run.path))) == []
    copied = str(tmp_path / "copied.bin")
    generated = {(entity, activity) for entity, activity, _ in
                 run.related("wasGeneratedBy", "prov:entity", "prov:activity")}
    copy_span = run.tasks["copy"].rpartition(".")[2]
    assert (path_version_id(copied, copy_span), run.tasks["copy"]) in generated
    assert run.entities(vocabulary.PROFILE) and run.entities(vocabulary.ARGUMENT)


def test_the_fixture_is_valid_prov(fixture_run: Converted) -> None:
    assert list(validate(str(fixture_run.path))) == []


def test_files_read_are_used_and_files_written_are_generated_versions(
        fixture_run: Converted) -> None:
    source, copied = f"{WORKDIR}/source.bin", f"{WORKDIR}/copied.bin"
    files = fixture_run.entities(vocabulary.FILE)
    assert value(files[path_id(source)], "prov:location") == source
    copy = fixture_run.tasks["copy"]
    used = [(activity, entity, value(record, vocabulary.FILE_MODE)) for activity, entity, record
            in fixture_run.related("used", "prov:activity", "prov:entity")]
    assert (copy, path_id(source), "r") in used
    version = path_version_id(copied, copy.rpartition(".")[2])
    assert value(files[version], "prov:location") == copied
    generations = [(entity, activity, value(record, vocabulary.FILE_MODE)) for entity, activity, record
                   in fixture_run.related("wasGeneratedBy", "prov:entity", "prov:activity")]
    assert (version, copy, "w") in generations
    assert (version, path_id(copied)) in [
        (specific, general) for specific, general, _ in fixture_run.related(
            "specializationOf", "prov:specificEntity", "prov:generalEntity")]


def test_a_file_written_by_two_tasks_has_one_version_per_task(fixture_run: Converted) -> None:
    shared = f"{WORKDIR}/shared.bin"
    generations = {entity: activity for entity, activity, _ in fixture_run.related(
        "wasGeneratedBy", "prov:entity", "prov:activity")}
    writers = {generations[identifier] for identifier, record
               in fixture_run.entities(vocabulary.FILE).items()
               if value(record, "prov:location") == shared and identifier != path_id(shared)}
    tasks = fixture_run.tasks
    assert writers == {tasks["write-1"], tasks["write-2"], tasks["fails"]}


def test_literal_arguments_are_entities_used_in_their_role(fixture_run: Converted) -> None:
    arguments = fixture_run.entities(vocabulary.ARGUMENT)
    task = fixture_run.tasks["args"]
    roles = {value(record, "prov:role"): entity for activity, entity, record
             in fixture_run.related("used", "prov:activity", "prov:entity")
             if activity == task and entity in arguments}
    assert set(roles) == {"0", "password"}
    assert value(arguments[roles["0"]], vocabulary.VALUE) == "'hello'"
    assert value(arguments[roles["0"]], vocabulary.TYPE) == "str"
    assert arguments[roles["0"]][vocabulary.POSITION] == {"$": "0", "type": "xsd:int"}
    assert value(arguments[roles["password"]], vocabulary.NAME) == "password"


def test_the_result_hash_is_on_the_output_entity(fixture_run: Converted) -> None:
    outputs = [record for record in fixture_run.entities(vocabulary.TASK_OUTPUT).values()
               if value(record, vocabulary.KEY) == "hashed"]
    assert [value(record, vocabulary.HASH) for record in outputs] == [
        tokenize(list(range(100)), ensure_deterministic=True)]


def test_a_profile_is_an_entity_generated_by_the_execution(fixture_run: Converted) -> None:
    profiles = fixture_run.entities(vocabulary.PROFILE)
    generated_by = {entity: activity for entity, activity, _ in fixture_run.related(
        "wasGeneratedBy", "prov:entity", "prov:activity")}
    profiled = [identifier for identifier in profiles
                if generated_by[identifier] == fixture_run.tasks["profiled"]]
    assert len(profiled) == 1
    profile = profiles[profiled[0]]
    assert value(profile, vocabulary.PROFILE_CLOCK) == "cpu"
    names = {function["name"] for function in json.loads(value(profile, "prov:value"))}
    assert {"sum_of_squares", "square"} <= names


def test_a_failure_carries_its_stack_trace(fixture_run: Converted) -> None:
    errors = list(fixture_run.entities(vocabulary.EXCEPTION).values())
    assert len(errors) == 1
    assert "write_then_fail" in value(errors[0], vocabulary.EXCEPTION_STACKTRACE)
    assert value(errors[0], vocabulary.EXCEPTION_MESSAGE) == "known failure"


@pytest.mark.parametrize("flatten", [False, True])
@pytest.mark.parametrize("format_name", ["json", "provn"])
def test_streamed_output_reads_back_as_the_prov_document(format_name: str, flatten: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = to_document([FIXTURE], flatten=flatten)
        streamed = io.StringIO()
        convert([FIXTURE], streamed, format=format_name, flatten=flatten)
        actual = prov.read(io.StringIO(streamed.getvalue()), format=format_name)
    assert difference(actual, expected) == []
    assert actual == expected


if __name__ == "__main__":  # re-record the fixture: python -m tests.test_convert_provenance
    workdir = Path(WORKDIR)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir()
    traces = record_run(workdir)
    shutil.rmtree(FIXTURE, ignore_errors=True)
    FIXTURE.mkdir()
    for process in ("scheduler", "worker"):
        trace_file, = trace_files(traces, f"dask-{process}-*")
        text = "".join(f"{line}\n" for line in otlp_lines(trace_file))
        (FIXTURE / f"dask-{process}.jsonl").write_text(neutralize(text))
