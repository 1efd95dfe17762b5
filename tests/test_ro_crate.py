"""``otel-prov convert -f ro-crate``: Workflow Run RO-Crates (Provenance Run Crate 0.5) of
recorded runs, checked by the tools of that community:

* the real ``rocrate-validator`` (roc-validator) under the ``provenance-run-crate`` profile,
  every REQUIRED check (:mod:`tests.support.rocrate_validator_run` serves the RO-Crate 1.1
  JSON-LD context when ``w3id.org`` cannot be reached);
* ``rocrate`` (ro-crate-py) and ``runcrate report`` read the crate;
* the profile's competency questions, answered with SPARQL over the crate's RDF graph.

The runs are the recorded fixtures of real ``dask`` clusters (``tests/fixtures/traces``):
``provenance`` (files read and written, a failing task), ``retry`` (a task that fails once
and is retried) and ``erred``.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from otel_dask_prov import query
from otel_dask_prov.cli import main
from otel_dask_prov.convert.api import convert
from otel_dask_prov.errors import MissingPackageError, OptionError
from otel_dask_prov.publish import ro_crate
from tests.support import rocrate_validator_run

pytest.importorskip("duckdb")

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
RUNS = ("provenance", "retry", "erred")
REPO_ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def crates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("crates")
    for name in RUNS:
        convert([FIXTURES / name], output=root / name, format="ro-crate")
    return {name: root / name for name in RUNS}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("datasets")
    for name in RUNS:
        query.export([FIXTURES / name], root / name, run=name)
    return {name: root / name for name in RUNS}


def graph_of(crate: Path) -> list[dict[str, Any]]:
    document = json.loads((crate / ro_crate.METADATA).read_text())
    graph: list[dict[str, Any]] = document["@graph"]
    return graph


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


# ---------------------------------------------------------------------------
# roc-validator
# ---------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", RUNS)
def test_roc_validator_accepts_the_crate_as_a_provenance_run_crate(
        crates: dict[str, Path], name: str, tmp_path: Path) -> None:
    validate(crates[name], tmp_path)


def validate(crate: Path, tmp_path: Path) -> None:
    """Run the real ``rocrate-validator`` under ``provenance-run-crate``: every check passes."""
    pytest.importorskip("rocrate_validator")
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.rocrate_validator_run", "validate",
         "--profile-identifier", "provenance-run-crate", "--no-paging", "--no-cache",
         "--output-format", "json", "--output-file", str(report), str(crate)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert report.exists(), done.stdout + done.stderr
    result = json.loads(report.read_text())
    issues = [(issue["check"]["identifier"], issue["message"]) for issue in result["issues"]]
    assert result["passed"], issues
    statistics = result["statistics"]
    assert "provenance-run-crate-0.5" in statistics["profiles"]
    assert statistics["total_failed_checks"] == 0
    assert statistics["total_skipped_checks"] == 0
    assert statistics["total_passed_checks"] == statistics["total_checks"] > 50


# ---------------------------------------------------------------------------
# The entities, against the exported tables
# ---------------------------------------------------------------------------
def test_one_create_action_per_attempt_with_its_inputs_outputs_worker_and_times(
        crates: dict[str, Path], datasets: dict[str, Path]) -> None:
    for name in RUNS:
        entities = {entity["@id"]: entity for entity in graph_of(crates[name])}
        attempts = query.sql(datasets[name], "SELECT * FROM attempts").to_dict("records")
        for attempt in attempts:
            action = entities[f"#attempt/{attempt['span_id']}"]
            assert action["@type"] == "CreateAction"
            assert action["identifier"] == attempt["key"]
            assert action["instrument"] == {"@id": f"#prefix/{attempt['prefix']}"}
            assert entities[action["instrument"]["@id"]]["@type"] == "SoftwareApplication"
            if isinstance(attempt["worker_process"], str):
                assert entities[action["agent"]["@id"]]["@type"] == "SoftwareApplication"
            if not pd.isna(attempt["start_time"]):
                assert action["startTime"] == attempt["start_time"].isoformat()
            for usage in as_list(action.get("resourceUsage")):
                value = entities[usage["@id"]]
                assert value["@type"] == "PropertyValue"
                assert value["unitCode"].startswith("http://qudt.org/vocab/unit/")
                assert value["propertyID"] in {*ro_crate.USAGE_COLUMNS, "yappi_total_s"}
        steps = [entity for entity in entities.values() if entity["@type"] == "HowToStep"]
        groups = query.sql(datasets[name], 'SELECT DISTINCT "group" FROM attempts')
        assert sorted(step["name"] for step in steps) == sorted(groups["group"])


def test_yappi_and_darshan_figures_are_resource_usage(crates: dict[str, Path],
                                                      datasets: dict[str, Path],
                                                      tmp_path: Path) -> None:
    entities = {entity["@id"]: entity for entity in graph_of(crates["provenance"])}
    profiled = query.sql(datasets["provenance"],
                         "SELECT span_id, profile FROM attempts WHERE profile IS NOT NULL")
    assert len(profiled)
    for span_id, profile in zip(profiled["span_id"], profiled["profile"], strict=True):
        usage = [entities[ref["@id"]] for ref in
                 as_list(entities[f"#attempt/{span_id}"]["resourceUsage"])]
        yappi = [value for value in usage if value["propertyID"] == "yappi_total_s"]
        assert [value["value"] for value in yappi] == [
            function["total_s"] for function in json.loads(profile)]
        assert {value["unitCode"] for value in yappi} == {ro_crate.SECONDS_UNIT}
    from tests.test_convert_darshan import example_log, read_log, record_traces

    traces = tmp_path / "traces"
    traces.mkdir()
    record_traces(traces, read_log(example_log()))
    convert([traces], output=tmp_path / "crate", format="ro-crate")
    dataset = tmp_path / "dataset"
    query.export([traces], dataset, run="darshan")
    sums = query.sql(dataset, "SELECT span_id, operation, sum(length) AS n FROM files "
                              "WHERE source = 'darshan' GROUP BY ALL")
    assert len(sums)
    entities = {entity["@id"]: entity for entity in graph_of(tmp_path / "crate")}
    for span_id, operation, total in zip(sums["span_id"], sums["operation"], sums["n"],
                                         strict=True):
        value = entities[f"#attempt/{span_id}/darshan_{operation}_bytes"]
        assert value["value"] == total and value["unitCode"] == ro_crate.BYTES_UNIT


def test_files_are_inputs_and_outputs_of_the_attempts_that_read_and_wrote_them(
        crates: dict[str, Path], datasets: dict[str, Path]) -> None:
    entities = {entity["@id"]: entity for entity in graph_of(crates["provenance"])}
    files = query.sql(datasets["provenance"], "SELECT * FROM files").to_dict("records")
    assert files
    root = entities["./"]
    for row in files:
        file_id = ro_crate._file_id(row["path"])
        assert entities[file_id]["@type"] == "File"
        assert {"@id": file_id} in as_list(root["hasPart"])
        action = entities[f"#attempt/{row['span_id']}"]
        side = "result" if row["operation"] == "write" else "object"
        assert {"@id": file_id} in as_list(action[side])


def test_a_failed_attempt_has_the_failed_status_and_its_error(
        crates: dict[str, Path], datasets: dict[str, Path]) -> None:
    for name in ("erred", "retry", "provenance"):
        entities = {entity["@id"]: entity for entity in graph_of(crates[name])}
        failed = query.sql(datasets[name], "SELECT * FROM attempts WHERE outcome LIKE '%error%'")
        assert len(failed), name
        for attempt in failed.to_dict("records"):
            action = entities[f"#attempt/{attempt['span_id']}"]
            assert action["actionStatus"] == "http://schema.org/FailedActionStatus"
            assert attempt["exception_type"] in action["error"]


def test_the_root_declares_its_profiles_and_dask_organizes_the_run(
        crates: dict[str, Path]) -> None:
    entities = {entity["@id"]: entity for entity in graph_of(crates["retry"])}
    root = entities["./"]
    assert {ref["@id"] for ref in root["conformsTo"]} == set(ro_crate.PROFILES)
    main_entity = entities[root["mainEntity"]["@id"]]
    assert {"File", "SoftwareSourceCode", "ComputationalWorkflow"} <= set(main_entity["@type"])
    organize = entities["#organize"]
    assert entities[organize["instrument"]["@id"]]["name"] == "Dask distributed"
    assert entities[organize["instrument"]["@id"]]["version"]
    for control in as_list(organize["object"]):
        assert entities[control["@id"]]["@type"] == "ControlAction"
    assert (Path(crates["retry"]) / "README.md").exists()


# ---------------------------------------------------------------------------
# rocrate and runcrate read it
# ---------------------------------------------------------------------------
def test_rocrate_reads_the_crate(crates: dict[str, Path], datasets: dict[str, Path]) -> None:
    rocrate_module = pytest.importorskip("rocrate.rocrate")
    crate = rocrate_module.ROCrate(crates["provenance"])
    assert crate.mainEntity is not None
    assert "ComputationalWorkflow" in crate.mainEntity.type
    actions = [entity for entity in crate.get_entities() if entity.type == "CreateAction"]
    attempts = query.sql(datasets["provenance"], "SELECT count(*) AS n FROM attempts")["n"][0]
    computations = query.sql(datasets["provenance"],
                             "SELECT count(*) AS n FROM computations")["n"][0]
    assert len(actions) == attempts + computations
    steps = crate.mainEntity.get("step")
    assert steps and all(step.type == "HowToStep" for step in steps)


def test_runcrate_reports_every_action(crates: dict[str, Path]) -> None:
    report = pytest.importorskip("runcrate.report")
    rocrate_module = pytest.importorskip("rocrate.rocrate")
    crate = rocrate_module.ROCrate(crates["retry"])
    out = io.StringIO()
    with redirect_stdout(out):
        report.dump_crate_actions(crate)
    text = out.getvalue()
    for entity in graph_of(crates["retry"]):
        if entity["@type"] == "CreateAction" and entity["@id"].startswith("#attempt/"):
            assert entity["@id"] in text


# ---------------------------------------------------------------------------
# The profile's competency questions, in SPARQL
# ---------------------------------------------------------------------------
PREFIXES = """
PREFIX schema: <http://schema.org/>
PREFIX wfrun: <https://w3id.org/ro/terms/workflow-run#>
PREFIX bioschemas: <https://bioschemas.org/>
"""


def rdf_graph(crate: Path) -> Any:
    rdflib = pytest.importorskip("rdflib")
    undo = None if rocrate_validator_run.online() else rocrate_validator_run.serve_context_locally()
    try:
        graph = rdflib.Graph()
        graph.parse(crate / ro_crate.METADATA, format="json-ld",
                    publicID=f"{crate.resolve().as_uri()}/")
    finally:
        if undo is not None:
            undo()
    return graph


def test_competency_questions_answered_with_sparql(crates: dict[str, Path],
                                                   datasets: dict[str, Path]) -> None:
    graph = rdf_graph(crates["provenance"])
    attempts = query.sql(datasets["provenance"], "SELECT * FROM attempts").to_dict("records")
    # Which steps does the workflow have, and which tool runs each?
    steps = graph.query(PREFIXES + """
        SELECT ?stepName ?toolName WHERE {
          ?workflow a bioschemas:ComputationalWorkflow ; schema:step ?step .
          ?step a schema:HowToStep ; schema:name ?stepName ; schema:workExample ?tool .
          ?tool schema:name ?toolName }""")
    assert {(str(s), str(t)) for s, t in steps} == {(a["group"], a["prefix"]) for a in attempts}
    # For each step run: which tool executions (CreateActions) did it control?
    controlled = graph.query(PREFIXES + """
        SELECT ?stepName (COUNT(?run) AS ?runs) WHERE {
          ?control a schema:ControlAction ; schema:instrument ?step ; schema:object ?run .
          ?step schema:name ?stepName . ?run a schema:CreateAction }
        GROUP BY ?stepName""")
    assert sum(int(runs) for _, runs in controlled) == len(attempts)
    # Which tool executions failed, and with which error?
    failed = graph.query(PREFIXES + """
        SELECT ?key ?error WHERE {
          ?run a schema:CreateAction ; schema:identifier ?key ;
               schema:actionStatus "http://schema.org/FailedActionStatus" ;
               schema:error ?error }""")
    assert {str(key) for key, _ in failed} == {a["key"] for a in attempts
                                                 if a["outcome"] != "success"}
    # Which files did each tool execution read (object) and write (result)?
    written = graph.query(PREFIXES + """
        SELECT ?key ?file WHERE {
          ?run a schema:CreateAction ; schema:identifier ?key ; schema:result ?file .
          ?file a schema:MediaObject }""")
    assert {str(key) for key, _ in written} >= {"copy", "write-1"}
    read = graph.query(PREFIXES + """
        SELECT ?key WHERE { ?run schema:identifier ?key ; schema:object ?file .
                            ?file a schema:MediaObject }""")
    assert {str(key) for (key,) in read} >= {"copy"}
    # When did each execution start and end, on which worker?
    timed = graph.query(PREFIXES + """
        SELECT ?key ?start ?end ?agent WHERE {
          ?run a schema:CreateAction ; schema:instrument/a schema:SoftwareApplication ;
               schema:identifier ?key ; schema:startTime ?start ; schema:endTime ?end ;
               schema:agent ?agent }""")
    assert len(timed) == sum(1 for a in attempts if isinstance(a["worker_process"], str)
                             and not pd.isna(a["end_time"]) and not pd.isna(a["start_time"]))
    # What resources did each execution use, in which units?
    usage = graph.query(PREFIXES + """
        SELECT ?name ?value ?unit WHERE {
          ?run wfrun:resourceUsage ?usage .
          ?usage a schema:PropertyValue ; schema:propertyID ?name ; schema:value ?value ;
                 schema:unitCode ?unit }""")
    units = {str(name): str(unit) for name, _, unit in usage}
    assert units["duration_s"] == "http://qudt.org/vocab/unit/SEC"
    # Which engine ran the workflow, in which version?
    engine = graph.query(PREFIXES + """
        SELECT ?name ?version WHERE {
          ?organize a schema:OrganizeAction ; schema:instrument ?engine ;
                    schema:result ?run .
          ?run schema:instrument ?workflow . ?workflow a bioschemas:ComputationalWorkflow .
          ?engine schema:name ?name ; schema:version ?version }""")
    assert {str(name) for name, _ in engine} == {"Dask distributed"}


# ---------------------------------------------------------------------------
# The command and its errors
# ---------------------------------------------------------------------------
def test_the_command_writes_a_folder_and_replaces_its_own_crate(tmp_path: Path) -> None:
    target = tmp_path / "crate"
    for _ in range(2):
        assert main(["convert", str(FIXTURES / "retry"), "-f", "ro-crate", "-o", str(target),
                     "-q"]) in (0, None)
    assert sorted(path.name for path in target.iterdir()) == [
        "README.md", "dask-graph.json", "ro-crate-metadata.json"]
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_a_crate_needs_a_folder_and_never_overwrites_other_content(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="-o DIR"):
        convert([FIXTURES / "retry"], output=None, format="ro-crate")
    (tmp_path / "notes.txt").write_text("mine")
    from otel_dask_prov.errors import OutputError

    with pytest.raises(OutputError):
        convert([FIXTURES / "retry"], output=tmp_path, format="ro-crate")
    assert (tmp_path / "notes.txt").read_text() == "mine"
    crate = tmp_path / "crate"
    convert([FIXTURES / "retry"], output=crate, format="ro-crate")
    (crate / "data.csv").write_text("added by hand")
    with pytest.raises(OutputError):
        convert([FIXTURES / "retry"], output=crate, format="ro-crate")
    assert (crate / "data.csv").exists() and (crate / ro_crate.METADATA).exists()


def test_without_the_query_extra_one_line_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(MissingPackageError) as raised:
        convert([FIXTURES / "retry"], output=tmp_path / "crate", format="ro-crate")
    assert 'pip install "otel-dask-prov[query]"' in str(raised.value)
    assert "\n" not in str(raised.value)


# ---------------------------------------------------------------------------
# A real cluster: the submitting code is the main entity
# ---------------------------------------------------------------------------
@pytest.mark.slow
def test_the_submitting_code_of_a_real_run_is_the_main_entity(tmp_path: Path) -> None:
    import dask

    from tests.support.cluster import DaskProcesses
    from tests.support.workloads import inc

    cluster = DaskProcesses(tmp_path / "cluster", n_workers=1)
    with cluster, dask.config.set({"distributed.diagnostics.computations.nframes": 1}):
        with cluster.client() as client:
            assert client.submit(inc, 41, key="answer").result() == 42
        cluster.stop()
    crate = tmp_path / "crate"
    convert([cluster.trace_dir], output=crate, format="ro-crate")
    entities = {entity["@id"]: entity for entity in graph_of(crate)}
    main_id = entities["./"]["mainEntity"]["@id"]
    assert main_id == Path(__file__).name
    assert "client.submit(inc, 41" in (crate / main_id).read_text()
    assert {"File", "SoftwareSourceCode", "ComputationalWorkflow"} <= set(entities[main_id]["@type"])
    assert not (crate / ro_crate.GRAPH_FILE).exists()
    runs = [entity for entity in entities.values() if entity["@id"].startswith("#computation/")]
    assert runs and all(run["instrument"] == {"@id": main_id} for run in runs)
    validate(crate, tmp_path)
