"""OpenLineage run events: from recorded runs (``otel-prov convert -f openlineage``) and
live from the scheduler plugin to a real local HTTP receiver, up and down.

Every event is checked two ways:

* against ``openlineage-python``'s typed model (always): each event is rebuilt from
  the client's generated classes (``RunEvent``, ``ParentRunFacet``,
  ``ErrorMessageRunFacet``, ...), which refuse missing or unknown fields, and the
  client's own serialization of it must be our event, ``_schemaURL`` of every facet
  included (so the facet versions are the ones the client writes);
* against the OpenLineage JSON schema (``spec/OpenLineage.json`` and
  ``spec/facets/*.json`` of the OpenLineage repository), with ``jsonschema`` and a
  ``referencing`` registry for the facets' ``$ref``s, when ``OPENLINEAGE_SPEC_DIR``
  names a copy of that ``spec/`` directory. No package on PyPI, npm or Maven Central
  ships those schemas (checked: openlineage-python, openlineage-integration-common,
  openlineage-java), so the copy is the contributor's; the test says so when it skips.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from operator import truediv
from pathlib import Path
from typing import Any

import pytest

from otel_dask_prov import TracingSchedulerPlugin
from otel_dask_prov.cli import main
from otel_dask_prov.convert.api import convert
from otel_dask_prov.export import openlineage_emitter
from otel_dask_prov.export import openlineage_format as ol
from otel_dask_prov.settings import resolve_settings

pytest.importorskip("duckdb")
openlineage = pytest.importorskip("openlineage.client")

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
PLUGIN = TracingSchedulerPlugin.name


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------
def _without_empty(value: Any) -> Any:
    """*value* without empty mappings (the client writes ``"facets": {}`` where we write none)."""
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v != {}}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


def typed_event(event: dict[str, Any]) -> Any:
    """*event* rebuilt from openlineage-python's generated classes (raises if it does not fit)."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.generated import (
        error_message_run,
        job_type_job,
        parent_run,
        processing_engine_run,
    )

    def fields(facet: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in facet.items() if not name.startswith("_")}

    run_facets: dict[str, Any] = {}
    for name, facet in event["run"]["facets"].items():
        if name == "parent":
            run_facets[name] = parent_run.ParentRunFacet(
                run=parent_run.Run(**facet["run"]), job=parent_run.Job(**facet["job"]))
        elif name == "errorMessage":
            run_facets[name] = error_message_run.ErrorMessageRunFacet(**fields(facet))
        elif name == "processing_engine":
            run_facets[name] = processing_engine_run.ProcessingEngineRunFacet(**fields(facet))
        else:
            raise AssertionError(f"unexpected run facet {name}")
    assert set(event["job"]["facets"]) == {"jobType"}
    job_facets = {"jobType": job_type_job.JobTypeJobFacet(**fields(event["job"]["facets"]["jobType"]))}
    return RunEvent(
        eventType=RunState(event["eventType"]), eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"], facets=run_facets),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"], facets=job_facets),
        producer=event["producer"],
        inputs=[InputDataset(namespace=d["namespace"], name=d["name"]) for d in event["inputs"]],
        outputs=[OutputDataset(namespace=d["namespace"], name=d["name"]) for d in event["outputs"]])


def check_with_the_client(events: list[dict[str, Any]]) -> None:
    from openlineage.client import set_producer
    from openlineage.client.serde import Serde

    set_producer(ol.PRODUCER)
    for event in events:
        assert _without_empty(Serde.to_dict(typed_event(event))) == _without_empty(event)


def spec_registry() -> tuple[Any, Any]:
    """``(validator class, registry)`` over the OpenLineage spec in ``OPENLINEAGE_SPEC_DIR``."""
    directory = os.environ.get("OPENLINEAGE_SPEC_DIR")
    if not directory:
        pytest.skip("OPENLINEAGE_SPEC_DIR is unset: point it at a copy of the OpenLineage "
                    "repository's spec/ directory (no registry package ships the JSON schemas)")
    import jsonschema
    from referencing import Registry, Resource

    resources = []
    for path in [Path(directory) / "OpenLineage.json", *sorted(Path(directory).glob("facets/*.json"))]:
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return jsonschema.Draft202012Validator, Registry().with_resources(resources)


def check_with_the_schema(events: list[dict[str, Any]]) -> None:
    validator_class, registry = spec_registry()
    from jsonschema import FormatChecker

    def validate(instance: Any, reference: str) -> None:
        validator = validator_class({"$ref": reference}, registry=registry,
                                    format_checker=FormatChecker())
        errors = sorted(validator.iter_errors(instance), key=str)
        assert not errors, [f"{list(error.absolute_path)}: {error.message}" for error in errors]

    for event in events:
        validate(event, event["schemaURL"])
        for facet in [*event["run"]["facets"].values(), *event["job"]["facets"].values()]:
            validate(facet, facet["_schemaURL"])


