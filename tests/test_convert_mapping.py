"""What the PROV documents of real runs say: the mapping of docs/prov-mapping.md, checked.

Each scenario in ``tests/fixtures/traces/`` was recorded from real Dask
processes (``scripts/record-fixtures``). The tests read the converted document
with the ``prov`` API, the way a provenance researcher would query it.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest
from prov.constants import PROV_N_MAP
from prov.identifier import QualifiedName

from otel_dask_prov import attributes as attr
from otel_dask_prov import prov_vocabulary as vocabulary
from otel_dask_prov.convert import convert, to_document
from otel_dask_prov.convert.identifiers import safe_name
from otel_dask_prov.version import __version__
from tests.support.prov_diff import containers
from tests.support.traces import read_spans

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
SCENARIOS = ("plain", "erred", "retry", "worker-killed", "fused")
NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


# --------------------------------------------------------------------------
# Reading a document like a researcher
# --------------------------------------------------------------------------
def records(document: Any, kind: str) -> Iterator[Any]:
    """Every record of PROV-N *kind* (``"activity"``, ``"used"``, ...) in any bundle."""
    for container in [document, *document.bundles]:
        for record in container.get_records():
            if PROV_N_MAP[record.get_type()] == kind:
                yield record


def text(value: Any) -> Any:
    return str(value) if isinstance(value, QualifiedName) else value


def values(record: Any, name: str) -> set[Any]:
    return {text(value) for value in record.get_attribute(name)}


def one(record: Any, name: str) -> Any:
    found = values(record, name)
    assert len(found) == 1, f"{record.identifier} has {name} = {found}"
    return found.pop()


def formal(record: Any, name: str) -> Any:
    return text({str(key): value for key, value in record.formal_attributes}[name])


def of_type(document: Any, kind: str, prov_type: str) -> list[Any]:
    return [record for record in records(document, kind) if prov_type in values(record, "prov:type")]


def attempts(document: Any) -> list[Any]:
    return (of_type(document, "activity", vocabulary.TASK_EXECUTION)
            + of_type(document, "activity", vocabulary.UNEXECUTED_ATTEMPT))


def by_key(document: Any, key_prefix: str) -> list[Any]:
    """Task activities of keys starting with *key_prefix*, in attempt order."""
    found = [activity for activity in attempts(document)
             if one(activity, vocabulary.KEY).startswith(key_prefix)]
    return sorted(found, key=lambda activity: (one(activity, vocabulary.KEY),
                                               one(activity, vocabulary.ATTEMPT)))


def relations(document: Any, kind: str, **formals: str) -> list[Any]:
    return [record for record in records(document, kind)
            if all(formal(record, f"prov:{name}") == value for name, value in formals.items())]


@pytest.fixture(scope="module", params=SCENARIOS)
def scenario(request: pytest.FixtureRequest) -> tuple[str, Any]:
    return request.param, to_document([FIXTURES / request.param])


# --------------------------------------------------------------------------
# Every scenario
# --------------------------------------------------------------------------
def test_every_task_attempt_span_becomes_one_activity(scenario: tuple[str, Any]) -> None:
    name, document = scenario
    spans = [span for span in read_spans([FIXTURES / name])
             if span.kind == attr.RECORD_TASK_ATTEMPT]
    activities = attempts(document)
    assert sorted(one(activity, vocabulary.SPAN_ID) for activity in activities) == sorted(
        span.span_id for span in spans)
    for activity, span in zip(sorted(activities, key=lambda a: one(a, vocabulary.SPAN_ID)),
                              sorted(spans, key=lambda s: s.span_id), strict=True):
        assert one(activity, vocabulary.KEY) == span.key
        assert one(activity, vocabulary.OUTCOME) == span.attributes[attr.TASK_OUTCOME]


def test_values_are_generated_once_and_derived_from_what_their_task_used(
    scenario: tuple[str, Any]
) -> None:
    _, document = scenario
    generations = Counter(formal(g, "prov:entity") for g in records(document, "wasGeneratedBy"))
    assert max(generations.values()) == 1
    for activity in of_type(document, "activity", vocabulary.TASK_EXECUTION):
        task = str(activity.identifier)
        generated = [formal(g, "prov:entity") for g in relations(
            document, "wasGeneratedBy", activity=task)]
        values_generated = [entity for entity in generated if entity.startswith("run:value.")]
        assert len(values_generated) == (1 if one(activity, vocabulary.OUTCOME) == "success" else 0)
        used = {formal(u, "prov:entity") for u in relations(document, "used", activity=task)}
        for value in values_generated:
            derived = {formal(d, "prov:usedEntity") for d in relations(
                document, "wasDerivedFrom", generatedEntity=value, activity=task)}
            assert derived == used


def test_every_execution_has_its_worker_acting_for_the_scheduler(
    scenario: tuple[str, Any]
) -> None:
    _, document = scenario
    workers = {str(agent.identifier) for agent in of_type(document, "agent", vocabulary.WORKER)}
    schedulers = {str(agent.identifier) for agent in of_type(document, "agent", vocabulary.SCHEDULER)}
    delegations = {(formal(d, "prov:delegate"), formal(d, "prov:responsible"))
                   for d in records(document, "actedOnBehalfOf")}
    for activity in of_type(document, "activity", vocabulary.TASK_EXECUTION):
        agents = {formal(a, "prov:agent") for a in relations(
            document, "wasAssociatedWith", activity=str(activity.identifier))}
        assert len(agents) == 1 and agents <= workers
        (worker,) = agents
        assert any((worker, scheduler) in delegations for scheduler in schedulers)
    for activity in of_type(document, "activity", vocabulary.UNEXECUTED_ATTEMPT):
        assert not relations(document, "wasAssociatedWith", activity=str(activity.identifier))


def test_computations_start_their_tasks_for_the_client_with_the_graph_as_plan(
    scenario: tuple[str, Any]
) -> None:
    _, document = scenario
    computations = {str(c.identifier) for c in of_type(document, "activity", vocabulary.COMPUTATION)}
    assert computations
    for activity in attempts(document):
        (start,) = relations(document, "wasStartedBy", activity=str(activity.identifier))
        assert formal(start, "prov:starter") in computations
    for computation in computations:
        (client,) = [a for a in relations(document, "wasAssociatedWith", activity=computation)
                     if formal(a, "prov:agent").startswith("run:client.")]
        graph = formal(client, "prov:plan")
        plans = {formal(m, "prov:entity") for m in relations(document, "hadMember",
                                                              collection=graph)}
        assert plans and all(plan.startswith("run:plan.") for plan in plans)


def test_times_are_utc_and_each_input_is_generated_before_it_is_used(
    scenario: tuple[str, Any]
) -> None:
    _, document = scenario
    for bundle in document.bundles:
        generated = {formal(g, "prov:entity"): formal(g, "prov:time")
                     for g in bundle.get_records() if PROV_N_MAP[g.get_type()] == "wasGeneratedBy"}
        for record in bundle.get_records():
            kind = PROV_N_MAP[record.get_type()]
            if kind == "activity":
                start, end = formal(record, "prov:startTime"), formal(record, "prov:endTime")
                assert start.tzinfo == timezone.utc and start <= end
            if kind == "used" and formal(record, "prov:entity") in generated:
                assert generated[formal(record, "prov:entity")] <= formal(record, "prov:time")


def test_ids_are_xml_names_and_keep_the_original_key(scenario: tuple[str, Any]) -> None:
    _, document = scenario
    for found in containers(document).values():
        for record in found:
            if record.identifier is not None:
                prefix, _, local = str(record.identifier).partition(":")
                assert prefix == "run" and NCNAME.fullmatch(local), record.identifier
    for activity in attempts(document):
        assert safe_name(one(activity, vocabulary.KEY)) in str(activity.identifier)


def test_the_conversion_itself_is_recorded(scenario: tuple[str, Any]) -> None:
    name, document = scenario
    (tool,) = of_type(document, "agent", vocabulary.TOOL)
    assert one(tool, vocabulary.TOOL_VERSION) == __version__
    (conversion,) = of_type(document, "activity", vocabulary.CONVERSION)
    files = of_type(document, "entity", vocabulary.TRACE_FILE)
    on_disk = sorted((FIXTURES / name).glob("*.jsonl"))
    assert sorted(one(f, vocabulary.SHA256) for f in files) == sorted(
        hashlib.sha256(path.read_bytes()).hexdigest() for path in on_disk)
    assert {formal(u, "prov:entity") for u in relations(
        document, "used", activity=str(conversion.identifier))} == {
        str(f.identifier) for f in files}
    for bundle in document.bundles:
        assert relations(document, "wasGeneratedBy", entity=str(bundle.identifier),
                         activity=str(conversion.identifier))
        assert relations(document, "wasDerivedFrom", generatedEntity=str(bundle.identifier))


# --------------------------------------------------------------------------
# One scenario each
# --------------------------------------------------------------------------
def test_plain_sum_is_derived_from_every_inc() -> None:
    document = to_document([FIXTURES / "plain"])
    (total,) = by_key(document, "total-")
    incs = by_key(document, "inc-")
    assert len(incs) == 4
    (value,) = [formal(g, "prov:entity") for g in relations(
        document, "wasGeneratedBy", activity=str(total.identifier))]
    derived = {formal(d, "prov:usedEntity") for d in relations(
        document, "wasDerivedFrom", generatedEntity=value)}
    assert derived == {formal(g, "prov:entity") for inc in incs for g in relations(
        document, "wasGeneratedBy", activity=str(inc.identifier))}


def test_erred_task_generates_its_exception_and_its_dependent_never_runs() -> None:
    document = to_document([FIXTURES / "erred"])
    (division,) = by_key(document, "div-")
    assert one(division, vocabulary.OUTCOME) == attr.OUTCOME_ERROR
    (error,) = relations(document, "wasGeneratedBy", activity=str(division.identifier))
    (exception,) = [e for e in of_type(document, "entity", vocabulary.EXCEPTION)
                    if str(e.identifier) == formal(error, "prov:entity")]
    assert one(exception, vocabulary.EXCEPTION_TYPE) == "ZeroDivisionError"
    dependent = by_key(document, "inc-")[-1]
    assert values(dependent, "prov:type") == {vocabulary.UNEXECUTED_ATTEMPT}
    assert one(dependent, vocabulary.OUTCOME) == attr.OUTCOME_DEPENDENCY_ERROR
    assert one(dependent, vocabulary.EXCEPTION_BLAME) == one(division, vocabulary.KEY)


def test_retry_is_influenced_by_the_attempt_that_failed() -> None:
    document = to_document([FIXTURES / "retry"])
    first, second = by_key(document, "fail_once-")
    assert one(first, vocabulary.OUTCOME) == attr.OUTCOME_RETRIED
    assert one(second, vocabulary.OUTCOME) == attr.OUTCOME_SUCCESS
    (raised,) = relations(document, "wasGeneratedBy", activity=str(first.identifier))
    assert formal(raised, "prov:entity").startswith("run:error.")
    (influence,) = relations(document, "wasInfluencedBy", influencee=str(second.identifier))
    assert formal(influence, "prov:influencer") == str(first.identifier)
    assert values(influence, "prov:type") == {vocabulary.RETRY}
    assert one(influence, vocabulary.RERUN_REASON) == "retry"
    (inc,) = by_key(document, "inc-")
    (produced,) = relations(document, "wasGeneratedBy", activity=str(second.identifier))
    assert {formal(u, "prov:entity") for u in relations(
        document, "used", activity=str(inc.identifier))} == {formal(produced, "prov:entity")}


def test_killed_worker_loses_its_attempt_and_another_worker_reruns_it() -> None:
    document = to_document([FIXTURES / "worker-killed"])
    lost, rerun = by_key(document, "slow-")
    assert one(lost, vocabulary.OUTCOME) == attr.OUTCOME_WORKER_LOST
    assert one(rerun, vocabulary.OUTCOME) == attr.OUTCOME_SUCCESS
    (influence,) = relations(document, "wasInfluencedBy", influencee=str(rerun.identifier))
    assert formal(influence, "prov:influencer") == str(lost.identifier)
    assert one(influence, vocabulary.RERUN_REASON) == "worker-lost"

    def worker_name(activity: Any) -> str:
        (association,) = relations(document, "wasAssociatedWith",
                                   activity=str(activity.identifier))
        (name,) = {one(agent, vocabulary.WORKER_NAME) for agent in records(document, "agent")
                   if str(agent.identifier) == formal(association, "prov:agent")}
        return str(name)

    assert worker_name(lost) == "worker-0"
    assert worker_name(rerun) == "worker-1"


def test_fused_tasks_keep_their_tuple_keys() -> None:
    document = to_document([FIXTURES / "fused"])
    chunks = [a for a in attempts(document) if one(a, vocabulary.KEY).startswith("('sum-")]
    assert len(chunks) == 4
    for activity in chunks:
        key = one(activity, vocabulary.KEY)
        assert re.fullmatch(r"\('sum-[0-9a-f]+', \d, \d\)", key)
        assert str(activity.identifier).startswith(f"run:task.{safe_name(key)}.")


# --------------------------------------------------------------------------
# Determinism and identifiers
# --------------------------------------------------------------------------
@pytest.mark.parametrize("format_name", ["json", "provn"])
def test_same_input_gives_byte_identical_output(format_name: str) -> None:
    outputs = set()
    for _ in range(2):
        output = io.StringIO()
        convert([FIXTURES / "retry"], output, format=format_name)
        outputs.add(output.getvalue())
    assert len(outputs) == 1


def test_file_order_does_not_change_the_bundles() -> None:
    files = sorted((FIXTURES / "worker-killed").glob("*.jsonl"))
    forward = containers(to_document(files))
    backward = containers(to_document(files[::-1]))
    assert {k: v for k, v in forward.items() if k != "(document)"} == {
        k: v for k, v in backward.items() if k != "(document)"}


@pytest.mark.parametrize(("key", "expected"), [
    ("inc-1f2e", "inc-1f2e"),
    ("file.csv", "file.csv"),
    ("('x-1f2e', 0, 1)", "x-1f2e-0-1-db10c1ba"),
    ("load_data-1f2e", "load-data-1f2e-605e7bfa"),
    ("trailing.", None),
    ("a b", None),
    ("", None),
])
def test_safe_names(key: str, expected: str | None) -> None:
    name = safe_name(key)
    assert re.fullmatch(r"[A-Za-z0-9_.\-]+", name) and not name.endswith(".")
    assert not re.search(r"_[0-9A-Fa-f]{2}", name)  # ProvToolbox reads that as an escape
    if expected is not None:
        assert name == expected
    assert name != safe_name(key + "x")
