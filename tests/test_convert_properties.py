"""Properties of the conversion over generated task graphs with failures.

Hypothesis draws a task graph (keys with any characters, dependencies, tasks
that fail and are retried, workers lost mid-task) and
:mod:`tests.support.synthetic_traces` writes the spans the plugins would.
Whatever the graph:

* the streaming writers read back as the ``prov`` document (no ``prov`` warning);
* the provenance says what happened: one activity per attempt, an exception per
  failure, each retry linked to the attempt before it, one value per success
  derived from exactly the values its task used, never a value used before it
  was generated, every execution associated with a worker;
* how spans are cut into lines and files does not change the bundles.
"""

from __future__ import annotations

import io
import random
import warnings
from itertools import pairwise
from pathlib import Path
from typing import Any

import prov
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prov.constants import PROV_N_MAP

from otel_dask_prov import attributes as attr
from otel_dask_prov import prov_vocabulary as vocabulary
from otel_dask_prov.convert import convert, to_document
from tests.support.prov_diff import containers, difference
from tests.support.synthetic_traces import SyntheticTask, generate

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def task_graphs(draw: st.DrawFn) -> list[SyntheticTask]:
    names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6)
    tasks: list[SyntheticTask] = []
    for position in range(draw(st.integers(1, 8))):
        keys = [task.key for task in tasks]
        dependencies = draw(st.lists(st.sampled_from(keys), unique=True, max_size=3)) if keys else []
        key = draw(st.sampled_from([f"{draw(names)}-{position}",
                                    f"('{draw(names)}-1f2e', {position})"]))
        failures = draw(st.integers(0, 2))
        tasks.append(SyntheticTask(key, tuple(dependencies), failures=failures,
                                   retries=draw(st.integers(0, 2)),
                                   lost_worker=draw(st.booleans())))
    return tasks


def write(directory: Path, tasks: list[SyntheticTask], **options: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, lines in generate(tasks, **options).items():
        (directory / name).write_text("".join(lines))
    return directory


def records_of(document: Any, kind: str) -> list[Any]:
    return [record for found in containers(document).values() for record in found
            if PROV_N_MAP[record.get_type()] == kind]


def formal(record: Any, name: str) -> Any:
    value = {str(key): value for key, value in record.formal_attributes}[name]
    return str(value) if value is not None and not hasattr(value, "isoformat") else value


def extra(record: Any, name: str) -> set[str]:
    return {str(value) for value in record.get_attribute(name)}


@SETTINGS
@given(tasks=task_graphs(), seed=st.integers(0, 2**16))
def test_streamed_documents_read_back_as_the_prov_document(
    tasks: list[SyntheticTask], seed: int, tmp_path_factory: Any
) -> None:
    directory = write(tmp_path_factory.mktemp("graph"), tasks, seed=seed, batch=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = to_document([directory])
        for format_name in ("json", "provn"):
            output = io.StringIO()
            convert([directory], output, format=format_name)
            actual = prov.read(io.StringIO(output.getvalue()), format=format_name)
            assert difference(actual, expected) == []


def expected_attempts(tasks: list[SyntheticTask]) -> dict[str, list[str]]:
    """The outcome of every attempt of every key, as the scheduler would have them."""
    outcomes: dict[str, list[str]] = {}
    failed: set[str] = set()
    for task in tasks:
        if any(dependency in failed for dependency in task.dependencies):
            # waiting -> released -> erred without running: one attempt (fixtures/traces/erred)
            outcomes[task.key] = [attr.OUTCOME_DEPENDENCY_ERROR]
            failed.add(task.key)
            continue
        attempts = [attr.OUTCOME_WORKER_LOST] if task.lost_worker else []
        for failure in range(task.failures):
            attempts.append(attr.OUTCOME_RETRIED if failure < task.retries else attr.OUTCOME_ERROR)
            if failure >= task.retries:
                break
        if attempts[-1:] != [attr.OUTCOME_ERROR]:
            attempts.append(attr.OUTCOME_SUCCESS)
        else:
            failed.add(task.key)
        outcomes[task.key] = attempts
    return outcomes


@SETTINGS
@given(tasks=task_graphs(), seed=st.integers(0, 2**16))
def test_provenance_says_what_happened(tasks: list[SyntheticTask], seed: int,
                                       tmp_path_factory: Any) -> None:
    document = to_document([write(tmp_path_factory.mktemp("graph"), tasks, seed=seed)])
    activities = [a for a in records_of(document, "activity")
                  if extra(a, "prov:type") & {vocabulary.TASK_EXECUTION, vocabulary.UNEXECUTED_ATTEMPT}]
    by_key: dict[str, list[Any]] = {}
    for activity in sorted(activities, key=lambda a: int(extra(a, vocabulary.ATTEMPT).pop())):
        by_key.setdefault(extra(activity, vocabulary.KEY).pop(), []).append(activity)
    expected = expected_attempts(tasks)
    assert {key: [extra(a, vocabulary.OUTCOME).pop() for a in found]
            for key, found in by_key.items()} == expected

    generated = {formal(g, "prov:entity"): g for g in records_of(document, "wasGeneratedBy")}
    used = records_of(document, "used")
    influences = {formal(i, "prov:influencee"): formal(i, "prov:influencer")
                  for i in records_of(document, "wasInfluencedBy")}
    associated = {formal(a, "prov:activity") for a in records_of(document, "wasAssociatedWith")}
    produced: dict[str, str] = {}
    for task in tasks:
        attempts = by_key[task.key]
        for previous, attempt in pairwise(attempts):
            assert influences[str(attempt.identifier)] == str(previous.identifier)
        for attempt in attempts:
            identifier = str(attempt.identifier)
            outputs = [entity for entity, g in generated.items()
                       if formal(g, "prov:activity") == identifier]
            outcome = extra(attempt, vocabulary.OUTCOME).pop()
            assert (vocabulary.TASK_EXECUTION in extra(attempt, "prov:type")) == (identifier in associated)
            if outcome in (attr.OUTCOME_ERROR, attr.OUTCOME_RETRIED):
                assert [entity.split(".")[0] for entity in outputs] == ["run:error"]
            elif outcome == attr.OUTCOME_SUCCESS:
                (produced[task.key],) = outputs
                inputs = {formal(u, "prov:entity") for u in used
                          if formal(u, "prov:activity") == identifier}
                assert inputs == {produced[dependency] for dependency in task.dependencies}
            else:
                assert outputs == []
    for usage in used:
        generation = generated.get(formal(usage, "prov:entity"))
        if generation is not None:
            assert formal(generation, "prov:time") <= formal(usage, "prov:time")


@SETTINGS
@given(tasks=task_graphs(), seed=st.integers(0, 2**16), cut=st.integers(1, 7),
       shuffle=st.randoms(use_true_random=False))
def test_how_spans_are_cut_into_lines_and_files_does_not_matter(
    tasks: list[SyntheticTask], seed: int, cut: int, shuffle: random.Random,
    tmp_path_factory: Any
) -> None:
    one_way = write(tmp_path_factory.mktemp("per-process"), tasks, seed=seed)
    lines = [line for file_lines in generate(tasks, seed=seed, batch=cut).values()
             for line in file_lines]
    shuffle.shuffle(lines)
    other_way = tmp_path_factory.mktemp("shuffled")
    for number in range(3):
        (other_way / f"part-{number}.jsonl").write_text("".join(lines[number::3]))

    def bundles(directory: Path) -> dict[str, set[Any]]:
        return {name: records for name, records in containers(to_document([directory])).items()
                if name != "(document)"}

    assert bundles(one_way) == bundles(other_way)