# ---------------------------------------------------------------------------
# From recorded runs
# ---------------------------------------------------------------------------
def events_of(paths: list[Path], tmp_path: Path, name: str = "events.jsonl") -> list[dict[str, Any]]:
    output = tmp_path / name
    convert([str(path) for path in paths], output=output, format="openlineage")
    return [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]


def computations_of(paths: list[Path], tmp_path: Path) -> list[dict[str, Any]]:
    from otel_dask_prov import query

    directory = tmp_path / "dataset"
    query.export([str(path) for path in paths], directory)
    return query.sql(directory, "SELECT * FROM computations").to_dict("records")  # type: ignore[no-any-return]


@pytest.mark.parametrize("fixture", ["plain", "erred", "retry", "fused", "worker-killed",
                                     "provenance"])
def test_one_start_and_one_end_per_computation_never_per_task(fixture: str, tmp_path: Path) -> None:
    events = events_of([FIXTURES / fixture], tmp_path)
    computations = computations_of([FIXTURES / fixture], tmp_path)
    assert len(events) == 2 * len(computations)
    by_run: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_run.setdefault(event["run"]["runId"], []).append(event)
    assert len(by_run) == len(computations)
    for computation in computations:
        run = by_run[str(ol.run_id(computation["trace_id"], computation["span_id"], False))]
        assert [event["eventType"] for event in run] == [
            "START", {"success": "COMPLETE", "error": "FAIL"}[computation["outcome"]]]
        assert run[0]["eventTime"] <= run[1]["eventTime"]
        assert run[0]["job"] == run[1]["job"]
        client = computation["client"].removeprefix("run:client.")
        assert run[0]["run"]["facets"]["parent"]["run"]["runId"] == ol.session_run_id(client)
        assert ("errorMessage" in run[1]["run"]["facets"]) == (computation["outcome"] == "error")
    assert [event["eventTime"] for event in events] == sorted(event["eventTime"] for event in events)
    check_with_the_client(events)


def test_the_events_validate_against_the_openlineage_json_schema(tmp_path: Path) -> None:
    events = events_of([FIXTURES / name for name in ("plain", "erred", "provenance")], tmp_path)
    check_with_the_schema(events)
    broken = json.loads(json.dumps(events[-1]))
    del broken["run"]["facets"]["parent"]["run"]["runId"]
    with pytest.raises(AssertionError, match="runId"):  # the facets are checked too
        check_with_the_schema([broken])


def test_files_read_and_written_are_datasets_and_failures_carry_the_error(tmp_path: Path) -> None:
    events = events_of([FIXTURES / "provenance"], tmp_path)
    ends = {event["job"]["name"]: event for event in events if event["eventType"] != "START"}
    fixture = "/tmp/otel-dask-prov-provenance-fixture/"
    assert ends["copy"]["inputs"] == [{"namespace": "file", "name": fixture + "source.bin"}]
    assert ends["copy"]["outputs"] == [{"namespace": "file", "name": fixture + "copied.bin"}]
    assert all(event["inputs"] == [] == event["outputs"]
               for event in events if event["eventType"] == "START")
    failed = ends["fails"]
    assert failed["eventType"] == "FAIL"
    error = failed["run"]["facets"]["errorMessage"]
    assert (error["programmingLanguage"], error["message"]) == (
        "python", "ProvenanceTestError: known failure")
    erred = events_of([FIXTURES / "erred"], tmp_path, "erred.jsonl")
    messages = {event["run"]["facets"]["errorMessage"]["message"]
                for event in erred if event["eventType"] == "FAIL"}
    assert any(message.startswith("ZeroDivisionError:") for message in messages), messages


def test_the_same_traces_give_the_same_bytes(tmp_path: Path) -> None:
    paths = [FIXTURES / "plain", FIXTURES / "retry"]
    first = tmp_path / "first.jsonl"
    second = tmp_path / "second.jsonl"
    convert([str(path) for path in paths], output=first, format="openlineage")
    convert([str(path) for path in reversed(paths)], output=second, format="openlineage")
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes().count(b"\n") == 8  # two computations each, two events each


