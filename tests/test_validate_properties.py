"""Property tests: random Dask runs that are valid by construction pass; one planted violation is caught.

A run is a random task DAG executed on a few workers whose clocks disagree by up
to 0.4 s each (so up to 0.8 s between two hosts, within the default 1 s
tolerance). It is written as PROV-JSON the way the converter does, with or
without explicit usage and generation times, flat or in a bundle, with the
``dask`` namespace bound to a random prefix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otel_dask_prov import prov_vocabulary as vocabulary
from otel_dask_prov.validate import Violation, validate

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
MAX_CLOCK_OFFSET = 0.4


def xsd(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


@dataclass
class Task:
    deps: list[int]
    worker: int
    start: float
    """As the worker's clock recorded it, like ``end``."""
    end: float


@dataclass
class Run:
    tasks: list[Task]
    workers: int
    explicit_times: bool
    in_bundle: bool
    prefix: str
    typed_names: bool

    def qname(self, local: str) -> Any:
        name = f"{self.prefix}:{local}"
        return {"$": name, "type": "prov:QUALIFIED_NAME"} if self.typed_names else name

    def document(self) -> dict[str, Any]:
        records: dict[str, dict[str, Any]] = {
            kind: {}
            for kind in ("agent", "activity", "entity", "wasGeneratedBy", "used", "wasDerivedFrom", "wasAssociatedWith")
        }
        software = {"$": "prov:SoftwareAgent", "type": "prov:QUALIFIED_NAME"}
        for worker in range(self.workers):
            records["agent"][f"ex:worker-{worker}"] = {"prov:type": [software, self.qname("Worker")]}
        for i, task in enumerate(self.tasks):
            records["activity"][f"ex:exec-{i}"] = {
                "prov:startTime": xsd(task.start),
                "prov:endTime": xsd(task.end),
                "prov:type": self.qname("TaskExecution"),
                f"{self.prefix}:key": f"('task', {i})",
            }
            records["entity"][f"ex:out-{i}"] = {"prov:type": self.qname("TaskOutput")}
            generation = {"prov:entity": f"ex:out-{i}", "prov:activity": f"ex:exec-{i}"}
            if self.explicit_times:
                generation["prov:time"] = xsd(task.end)
            records["wasGeneratedBy"][f"ex:gen-{i}"] = generation
            records["wasAssociatedWith"][f"ex:assoc-{i}"] = {
                "prov:activity": f"ex:exec-{i}",
                "prov:agent": f"ex:worker-{task.worker}",
            }
            for dep in task.deps:
                usage = {"prov:activity": f"ex:exec-{i}", "prov:entity": f"ex:out-{dep}"}
                if self.explicit_times:
                    usage["prov:time"] = xsd(task.start)
                records["used"][f"ex:use-{i}-{dep}"] = usage
                records["wasDerivedFrom"][f"ex:der-{i}-{dep}"] = {
                    "prov:generatedEntity": f"ex:out-{i}",
                    "prov:usedEntity": f"ex:out-{dep}",
                    "prov:activity": f"ex:exec-{i}",
                }
        prefixes = {self.prefix: vocabulary.DASK_NAMESPACE_URI, "ex": "urn:example:"}
        if self.in_bundle:
            return {"prefix": prefixes, "bundle": {"ex:run": records}}
        return {"prefix": prefixes, **records}

    def records(self, document: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return document["bundle"]["ex:run"] if self.in_bundle else document


@st.composite
def runs(draw: st.DrawFn) -> Run:
    workers = draw(st.integers(1, 3))
    offsets = [draw(st.floats(-MAX_CLOCK_OFFSET, MAX_CLOCK_OFFSET)) for _ in range(workers)]
    true_ends: list[float] = []
    tasks: list[Task] = []
    for i in range(draw(st.integers(1, 8))):
        deps = sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else []
        worker = draw(st.integers(0, workers - 1))
        start = max((true_ends[d] for d in deps), default=0.0) + draw(st.floats(0.001, 2.0))
        end = start + draw(st.floats(0.01, 0.5))
        true_ends.append(end)
        tasks.append(Task(deps, worker, start + offsets[worker] + 10, end + offsets[worker] + 10))
    return Run(
        tasks,
        workers,
        explicit_times=draw(st.booleans()),
        in_bundle=draw(st.booleans()),
        prefix=draw(st.sampled_from(["dask", "d", "vocab"])),
        typed_names=draw(st.booleans()),
    )


@pytest.fixture(scope="module")
def document_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties") / "run.json"


def violations(path: Path, document: dict[str, Any]) -> list[Violation]:
    path.write_text(json.dumps(document))
    return list(validate(str(path)))


PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(run=runs())
def test_runs_that_are_valid_by_construction_pass(document_path: Path, run: Run) -> None:
    assert [v.line("run.json") for v in violations(document_path, run.document())] == []


# -- planted violations: each returns {record id: what its message says} -------------
class PlantedRun(Run):
    """A run with edits the clean document builder does not make."""

    def __init__(self, run: Run) -> None:
        super().__init__(**vars(run))
        self.extra: dict[str, dict[str, Any]] = {"wasGeneratedBy": {}}
        self.removed: list[tuple[str, str]] = []
        self.patches: list[tuple[str, str, str, Any]] = []

    def document(self) -> dict[str, Any]:
        document = super().document()
        records = self.records(document)
        for kind, extra in self.extra.items():
            records[kind].update(extra)
        for kind, identifier in self.removed:
            del records[kind][identifier]
        for kind, identifier, attribute, value in self.patches:
            records[kind][identifier][attribute] = value
        return document


def ends_before_start(run: PlantedRun, draw: st.DrawFn) -> dict[str, str]:
    i = draw(st.integers(0, len(run.tasks) - 1))
    task = run.tasks[i]
    # ends up to 0.1 s before it starts: inputs still arrive in time, within the skew
    task.end = task.start - draw(st.floats(0.001, 0.1))
    return {f"ex:exec-{i}": "the activity ends before it starts"}


def used_before_generated(run: PlantedRun, draw: st.DrawFn) -> dict[str, str]:
    producers = sorted({dep for task in run.tasks for dep in task.deps})
    if not producers:
        return schema_violation(run, draw)
    p = draw(st.sampled_from(producers))
    consumers = [i for i, task in enumerate(run.tasks) if p in task.deps]
    delay = max(run.tasks[c].end for c in consumers) - run.tasks[p].start + 1.5
    run.tasks[p].start += delay
    run.tasks[p].end += delay
    return {f"ex:use-{c}-{p}": f"before ex:out-{p} was generated" for c in consumers}


def generated_twice(run: PlantedRun, draw: st.DrawFn) -> dict[str, str]:
    if len(run.tasks) < 2:
        return schema_violation(run, draw)
    p, q = draw(st.permutations(range(len(run.tasks))))[:2]
    run.extra["wasGeneratedBy"]["ex:regenerated"] = {"prov:entity": f"ex:out-{p}", "prov:activity": f"ex:exec-{q}"}
    return {"ex:regenerated": f"ex:out-{p} was already generated by ex:exec-{p}"}


def unassociated(run: PlantedRun, draw: st.DrawFn) -> dict[str, str]:
    i = draw(st.integers(0, len(run.tasks) - 1))
    run.removed.append(("wasAssociatedWith", f"ex:assoc-{i}"))
    return {f"ex:exec-{i}": "is not associated (wasAssociatedWith) with any prov:SoftwareAgent"}


def schema_violation(run: PlantedRun, draw: st.DrawFn) -> dict[str, str]:
    i = draw(st.integers(0, len(run.tasks) - 1))
    run.patches.append(("activity", f"ex:exec-{i}", "ex:size", {"bytes": 28}))
    return {f"ex:exec-{i}": "does not match the PROV-JSON schema for activity: ex:size"}


def bad_time(run: PlantedRun, draw: st.DrawFn) -> dict[str, str]:
    i = draw(st.integers(0, len(run.tasks) - 1))
    run.patches.append(("activity", f"ex:exec-{i}", "prov:startTime", "2024-05-01 noon"))
    return {f"ex:exec-{i}": "prov:startTime '2024-05-01 noon' is not an xsd:dateTime"}


PLANTS = {
    "ends-before-start": ends_before_start,
    "used-before-generated": used_before_generated,
    "generated-twice": generated_twice,
    "unassociated": unassociated,
    "schema-violation": schema_violation,
    "bad-time": bad_time,
}


@PROPERTY_SETTINGS
@given(run=runs(), plant=st.sampled_from(sorted(PLANTS)), data=st.data())
def test_a_single_planted_violation_is_caught_at_its_record(
    document_path: Path, run: Run, plant: str, data: st.DataObject
) -> None:
    planted = PlantedRun(run)
    expected = PLANTS[plant](planted, data.draw)
    found = violations(document_path, planted.document())
    assert {v.record: v.message for v in found}.keys() == expected.keys(), [v.line("run.json") for v in found]
    for violation in found:
        assert expected[violation.record] in violation.message
        assert violation.bundle == ("ex:run" if run.in_bundle else None)


@PROPERTY_SETTINGS
@given(run=runs(), data=st.data())
def test_a_planted_derivation_cycle_is_caught(document_path: Path, run: Run, data: st.DataObject) -> None:
    edges = [(i, dep) for i, task in enumerate(run.tasks) for dep in task.deps]
    generated, used = data.draw(st.sampled_from(edges)) if edges else (0, 0)
    document = run.document()
    # the reverse of an existing derivation, or an entity derived from itself
    run.records(document)["wasDerivedFrom"]["ex:back"] = {
        "prov:generatedEntity": f"ex:out-{used}",
        "prov:usedEntity": f"ex:out-{generated}",
    }
    found = violations(document_path, document)
    assert found, "the cycle was not reported"
    for violation in found:
        assert violation.message.startswith("wasDerivedFrom cycle: ")
        assert f"ex:out-{generated} -> " in violation.message or f"-> ex:out-{generated} " in violation.message
        assert f"ex:out-{used}" in violation.message