def test_the_command_writes_json_lines_and_names_the_extra_it_needs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "events.jsonl"
    assert main(["convert", str(FIXTURES / "erred"), "-f", "openlineage", "-o", str(output), "-q"]) == 0
    assert [json.loads(line)["eventType"] for line in output.read_text().splitlines()] == [
        "START", "START", "FAIL", "FAIL"]
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "duckdb", None)
    missing = tmp_path / "missing.jsonl"
    assert main(["convert", str(FIXTURES / "erred"), "-f", "openlineage", "-o", str(missing)]) == 2
    assert capsys.readouterr().err == (
        'otel-prov: OpenLineage output needs pyarrow and duckdb; install them with: '
        'pip install "otel-dask-prov[query]"\n')
    assert not missing.exists()


def test_convert_does_not_import_publish_until_asked() -> None:
    import subprocess

    code = ("import sys, otel_dask_prov.convert.api, otel_dask_prov.convert.command; "
            "print(any(m.startswith('otel_dask_prov.publish') for m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# ---------------------------------------------------------------------------
# Live, to a real HTTP receiver
# ---------------------------------------------------------------------------
class Receiver:
    """An OpenLineage HTTP receiver: ``POST /api/v1/lineage`` with one JSON event, 201 back."""

    def __init__(self, port: int = 0) -> None:
        events = self.events = []  # type: list[dict[str, Any]]
        self.paths: list[str] = []
        paths = self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                paths.append(self.path)
                events.append(json.loads(body))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.events

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def traced_cluster(output_dir: Path, url: str) -> Any:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                           dashboard_address=":0")
    client = Client(cluster)
    client.register_plugin(TracingSchedulerPlugin(output_dir=str(output_dir), openlineage_url=url))
    return cluster, client


def test_live_events_reach_the_receiver_and_say_what_the_file_export_says(
        tmp_path: Path, receiver: Receiver) -> None:
    import dask.bag as db

    cluster, client = traced_cluster(tmp_path / "traces", receiver.url)
    with cluster, client:
        assert db.from_sequence(range(10), npartitions=4).map(lambda x: x + 1).sum().compute() == 55
        with pytest.raises(ZeroDivisionError):
            client.submit(truediv, 1, 0).result()
    live = receiver.wait_for(4)
    assert receiver.paths == ["/api/v1/lineage"] * 4
    assert [event["eventType"] for event in live] == ["START", "COMPLETE", "START", "FAIL"]
    check_with_the_client(live)
    if os.environ.get("OPENLINEAGE_SPEC_DIR"):
        check_with_the_schema(live)
    recorded = events_of([tmp_path / "traces"], tmp_path)

    def comparable(event: dict[str, Any]) -> dict[str, Any]:
        return {**event, "eventTime": event["eventTime"][:23]}  # milliseconds (float rounding)

    assert sorted(map(ol.dumps, map(comparable, live))) == sorted(map(ol.dumps, map(comparable, recorded)))
    failed = live[3]["run"]["facets"]["errorMessage"]
    assert failed["message"] == "ZeroDivisionError: division by zero"


def test_live_events_wait_on_disk_while_the_receiver_is_down_and_arrive_once(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cluster, client = traced_cluster(tmp_path / "traces", url)
    receiver: Receiver | None = None
    try:
        with cluster, client:
            emitter = cluster.scheduler.plugins[PLUGIN]._lineage
            assert client.submit(sum, [1, 2]).result() == 3
            deadline = time.monotonic() + 10
            while emitter.stats.spilled < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert emitter.stats.spilled == 2 and emitter.stats.sent == 0
            spilled = [json.loads(line) for line in emitter.spill_path.read_text().splitlines()]
            assert [event["eventType"] for event in spilled] == ["START", "COMPLETE"]
            assert emitter.spill_path.parent == tmp_path / "traces" / "spill"
            assert emitter.spill_path.suffix == ".lineage"  # not read as traces by convert

            receiver = Receiver(port)  # the receiver comes back
            assert client.submit(max, [1, 2]).result() == 2
            events = receiver.wait_for(4)
            assert [(event["eventType"], event["job"]["name"]) for event in events] == [
                ("START", "sum"), ("COMPLETE", "sum"), ("START", "max"), ("COMPLETE", "max")]
            assert not emitter.spill_path.exists()
        assert emitter.stats.sent == 4 and emitter.pending == 0
        time.sleep(0.5)
        assert len(receiver.events) == 4  # nothing twice
    finally:
        if receiver is not None:
            receiver.stop()


def test_a_computation_still_running_when_the_scheduler_stops_is_aborted(
        tmp_path: Path, receiver: Receiver) -> None:
    cluster, client = traced_cluster(tmp_path / "traces", receiver.url)
    with cluster, client:
        future = client.submit(time.sleep, 3)
        deadline = time.monotonic() + 10
        while not receiver.events and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster.close()  # the scheduler stops first: its plugin ends what is still open
        del future
    assert [event["eventType"] for event in receiver.wait_for(2)] == ["START", "ABORT"]
    assert receiver.events[0]["job"]["name"] == "sleep"
    check_with_the_client(receiver.events)
    recorded = events_of([tmp_path / "traces"], tmp_path)  # the trace says unfinished
    assert [(event["eventType"], event["run"]["runId"]) for event in recorded] == [
        (event["eventType"], event["run"]["runId"]) for event in receiver.events]


def test_a_computation_the_client_cancels_is_aborted(tmp_path: Path, receiver: Receiver) -> None:
    cluster, client = traced_cluster(tmp_path / "traces", receiver.url)
    with cluster, client:
        assert client.submit(sum, [1, 2]).result() == 3
        future = client.submit(time.sleep, 3)
        receiver.wait_for(3)
        client.cancel(future)
        receiver.wait_for(4)
    assert [event["eventType"] for event in receiver.events] == ["START", "COMPLETE", "START", "ABORT"]
    recorded = events_of([tmp_path / "traces"], tmp_path)
    assert [(event["eventType"], event["run"]["runId"]) for event in recorded] == [
        (event["eventType"], event["run"]["runId"]) for event in receiver.events]


def test_a_real_scheduler_process_sends_events_when_the_variable_names_a_receiver(
        tmp_path: Path, receiver: Receiver) -> None:
    from tests.support.cluster import DaskProcesses

    cluster = DaskProcesses(tmp_path / "dask", n_workers=1,
                            env={"OTEL_DASK_PROV_OPENLINEAGE_URL": receiver.url + "/api/v1/lineage"})
    with cluster:
        with cluster.client() as client:
            assert client.submit(sum, [1, 2]).result() == 3
        cluster.stop()
    assert [event["eventType"] for event in receiver.wait_for(2)] == ["START", "COMPLETE"]
    assert receiver.paths == ["/api/v1/lineage"] * 2
    recorded = events_of([cluster.trace_dir], tmp_path)
    assert [event["run"]["runId"] for event in recorded] == [
        event["run"]["runId"] for event in receiver.events]


def test_events_spilled_by_a_dead_scheduler_are_sent_by_the_next_one(
        tmp_path: Path, receiver: Receiver) -> None:
    settings = resolve_settings(output_dir=str(tmp_path), openlineage_url=receiver.url)
    spill = settings.effective_spill_dir
    spill.mkdir(parents=True)
    event = ol.start_event(ol.Computation("0" * 31 + "1", "0" * 15 + "1", 0.0, ["inc"]))
    dead = spill / f"openlineage-{socket.gethostname()}-999999999-20261204T000000.lineage"
    dead.write_text(ol.dumps(event) + "\n")
    emitter = openlineage_emitter.start_emitter(settings)
    assert emitter is not None
    assert receiver.wait_for(1, timeout=10) == [event]
    emitter.shutdown()
    assert not list(spill.iterdir())


def test_replay_sends_a_spill_file_by_hand_and_keeps_what_did_not_go(
        tmp_path: Path, receiver: Receiver, capsys: pytest.CaptureFixture[str]) -> None:
    spill = tmp_path / "spill"
    spill.mkdir()
    events = [ol.start_event(ol.Computation(f"{n:032x}", f"{n:016x}", float(n), ["inc"]))
              for n in (1, 2)]
    path = spill / f"openlineage-{socket.gethostname()}-1-20261204T000000.lineage"
    path.write_text("".join(ol.dumps(event) + "\n" for event in events))
    down = f"http://127.0.0.1:{free_port()}"
    assert main(["replay", str(spill), "--openlineage-url", down]) == 1
    assert "did not take the events; sent 0, 2 remain in the file" in capsys.readouterr().err
    assert path.exists()
    assert main(["replay", str(spill), "--openlineage-url", receiver.url]) == 0
    assert capsys.readouterr().out == f"sent 2 OpenLineage events to {receiver.url}\n"
    assert receiver.events == events and not path.exists()


def test_without_the_client_one_warning_and_no_emitter(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "openlineage.client.transport.http", None)
    settings = resolve_settings(output_dir=str(tmp_path), openlineage_url="http://127.0.0.1:9")
    with caplog.at_level(logging.WARNING, logger="otel_dask_prov"):
        assert openlineage_emitter.start_emitter(settings) is None
    assert [record.getMessage() for record in caplog.records] == [openlineage_emitter.MISSING]
    assert 'pip install "otel-dask-prov[openlineage]"' in openlineage_emitter.MISSING
